// Engine check page: shows the WebGPU adapter, loads a GGUF (URL or file), runs a greedy
// generation and tabulates the last prompt token's attention. `?model=<url>&run=1` does it all on open.

import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { AdapterSummary, GenerateResult, LoadedModel, LoadProgress } from '../engine';
import { AttentionTable } from './AttentionTable';
import {
  loadFromOrigin,
  originLabel,
  pageGpuContext,
  parseTokenIds,
  type ModelOrigin,
} from './engineSession';
import { decodeTokens, showControls } from './tokenText';
import { errorFacts, formatBytes } from '../util/format';

const DEFAULT_PROMPT = '1,50,77,100,3';
const DEFAULT_NEW_TOKENS = 8;
const MAX_NEW_TOKENS = 256;

type GpuState =
  | { readonly status: 'pending' }
  | { readonly status: 'ready'; readonly adapter: AdapterSummary }
  | { readonly status: 'unavailable'; readonly message: string };

interface Loading {
  readonly label: string;
  readonly progress?: LoadProgress;
}

interface Loaded {
  readonly model: LoadedModel;
  readonly label: string;
}

interface RunOutcome {
  readonly result: GenerateResult;
  readonly milliseconds: number;
}

/** Limits worth seeing when judging whether a model fits; sizes in bytes. */
const SHOWN_LIMITS: ReadonlyArray<readonly [key: string, isBytes: boolean]> = [
  ['maxBufferSize', true],
  ['maxStorageBufferBindingSize', true],
  ['maxComputeWorkgroupStorageSize', true],
  ['maxComputeInvocationsPerWorkgroup', false],
  ['maxComputeWorkgroupsPerDimension', false],
  ['maxStorageBuffersPerShaderStage', false],
];

