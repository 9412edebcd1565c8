// Browser side of `npm run bench:browser`, bundled by Vite with the engine and @wllama/wllama:
// puts `window.slipBench` on the page; the runner calls it through Playwright, one engine per page.

import { LoggerWithoutDebug, Wllama, type RawCompletionParams, type ResultTimings } from '@wllama/wllama';
import { GpuContext, loadModel, type LoadedModel } from '../../src/engine';
import { browserPlatform } from '../../src/engine/platform-browser';
import { blobSource } from '../../src/gguf/source';
import type { BenchPageApi, EngineFigures, PeerRunRequest, RunRequest } from './protocol';

/** Progress lines the runner echoes (it drops the rest of the console unless asked). */
const log = (line: string) => console.log(`[bench] ${line}`);
const secondsSince = (started: number) => (performance.now() - started) / 1000;

async function fetchBlob(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`The bench server answered HTTP ${response.status} for ${url}.`);
  return response.blob();
}

// ---------------------------------------------------------------------------------------------
// Our engine: the same measurement as bench/engine.ts, on the browser's WebGPU.

/** One generate() from an empty cache, and when each token arrived (s since the start). */
async function timedGenerate(model: LoadedModel, prompt: readonly number[], maxNewTokens: number) {
  const arrivals: number[] = [];
  const started = performance.now();
  await model.generate(prompt, {
    maxNewTokens,
    logits: 'none',
    // Every position computed afresh: a reused prefix would skip the prefill being timed.
    reuse: 'none',
    onToken: () => arrivals.push(secondsSince(started)),
  });
  return arrivals;
}

async function ours(request: RunRequest): Promise<EngineFigures> {
  const ctx = await GpuContext.create(browserPlatform());
  try {
    // Pipelines are cached on the context: the twin's run compiles what the timed model uses.
    const warmUpStarted = performance.now();
    const twin = await loadModel(ctx, blobSource(await fetchBlob(request.warmUpUrl), request.warmUpUrl));
    try {
      // Same prompt length, so the same kernels run (matvec for a few rows, tiled matmul above).
      const vocab = twin.config.vocabSize;
      await timedGenerate(twin, request.prompt.map((id) => id % vocab), 2);
    } finally {
      twin.dispose();
    }
    log(`ours: warm-up on a one-layer twin ${secondsSince(warmUpStarted).toFixed(1)} s`);

    const loadStarted = performance.now();
    const model = await loadModel(ctx, blobSource(await fetchBlob(request.modelUrl), request.modelUrl));
    const loadSeconds = secondsSince(loadStarted);
    try {
      // Token 0 arrives after the prefill, each later one after a decode step.
      const arrivals = await timedGenerate(model, request.prompt, request.decodeSteps + 1);
      const steps = arrivals.length - 1;
      const figures: EngineFigures = {
        engine: 'ours (Chromium WebGPU)',
        device: ctx.adapter.description,
        promptTokens: request.prompt.length,
        prefillSeconds: arrivals[0],
        decodeSteps: steps,
        decodeSecondsPerToken: steps > 0 ? (arrivals[steps] - arrivals[0]) / steps : NaN,
        loadSeconds,
      };
      log(`ours: prefill ${figures.prefillSeconds.toFixed(2)} s, ${steps} decode steps ${(figures.decodeSecondsPerToken * 1000).toFixed(0)} ms/token`);
      return figures;
    } finally {
      model.dispose();
    }
  } finally {
    ctx.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The peer: llama.cpp's WASM build (llama-server's completion loop) through @wllama/wllama 3.x.
// wllama 3 has no token-level API (no decode() or samplingSample() any more) and its completion
// passes the prompt on as a string, so the prompt goes as text that tokenizes to the same length.

type CompletionParams = RawCompletionParams & {
  /** Off: the timed run must not resume from the warm-up's KV cache (llama-server's field; not in wllama's type). */
  readonly cache_prompt: boolean;
};

/** One greedy completion and llama-server's own timings of it (measured inside the worker, without message latency). */
async function complete(wllama: Wllama, params: Omit<CompletionParams, 'stream'>): Promise<ResultTimings> {
  const response = await wllama.createCompletion({ ...params, stream: false });
  if (!response.timings) throw new Error('wllama returned no timings with its completion; this bench needs llama-server\'s "timings" field.');
  return response.timings;
}

async function wllamaRun(request: PeerRunRequest): Promise<EngineFigures> {
  if (request.threads > 1 && !crossOriginIsolated)
    throw new Error('The bench page is not cross-origin isolated, so wllama cannot use threads; the server must send COOP and COEP headers.');
  const threads = `${request.threads} thread${request.threads === 1 ? '' : 's'}`;
  const blob = await fetchBlob(request.modelUrl);
  const wllama = new Wllama({ default: new URL('/wllama.wasm', location.href).href }, { logger: LoggerWithoutDebug, suppressNativeLog: !request.nativeLog });
  try {
    const loadStarted = performance.now();
    // n_gpu_layers 0: the WASM CPU build (wllama 3 would otherwise offload to WebGPU).
    await wllama.loadModel([blob], { n_threads: request.threads, n_gpu_layers: 0, seed: 1 });
    const loadSeconds = secondsSince(loadStarted);
    if (wllama.getNumThreads() !== request.threads)
      throw new Error(`wllama runs on ${wllama.getNumThreads()} threads, not the ${request.threads} asked for (no SharedArrayBuffer?).`);
    const base = { temperature: 0, ignore_eos: true, cache_prompt: false } as const;

    // Untimed: first-touch of the weights and the allocator, as our warm-up does for pipelines.
    const warmUpStarted = performance.now();
    await complete(wllama, { ...base, prompt: request.promptText.split(' ').reverse().join(' '), max_tokens: 2 });
    log(`wllama, ${threads}: warm-up ${secondsSince(warmUpStarted).toFixed(1)} s`);

    const timedStarted = performance.now();
    const timings = await complete(wllama, { ...base, prompt: request.promptText, max_tokens: request.decodeSteps + 1 });
    const wallSeconds = secondsSince(timedStarted);
    if (timings.prompt_n !== request.prompt.length || timings.cache_n !== 0)
      throw new Error(`wllama evaluated ${timings.prompt_n} prompt tokens (${timings.cache_n} from cache), for a prompt of ${request.prompt.length}; the prompt text must tokenize to exactly that many.`);
    // prompt_ms ends when the first token is sampled; predicted_ms runs from there to the last
    // token, so it spans predicted_n − 1 decode steps (predicted_per_token_ms divides by predicted_n).
    const steps = timings.predicted_n - 1;
    const figures: EngineFigures = {
      engine: `llama.cpp (wllama, WASM, ${threads})`,
      device: `llama.cpp ${Wllama.getLibllamaVersion()} WASM${wllama.isMultithread() ? ' (pthreads)' : ''}`,
      promptTokens: timings.prompt_n,
      prefillSeconds: timings.prompt_ms / 1000,
      decodeSteps: steps,
      decodeSecondsPerToken: steps > 0 ? timings.predicted_ms / 1000 / steps : NaN,
      loadSeconds,
    };
    log(
      `wllama, ${threads}: prefill ${figures.prefillSeconds.toFixed(2)} s, ${steps} decode steps ${(figures.decodeSecondsPerToken * 1000).toFixed(0)} ms/token ` +
        `(llama-server's timings; the completion took ${wallSeconds.toFixed(2)} s on the page's clock)`,
    );
    return figures;
  } finally {
    await wllama.exit();
  }
}

const api: BenchPageApi = { ours, wllama: wllamaRun };
window.slipBench = api;
