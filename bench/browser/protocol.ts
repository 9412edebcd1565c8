// What the browser bench's runner (Node) asks the bench page for, and the figures the page answers.

/** One timed run: the same prompt ids and the same number of greedy decode steps for every engine. */
export interface RunRequest {
  /** URL path of the timed model (a GGUF served by the runner). */
  readonly modelUrl: string;
  /** URL path of a small model run once first, untimed: compiles pipelines / warms caches. */
  readonly warmUpUrl: string;
  /** Prompt token ids (random: the weights are random, the ids do not matter). */
  readonly prompt: readonly number[];
  /** Timed decode steps; one more token is generated, the first comes from the prefill. */
  readonly decodeSteps: number;
}

export interface PeerRunRequest extends RunRequest {
  /**
   * The prompt as text that llama.cpp tokenizes back to exactly `prompt.length` tokens: wllama 3
   * takes no token ids (its completion passes the prompt on as a string).
   */
  readonly promptText: string;
  /** WASM threads (navigator.hardwareConcurrency unless the runner says otherwise). */
  readonly threads: number;
  /** Pass llama.cpp's own log to the console (it is long: only with --verbose). */
  readonly nativeLog: boolean;
}

export interface EngineFigures {
  /** Row label in the table, e.g. `ours (Chromium WebGPU)`. */
  readonly engine: string;
  /** What it ran on: the WebGPU adapter, or the WASM build and thread count. */
  readonly device: string;
  readonly promptTokens: number;
  /** Prompt in, first greedy token out (includes the last row's output projection and the pick). */
  readonly prefillSeconds: number;
  readonly decodeSteps: number;
  readonly decodeSecondsPerToken: number;
  /** Model load, for the log only (not a speed figure: it includes fetching and parsing). */
  readonly loadSeconds: number;
}

/** What the page puts on `window.slipBench` for the runner's `page.evaluate`. */
export interface BenchPageApi {
  /** Our engine on the page's WebGPU adapter. */
  ours(request: RunRequest): Promise<EngineFigures>;
  /** llama.cpp's WASM build through @wllama/wllama, on `threads` threads (CPU only). */
  wllama(request: PeerRunRequest): Promise<EngineFigures>;
}

declare global {
  interface Window {
    slipBench?: BenchPageApi;
  }
}