export function EnginePage() {
  const params = useMemo(() => new URLSearchParams(location.search), []);
  const [gpu, setGpu] = useState<GpuState>({ status: 'pending' });
  const [modelUrl, setModelUrl] = useState(params.get('model') ?? '');
  const [loading, setLoading] = useState<Loading | null>(null);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [promptText, setPromptText] = useState(params.get('tokens') ?? DEFAULT_PROMPT);
  const [newTokens, setNewTokens] = useState(Number(params.get('new') ?? DEFAULT_NEW_TOKENS));
  const [running, setRunning] = useState(false);
  const [outcome, setOutcome] = useState<RunOutcome | null>(null);
  const modelRef = useRef<LoadedModel | null>(null);
  const autoStarted = useRef(false);

  useEffect(() => {
    let live = true;
    pageGpuContext().then(
      (ctx) => {
        if (!live) return;
        setGpu({ status: 'ready', adapter: ctx.adapter });
        void ctx.lost.then((info) => {
          if (info.intended) return;
          modelRef.current = null;
          setLoaded(null);
          setOutcome(null);
          setGpu({ status: 'unavailable', message: `The GPU device was lost (${info.message || 'no reason given'}); reload the page.` });
        });
      },
      (e: unknown) => live && setGpu({ status: 'unavailable', message: errorFacts(e).message }),
    );
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => () => modelRef.current?.dispose(), []);

  async function load(origin: ModelOrigin): Promise<LoadedModel | null> {
    const label = originLabel(origin);
    modelRef.current?.dispose();
    modelRef.current = null;
    setLoaded(null);
    setOutcome(null);
    setError(null);
    setLoading({ label });
    try {
      const model = await loadFromOrigin(origin, (progress) => setLoading({ label, progress }));
      modelRef.current = model;
      setLoaded({ model, label });
      return model;
    } catch (e) {
      setError(errorFacts(e).message);
      return null;
    } finally {
      setLoading(null);
    }
  }

  async function run(model: LoadedModel, prompt: string, maxNewTokens: number) {
    const parsed = parseTokenIds(prompt, model.config.vocabSize);
    if ('error' in parsed) {
      setError(parsed.error);
      return;
    }
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS) {
      setError(`New tokens must be a whole number from 1 to ${MAX_NEW_TOKENS}.`);
      return;
    }
    setError(null);
    setRunning(true);
    try {
      const started = performance.now();
      const result = await model.generate(parsed.ids, { maxNewTokens, attention: { rows: 'last-and-generated' } });
      setOutcome({ result, milliseconds: performance.now() - started });
    } catch (e) {
      setError(errorFacts(e).message);
    } finally {
      setRunning(false);
    }
  }

  // `?model=<url>` loads on open; `&run=1` also runs the prompt once loaded.
  useEffect(() => {
    const url = params.get('model');
    if (gpu.status !== 'ready' || !url || autoStarted.current) return;
    autoStarted.current = true;
    void load({ kind: 'url', url }).then((model) => {
      if (model && params.get('run') === '1') return run(model, promptText, newTokens);
    });
    // Runs once, when the GPU is ready; later edits to the fields must not re-trigger it.
  }, [gpu.status]);

  const busy = loading !== null || running;
  const canLoad = gpu.status === 'ready' && !busy;

  function onLoadUrl(event: FormEvent) {
    event.preventDefault();
    const url = modelUrl.trim();
    if (!url) {
      setError('Enter the address of a .gguf file, or open one from disk.');
      return;
    }
    void load({ kind: 'url', url });
  }

  function onRun(event: FormEvent) {
    event.preventDefault();
    if (loaded) void run(loaded.model, promptText, newTokens);
  }

  return (
    <main className="page" aria-busy={busy}>
      <header>
        <h1>Attention Slip Lab — engine check</h1>
        <p className="lede">
          Loads a GGUF model onto WebGPU with our own kernels, generates a few tokens greedily and shows where the last
          prompt token attends.
        </p>
      </header>

      <AdapterPanel gpu={gpu} />

      <section className="panel" aria-labelledby="model-heading">
        <h2 id="model-heading">Model</h2>
        <form className="load-form" onSubmit={onLoadUrl}>
          <label htmlFor="model-url">GGUF URL</label>
          <div className="row">
            <input
              id="model-url"
              type="text"
              inputMode="url"
              spellCheck={false}
              placeholder="https://…/model.gguf"
              value={modelUrl}
              onChange={(e) => setModelUrl(e.target.value)}
            />
            <button type="submit" disabled={!canLoad}>
              Load
            </button>
            <label className={`file-button${canLoad ? '' : ' disabled'}`}>
              Open file…
              <input
                type="file"
                accept=".gguf"
                disabled={!canLoad}
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  e.target.value = '';
                  if (file) void load({ kind: 'file', file });
                }}
              />
            </label>
          </div>
        </form>
        {loading && <LoadingBar loading={loading} />}
        {loaded && <ModelSummary loaded={loaded} />}
      </section>

      {error && (
        <div className="alert" role="alert">
          {error}
        </div>
      )}

      {loaded && (
        <section className="panel" aria-labelledby="run-heading">
          <h2 id="run-heading">Run</h2>
          <form className="run-form" onSubmit={onRun}>
            <div className="row">
              <div className="field">
                <label htmlFor="prompt-ids">Prompt token ids</label>
                <input
                  id="prompt-ids"
                  type="text"
                  spellCheck={false}
                  aria-describedby="prompt-hint"
                  value={promptText}
                  onChange={(e) => setPromptText(e.target.value)}
                />
              </div>
              <div className="field narrow">
                <label htmlFor="new-tokens">New tokens</label>
                <input
                  id="new-tokens"
                  type="number"
                  min={1}
                  max={MAX_NEW_TOKENS}
                  value={Number.isNaN(newTokens) ? '' : newTokens}
                  onChange={(e) => setNewTokens(e.target.valueAsNumber)}
                />
              </div>
              <button type="submit" disabled={busy}>
                {running ? 'Running…' : 'Run'}
              </button>
            </div>
            <small id="prompt-hint">
              Comma-separated ids from 0 to {loaded.model.config.vocabSize - 1}; greedy decoding.
            </small>
          </form>
          {outcome && <RunResult outcome={outcome} model={loaded.model} />}
        </section>
      )}
    </main>
  );
}

