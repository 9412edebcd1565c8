// The scenario: the request (a starter one or typed), the attack and its settings, the defenses
// (sharpening temperature slider with a layer range, SmoothLLM), and Run / Cancel (the progress
// is in the top bar, RunStatus.tsx). The skip link lands here (SCENARIO_PANEL_ID).

import { useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { GCG_APP_DEFAULTS, GCG_DEFAULTS } from '../attacks/gcg';
import { requestText, targetText } from '../attacks/scenarios';
import { useShallow } from 'zustand/react/shallow';
import { attackKinds, type AttackKind } from '../lab/kinds';
import { initialScenario, setState, useApp, type ScenarioSlice } from '../store';
import { ErrorMessage } from './ErrorMessage';
import { FileButton } from './FileButton';
import { cancelRun, loadRequestsFile, loadScenarioFiles, runScenario, scheduleDefenseRerun, type ScenarioFiles } from './actions';

const scenarioKeys = Object.keys(initialScenario) as (keyof ScenarioSlice)[];

function pickKeys<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, from[k]])) as Pick<T, K>;
}

/** The skip link's target: the first Tab press jumps past the header and the model panel to here. */
export const SCENARIO_PANEL_ID = 'scenario-panel';

export function ScenarioPanel() {
  const { t } = useTranslation();
  // Everything but the view and the trace: playback and chart clicks do not re-render the form.
  const s = useApp(
    useShallow((a) => ({
      ...pickKeys(a, scenarioKeys),
      status: a.status,
      summary: a.summary,
      running: a.running,
      rerunning: a.rerunning,
      runError: a.runError,
      replayModel: a.traceSource === 'imported' ? a.trace?.settings.model.id : undefined,
      traceShape: a.trace?.settings.model,
    })),
  );
  const [files, setFiles] = useState<ScenarioFiles>();
  const [filesError, setFilesError] = useState<string>();
  const id = useId();
  const ready = s.status === 'ready';
  // Without a model, a replayed trace's shape bounds the layer and head fields.
  const nLayer = s.summary?.nLayer ?? s.traceShape?.nLayer ?? 1;

  useEffect(() => {
    loadScenarioFiles().then(setFiles, (e: Error) => setFilesError(e.message));
  }, []);

  const pick = (id: string) => {
    const user = s.userRequests.find((r) => `user:${r.id}` === id);
    if (user) return setState({ requestId: id, requestText: user.goal, target: user.target });
    const request = all.find((r) => r.id === id);
    if (!request) return setState({ requestId: 'custom' });
    setState({ requestId: request.id, requestText: requestText(request, s.language), target: targetText(request, s.language) });
  };
  const [headsText, setHeadsText] = useState(s.sharpen.heads?.join(',') ?? '');
  // A replayed trace sets the heads from outside the field.
  const headsSetting = s.sharpen.heads?.join(',') ?? '';
  useEffect(() => setHeadsText(headsSetting), [headsSetting]);
  // Heads set from elsewhere (a demo link, once the model is loaded) show in the field too.
  const headsJoined = s.sharpen.heads?.join(',') ?? '';
  useEffect(() => setHeadsText(headsJoined), [headsJoined]);
  const nHead = s.summary?.nHead ?? s.traceShape?.nHead ?? 1;
  const headsProblem = (() => {
    const text = headsText.trim();
    if (text === '') return undefined;
    const parts = text.split(/[\s,]+/).filter(Boolean);
    return parts.every((p) => /^\d+$/.test(p) && Number(p) < nHead) ? undefined : t('scenario.headsInvalid', { max: nHead - 1 });
  })();

  const all = files ? [...files.requests.harmful, ...files.requests.benign] : [];
  const maxSteps = s.attack === 'ica' ? (files?.demos.demos.length ?? 10) : s.attack === 'ladder' ? (files ? files.templates.templates.length - 1 : 6) : s.attack === 'gcg' ? GCG_DEFAULTS.steps : 20;
  // GCG counts its steps in tens (50 by default); the other attacks in ones.
  const pickAttack = (attack: AttackKind) =>
    setState({ attack, ...(attack === 'gcg' ? { steps: GCG_APP_DEFAULTS.steps } : s.attack === 'gcg' ? { steps: initialScenario.steps } : {}) });

  // Re-run the defended runs when the defense changes under a live trace.
  const changeDefense = (patch: Partial<Pick<typeof s, 'sharpen' | 'smooth' | 'highlight' | 'sideBySide'>>) => {
    setState(patch);
    scheduleDefenseRerun();
  };

  return (
    <section className="side-section" id={SCENARIO_PANEL_ID} tabIndex={-1} aria-labelledby={`${id}-heading`} data-testid="scenario-panel">
      <h2 id={`${id}-heading`}>{t('scenario.heading')}</h2>

      <label htmlFor={`${id}-request`}>{t('scenario.request')}</label>
      <select id={`${id}-request`} value={s.requestId} onChange={(e) => pick(e.target.value)}>
        <option value="custom">{t('scenario.typeOwn')}</option>
        {s.userRequests.length > 0 && (
          <optgroup label={t('scenario.yourRequests')}>
            {s.userRequests.map((r) => (
              <option key={r.id} value={`user:${r.id}`}>
                {r.goal}
              </option>
            ))}
          </optgroup>
        )}
        {files && (
          <>
            <optgroup label={t('scenario.harmful')}>
              {files.requests.harmful.map((r) => (
                <option key={r.id} value={r.id}>
                  {requestText(r, s.language)}
                </option>
              ))}
            </optgroup>
            <optgroup label={t('scenario.benign')}>
              {files.requests.benign.map((r) => (
                <option key={r.id} value={r.id}>
                  {requestText(r, s.language)}
                </option>
              ))}
            </optgroup>
          </>
        )}
      </select>
      <textarea
        aria-label={t('scenario.requestText')}
        data-testid="request-text"
        rows={3}
        value={s.requestText}
        placeholder={t('scenario.requestPlaceholder')}
        onChange={(e) => setState({ requestText: e.target.value, requestId: 'custom' })}
      />
      <FileButton className="link" accept=".csv,.json,text/csv,application/json" inputTestId="requests-file" onFile={(file) => void loadRequestsFile(file)}>
        {t('scenario.loadRequests')}
      </FileButton>
      {filesError && <p className="error">{filesError}</p>}

      <div className="grid2">
        <div>
          <label htmlFor={`${id}-attack`}>{t('scenario.attack')}</label>
          <select id={`${id}-attack`} value={s.attack} onChange={(e) => pickAttack(e.target.value as AttackKind)}>
            {attackKinds.map((a) => (
              <option key={a} value={a}>
                {t(`attack.${a}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-steps`}>{t(s.attack === 'suffix' ? 'scenario.suffixSteps' : s.attack === 'gcg' ? 'scenario.gcgSteps' : 'scenario.steps')}</label>
          <input
            id={`${id}-steps`}
            type="number"
            min={1}
            max={maxSteps}
            value={s.steps}
            disabled={s.attack === 'none' || s.attack === 'custom'}
            onChange={(e) => setState({ steps: Math.max(1, Math.min(maxSteps, Number(e.target.value) || 1)) })}
          />
        </div>
      </div>
      <p className="muted hint">{t(`attack.${s.attack}Hint`)}</p>
      {s.attack === 'suffix' && (
        <div className="grid2">
          <div>
            <label htmlFor={`${id}-target`}>{t('scenario.target')}</label>
            <input id={`${id}-target`} type="text" value={s.target} onChange={(e) => setState({ target: e.target.value })} />
          </div>
          <div>
            <label htmlFor={`${id}-iterations`}>{t('scenario.iterations')}</label>
            <input
              id={`${id}-iterations`}
              type="number"
              min={1}
              max={1000}
              value={s.suffixIterations}
              onChange={(e) => setState({ suffixIterations: Math.max(1, Number(e.target.value) || 1) })}
            />
          </div>
        </div>
      )}
      {s.attack === 'gcg' && (
        <>
          <div className="grid2">
            <div>
              <label htmlFor={`${id}-gcg-target`}>{t('scenario.target')}</label>
              <input id={`${id}-gcg-target`} type="text" value={s.target} onChange={(e) => setState({ target: e.target.value })} />
            </div>
            <div>
              <label htmlFor={`${id}-gcg-suffix`}>{t('scenario.gcgSuffix')}</label>
              <input id={`${id}-gcg-suffix`} type="text" value={s.gcgSuffix} placeholder={GCG_DEFAULTS.suffix} onChange={(e) => setState({ gcgSuffix: e.target.value })} />
            </div>
          </div>
          <div className="grid2">
            <div>
              <label htmlFor={`${id}-gcg-topk`}>{t('scenario.gcgTopK')}</label>
              <input
                id={`${id}-gcg-topk`}
                type="number"
                min={1}
                max={1024}
                value={s.gcgTopK}
                onChange={(e) => setState({ gcgTopK: Math.max(1, Math.min(1024, Math.floor(Number(e.target.value)) || 1)) })}
              />
            </div>
            <div>
              <label htmlFor={`${id}-gcg-batch`}>{t('scenario.gcgBatch')}</label>
              <input
                id={`${id}-gcg-batch`}
                type="number"
                min={1}
                max={1024}
                value={s.gcgBatch}
                onChange={(e) => setState({ gcgBatch: Math.max(1, Math.min(1024, Math.floor(Number(e.target.value)) || 1)) })}
              />
            </div>
          </div>
        </>
      )}
      {s.attack === 'custom' && (
        <textarea
          aria-label={t('scenario.customPrompts')}
          rows={5}
          value={s.customPrompts}
          placeholder={t('scenario.customPlaceholder')}
          onChange={(e) => setState({ customPrompts: e.target.value })}
        />
      )}

      <fieldset className="defenses">
        <legend>{t('scenario.defenses')}</legend>
        <label className="check">
          <input type="checkbox" checked={s.sharpen.enabled} onChange={(e) => changeDefense({ sharpen: { ...s.sharpen, enabled: e.target.checked } })} />
          {t('defense.sharpening')}
        </label>
        {s.sharpen.enabled && (
          <div className="indent">
            <label htmlFor={`${id}-temperature`}>
              {t('scenario.temperature')} <output data-testid="temperature-value">{s.sharpen.temperature.toFixed(2)}</output>
            </label>
            <input
              id={`${id}-temperature`}
              data-testid="temperature"
              type="range"
              min={0.2}
              max={1.2}
              step={0.05}
              value={s.sharpen.temperature}
              onChange={(e) => changeDefense({ sharpen: { ...s.sharpen, temperature: Number(e.target.value) } })}
            />
            <div className="grid2">
              <div>
                <label htmlFor={`${id}-from`}>{t('scenario.layerFrom')}</label>
                <input
                  id={`${id}-from`}
                  type="number"
                  min={0}
                  max={nLayer - 1}
                  value={s.sharpen.layers[0]}
                  onChange={(e) => {
                    // Each bound on its own (the defense uses them in order), so typing never fights.
                    const first = Math.max(0, Math.min(nLayer - 1, Number(e.target.value) || 0));
                    changeDefense({ sharpen: { ...s.sharpen, layers: [first, s.sharpen.layers[1]] } });
                  }}
                />
              </div>
              <div>
                <label htmlFor={`${id}-to`}>{t('scenario.layerTo')}</label>
                <input
                  id={`${id}-to`}
                  type="number"
                  min={0}
                  max={nLayer - 1}
                  value={s.sharpen.layers[1]}
                  onChange={(e) => {
                    const last = Math.max(0, Math.min(nLayer - 1, Number(e.target.value) || 0));
                    changeDefense({ sharpen: { ...s.sharpen, layers: [s.sharpen.layers[0], last] } });
                  }}
                />
              </div>
            </div>
            <label htmlFor={`${id}-heads`}>{t('scenario.heads')}</label>
            <input
              id={`${id}-heads`}
              type="text"
              inputMode="numeric"
              placeholder={t('scenario.headsAll')}
              value={headsText}
              aria-invalid={headsProblem !== undefined}
              onChange={(e) => setHeadsText(e.target.value)}
              onBlur={() => {
                if (headsProblem) return;
                const heads = [...new Set(headsText.split(/[\s,]+/).filter(Boolean).map(Number))].sort((a, b) => a - b);
                const same = (s.sharpen.heads ?? []).join(',') === heads.join(',');
                if (!same) changeDefense({ sharpen: { ...s.sharpen, heads: heads.length ? heads : undefined } });
              }}
            />
            {headsProblem && <p className="error">{headsProblem}</p>}
          </div>
        )}
        <label className="check">
          <input
            type="checkbox"
            data-testid="highlighter"
            checked={s.highlight.enabled}
            onChange={(e) => changeDefense({ highlight: { ...s.highlight, enabled: e.target.checked } })}
          />
          {t('defense.highlighter')}
        </label>
        {s.highlight.enabled && (
          <div className="indent">
            <p className="muted hint">{t('scenario.thHint')}</p>
            <div className="grid2">
              <div>
                <label htmlFor={`${id}-alpha`}>{t('scenario.thAlpha')}</label>
                <input
                  id={`${id}-alpha`}
                  data-testid="th-alpha"
                  type="number"
                  min={0.05}
                  max={1}
                  step={0.05}
                  value={s.highlight.alpha}
                  onChange={(e) => changeDefense({ highlight: { ...s.highlight, alpha: Math.max(0.01, Math.min(1, Number(e.target.value) || 0.25)) } })}
                />
              </div>
              <div>
                <label htmlFor={`${id}-beta`}>{t('scenario.thBeta')}</label>
                <input
                  id={`${id}-beta`}
                  data-testid="th-beta"
                  type="number"
                  min={0}
                  max={1}
                  step={0.05}
                  value={s.highlight.beta}
                  onChange={(e) => changeDefense({ highlight: { ...s.highlight, beta: Math.max(0, Math.min(1, Number(e.target.value) || 0)) } })}
                />
              </div>
            </div>
            <label htmlFor={`${id}-affirmation`}>{t('scenario.thAffirmation')}</label>
            <input
              id={`${id}-affirmation`}
              type="text"
              value={s.highlight.affirmation}
              onChange={(e) => setState({ highlight: { ...s.highlight, affirmation: e.target.value } })}
              onBlur={(e) => changeDefense({ highlight: { ...s.highlight, affirmation: e.target.value.trim() || initialScenario.highlight.affirmation } })}
            />
          </div>
        )}
        <label className="check">
          <input type="checkbox" checked={s.smooth.enabled} onChange={(e) => changeDefense({ smooth: { ...s.smooth, enabled: e.target.checked } })} />
          {t('defense.smoothllm')}
        </label>
        {s.smooth.enabled && (
          <div className="indent grid3">
            <div>
              <label htmlFor={`${id}-n`}>{t('scenario.copies')}</label>
              <input id={`${id}-n`} type="number" min={1} max={50} value={s.smooth.n} onChange={(e) => changeDefense({ smooth: { ...s.smooth, n: Math.max(1, Number(e.target.value) || 1) } })} />
            </div>
            <div>
              <label htmlFor={`${id}-q`}>{t('scenario.rate')}</label>
              <input id={`${id}-q`} type="number" min={1} max={100} value={s.smooth.q} onChange={(e) => changeDefense({ smooth: { ...s.smooth, q: Math.max(1, Math.min(100, Number(e.target.value) || 1)) } })} />
            </div>
            <div>
              <label htmlFor={`${id}-kind`}>{t('scenario.perturbation')}</label>
              <select id={`${id}-kind`} value={s.smooth.perturbation} onChange={(e) => changeDefense({ smooth: { ...s.smooth, perturbation: e.target.value as 'swap' } })}>
                <option value="swap">{t('scenario.swap')}</option>
                <option value="insert">{t('scenario.insert')}</option>
                <option value="patch">{t('scenario.patch')}</option>
              </select>
            </div>
          </div>
        )}
        {[s.sharpen.enabled, s.highlight.enabled, s.smooth.enabled].filter(Boolean).length > 1 && (
          <label className="check">
            <input type="checkbox" data-testid="side-by-side" checked={s.sideBySide} onChange={(e) => changeDefense({ sideBySide: e.target.checked })} />
            {t('scenario.sideBySide')}
          </label>
        )}
      </fieldset>

      <details className="more">
        <summary>{t('scenario.advanced')}</summary>
        <div className="grid2">
          <div>
            <label htmlFor={`${id}-tokens`}>{t('scenario.responseLength')}</label>
            <input id={`${id}-tokens`} type="number" min={1} max={256} value={s.maxNewTokens} onChange={(e) => setState({ maxNewTokens: Math.max(1, Math.min(256, Number(e.target.value) || 1)) })} />
          </div>
          <div>
            <label htmlFor={`${id}-seed`}>{t('scenario.seed')}</label>
            <input id={`${id}-seed`} type="number" min={0} value={s.seed} onChange={(e) => setState({ seed: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} />
          </div>
        </div>
        <label htmlFor={`${id}-language`}>{t('scenario.language')}</label>
        <select id={`${id}-language`} value={s.language} onChange={(e) => setState({ language: e.target.value as 'en' | 'ja' })}>
          <option value="en">English</option>
          <option value="ja">日本語</option>
        </select>
      </details>

      <div className="row run-row">
        {s.running ? (
          <button type="button" className="danger" onClick={cancelRun} data-testid="cancel-panel">
            {t('common.cancel')}
          </button>
        ) : (
          <button type="button" className="primary" disabled={!ready || !files} onClick={() => void runScenario()} data-testid="run">
            {t('scenario.run')}
          </button>
        )}
        {/* The progress itself is in the top bar (RunStatus), in view wherever the page is scrolled. */}
        {(s.running || s.rerunning) && <span className="muted">{t('scenario.progressInTopBar')}</span>}
      </div>
      {!ready && <p className="muted hint">{t('scenario.needsModel')}</p>}
      {s.replayModel && (
        <p className="muted hint" data-testid="scenario-restored">
          {t(ready && s.summary?.id !== s.replayModel ? 'scenario.restoredOtherModel' : 'scenario.restored', { model: s.replayModel, loaded: s.summary?.id ?? '' })}
        </p>
      )}
      {s.runError && <ErrorMessage error={s.runError} testId="run-error" />}
    </section>
  );
}
