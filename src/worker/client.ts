// The UI's side of the engine worker: promise-returning calls with progress callbacks and
// cancellation, over the typed protocol.

import type { LabProgress } from '../lab/runner';
import type { SweepProgress, SweepResult } from '../lab/sweep';
import type { Trace, TraceRun, TraceStep } from '../lab/trace';
import type { SelfTestResult } from '../selftest/selftest';
import type {
  AdapterInfo,
  DefenseSpec,
  LoadProgressEvent,
  ModelHash,
  ModelSource,
  ModelSummary,
  Request,
  Response,
  Scenario,
  SweepRequestOptions,
  TokenizerSource,
  WireError,
} from './protocol';

/** An error from the worker, with its original class name (`DownloadError`, `AbortError`, …). */
export class WorkerError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

export const isCancel = (error: unknown) => error instanceof Error && error.name === 'AbortError';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onEvent?: (response: Response) => void;
}

export interface Call<T> {
  readonly id: number;
  readonly result: Promise<T>;
  cancel(): void;
}

type Omitted<R> = R extends unknown ? Omit<R, 'id'> : never;

export class EngineClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private deviceLostListeners = new Set<(message: string) => void>();
  /** Set once the worker has failed: every call is refused with it. */
  private dead: WorkerError | undefined;

  constructor(worker?: Worker) {
    this.worker = worker ?? new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'slip-lab-engine' });
    this.worker.onmessage = (event: MessageEvent<Response>) => this.receive(event.data);
    this.worker.onerror = (event) => {
      // A worker that failed to start or crashed fails every call, now and later.
      this.dead = new WorkerError({ name: 'WorkerError', message: `The engine worker stopped (${event.message || 'no reason given'}); reload the page.` });
      for (const pending of this.pending.values()) pending.reject(this.dead);
      this.pending.clear();
    };
  }

  onDeviceLost(listener: (message: string) => void): () => void {
    this.deviceLostListeners.add(listener);
    return () => this.deviceLostListeners.delete(listener);
  }

  private receive(response: Response) {
    if (response.type === 'device-lost') {
      for (const listener of this.deviceLostListeners) listener(response.message);
      return;
    }
    const pending = this.pending.get(response.id);
    if (!pending) return;
    switch (response.type) {
      case 'error':
        this.pending.delete(response.id);
        pending.reject(new WorkerError(response.error));
        return;
      case 'probed':
        this.pending.delete(response.id);
        pending.resolve(response);
        return;
      case 'loaded':
        this.pending.delete(response.id);
        pending.resolve(response.model);
        return;
      case 'done':
        this.pending.delete(response.id);
        pending.resolve(response.trace);
        return;
      case 'map-done':
        this.pending.delete(response.id);
        pending.resolve(response.map);
        return;
      case 'self-test-done':
      case 'sweep-done':
        this.pending.delete(response.id);
        pending.resolve(response.result);
        return;
      case 'model-hash-done':
        this.pending.delete(response.id);
        pending.resolve(response.hash);
        return;
      default:
        pending.onEvent?.(response);
    }
  }

  private call<T>(request: Omitted<Request>, onEvent?: (response: Response) => void): Call<T> {
    const id = this.nextId++;
    const dead = this.dead;
    const result = new Promise<T>((resolve, reject) => {
      if (dead) reject(dead);
      else this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onEvent });
    });
    if (dead) return { id, result, cancel: () => undefined };
    this.worker.postMessage({ ...request, id } as Request);
    return { id, result, cancel: () => this.worker.postMessage({ type: 'cancel', id: this.nextId++, target: id } satisfies Request) };
  }

  /** The adapter, or null with the reason WebGPU is unusable here. */
  async probe(): Promise<{ adapter: AdapterInfo | null; reason?: string }> {
    const response = await this.call<Extract<Response, { type: 'probed' }>>({ type: 'probe' }).result;
    return { adapter: response.adapter, reason: response.reason };
  }

  load(model: ModelSource, tokenizer: TokenizerSource, onProgress: (progress: LoadProgressEvent) => void, memoryBudget?: number): Call<ModelSummary> {
    return this.call<ModelSummary>({ type: 'load', model, tokenizer, ...(memoryBudget !== undefined ? { memoryBudget } : {}) }, (r) => r.type === 'load-progress' && onProgress(r.progress));
  }

  run(
    scenario: Scenario,
    handlers: { onProgress?: (progress: LabProgress) => void; onStep?: (step: TraceStep, header: Omit<Trace, 'steps'>) => void },
  ): Call<Trace> {
    return this.call<Trace>({ type: 'run', scenario }, (r) => {
      if (r.type === 'lab-progress') handlers.onProgress?.(r.progress);
      else if (r.type === 'step') handlers.onStep?.(r.step, r.trace);
    });
  }

  rerunDefense(trace: Trace, defense: DefenseSpec, onProgress?: (progress: LabProgress) => void, compare?: readonly DefenseSpec[]): Call<Trace> {
    return this.call<Trace>({ type: 'rerun-defense', trace, defense, ...(compare ? { compare } : {}) }, (r) => r.type === 'lab-progress' && onProgress?.(r.progress));
  }

  map(tokens: readonly number[], layer: number, head: number, defense: DefenseSpec, embeddingScales?: readonly number[]): Call<NonNullable<TraceRun['map']>> {
    return this.call({ type: 'map', tokens, layer, head, defense, ...(embeddingScales ? { embeddingScales } : {}) });
  }

  selfTest(): Call<SelfTestResult> {
    return this.call({ type: 'self-test' });
  }

  /** A temperature sweep on the loaded model; progress (with time left) as it goes; cancellable. */
  sweep(options: SweepRequestOptions, onProgress?: (progress: SweepProgress) => void): Call<SweepResult> {
    return this.call<SweepResult>({ type: 'sweep', options }, (r) => r.type === 'sweep-progress' && onProgress?.(r.progress));
  }

  /** SHA-256 of the loaded model's file. */
  modelHash(): Call<ModelHash> {
    return this.call({ type: 'model-hash' });
  }

  terminate(): void {
    this.worker.terminate();
  }
}