function AdapterPanel({ gpu }: { gpu: GpuState }) {
  if (gpu.status === 'pending')
    return (
      <section className="panel" aria-labelledby="adapter-heading">
        <h2 id="adapter-heading">WebGPU adapter</h2>
        <p role="status">Asking the browser for a GPU adapter…</p>
      </section>
    );
  if (gpu.status === 'unavailable')
    return (
      <section className="panel unavailable" aria-labelledby="adapter-heading">
        <h2 id="adapter-heading">WebGPU adapter: unavailable</h2>
        <p data-testid="no-webgpu">{gpu.message}</p>
      </section>
    );
  const { adapter } = gpu;
  return (
    <section className="panel" aria-labelledby="adapter-heading">
      <h2 id="adapter-heading">WebGPU adapter</h2>
      <dl className="facts" data-testid="adapter">
        <div className="fact">
          <dt>Adapter</dt>
          <dd>{adapter.description}</dd>
        </div>
        {SHOWN_LIMITS.filter(([key]) => key in adapter.limits).map(([key, isBytes]) => (
          <div key={key} className="fact">
            <dt>{key}</dt>
            <dd>{isBytes ? formatBytes(adapter.limits[key]) : adapter.limits[key].toLocaleString('en')}</dd>
          </div>
        ))}
      </dl>
      <h3 className="subheading">Features enabled on the device</h3>
      {adapter.features.length > 0 ? (
        <ul className="features" aria-label="Device features">
          {adapter.features.map((feature) => (
            <li key={feature}>{feature}</li>
          ))}
        </ul>
      ) : (
        <p>None beyond core WebGPU.</p>
      )}
    </section>
  );
}

function LoadingBar({ loading }: { loading: Loading }) {
  const { progress } = loading;
  const total = progress?.bytesTotal ?? 0;
  return (
    <div className="progress" role="status">
      <label htmlFor="load-progress">Loading {loading.label}</label>
      {total > 0 ? <progress id="load-progress" max={total} value={progress?.bytesDone ?? 0} /> : <progress id="load-progress" />}
      <span className="bytes">
        {progress ? `${formatBytes(progress.bytesDone)} of ${formatBytes(total)}` : 'reading the header…'}
      </span>
    </div>
  );
}

function ModelSummary({ loaded }: { loaded: Loaded }) {
  const { config, weightBytes } = loaded.model;
  const facts: Array<[string, string]> = [
    ['Source', loaded.label],
    ['Architecture', config.arch],
    ['Layers', String(config.nLayer)],
    ['Heads', `${config.nHead} query, ${config.nHeadKv} key/value`],
    ['Dimensions', `embedding ${config.nEmbd}, head ${config.headDim}, feed-forward ${config.nFf}`],
    ['Vocabulary', config.vocabSize.toLocaleString('en')],
    ['Context', config.contextLength.toLocaleString('en')],
    ['GPU memory', `${(weightBytes / 1e6).toFixed(2)} MB of weights`],
  ];
  return (
    <dl className="facts" data-testid="model-config">
      {facts.map(([name, value]) => (
        <div key={name} className="fact">
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function RunResult({ outcome, model }: { outcome: RunOutcome; model: LoadedModel }) {
  const { result, milliseconds } = outcome;
  const { vocab, config } = model;
  const text = (ids: readonly number[]) => (vocab ? showControls(decodeTokens(vocab, ids)) : '(no vocabulary in this file)');
  return (
    <div className="result">
      <dl className="facts">
        <div className="fact">
          <dt>Prompt</dt>
          <dd>
            <code>{result.prompt.join(', ')}</code> <q className="text">{text(result.prompt)}</q>
          </dd>
        </div>
        <div className="fact">
          <dt>Generated ids</dt>
          <dd>
            <code data-testid="generated-ids">{result.generated.join(', ')}</code>
          </dd>
        </div>
        <div className="fact">
          <dt>Generated text</dt>
          <dd>
            <q className="text" data-testid="generated-text">
              {text(result.generated)}
            </q>
          </dd>
        </div>
        <div className="fact">
          <dt>Time</dt>
          <dd>
            {milliseconds.toFixed(0)} ms for {result.generated.length} tokens
          </dd>
        </div>
      </dl>
      {result.attention ? (
        <AttentionTable
          rows={result.attention.rows}
          nLayer={config.nLayer}
          nHead={config.nHead}
          prompt={result.prompt}
          vocab={vocab}
        />
      ) : (
        <p>The engine returned no attention.</p>
      )}
    </div>
  );
}
