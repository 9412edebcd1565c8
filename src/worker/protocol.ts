// The typed message protocol between the UI and the engine worker. Every request carries an id;
// the worker answers with progress events and exactly one `done` or `error` for that id.

import type { LabProgress } from '../lab/runner';
import type { AttackSpec, DefenseSpec, Scenario } from '../lab/scenario';
import type { SweepOptions, SweepProgress, SweepResult } from '../lab/sweep';
import type { Trace, TraceRun, TraceStep } from '../lab/trace';
import type { SelfTestResult } from '../selftest/selftest';

/** Where the model comes from: a URL (downloaded once into the browser cache) or a local file. */
export type ModelSource =
  | { readonly kind: 'url'; readonly url: string; readonly id: string; readonly name?: string }
  | { readonly kind: 'file'; readonly file: File; readonly id: string };

/** Where the tokenizer comes from: a hub repo (or mirror), or the two JSON files picked locally. */
export type TokenizerSource =
  | { readonly kind: 'hub'; readonly repo: string; readonly hub?: string }
  | { readonly kind: 'files'; readonly tokenizerJson: string; readonly tokenizerConfig: string; readonly name: string };

export interface ModelSummary {
  readonly id: string;
  readonly architecture: string;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly nEmbd: number;
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly weightBytes: number;
  readonly fileBytes: number;
  /** Came from the browser cache (no download). */
  readonly cached: boolean;
  /** A note for the user, e.g. that the cache is unavailable and the model streams from the network. */
  readonly note?: string;
  readonly tokenizer: string;
}

/** A temperature sweep as it crosses to the worker: the options without callbacks, store or signal. */
export type SweepRequestOptions = Omit<SweepOptions, 'store' | 'onProgress' | 'signal'>;

/** The loaded model file's SHA-256 (hex) and size, for the report. */
export interface ModelHash {
  readonly sha256: string;
  readonly bytes: number;
}

export interface AdapterInfo {
  readonly description: string;
  readonly features: readonly string[];
}

export type Request =
  | { readonly type: 'probe'; readonly id: number }
  /** `memoryBudget`: GPU bytes the page may plan to use (from navigator.deviceMemory), checked before the upload. */
  | { readonly type: 'load'; readonly id: number; readonly model: ModelSource; readonly tokenizer: TokenizerSource; readonly memoryBudget?: number }
  | { readonly type: 'run'; readonly id: number; readonly scenario: Scenario }
  /** `compare`: the side-by-side defenses to re-run (absent: keep the recorded ones). */
  | { readonly type: 'rerun-defense'; readonly id: number; readonly trace: Trace; readonly defense: DefenseSpec; readonly compare?: readonly DefenseSpec[] }
  /** One head's full map for a step's prompt (the trace records one head per step). */
  | {
      readonly type: 'map';
      readonly id: number;
      readonly tokens: readonly number[];
      readonly layer: number;
      readonly head: number;
      readonly defense: DefenseSpec;
      /** The run's embedding factors (Token Highlighter's Soft Removal); absent = all 1. */
      readonly embeddingScales?: readonly number[];
    }
  /** "Check this computer": tiny random models against the float64 reference, and the loaded model's decode time. */
  | { readonly type: 'self-test'; readonly id: number }
  /** The attack and the benign prompts at each temperature of a grid (what a defense costs). */
  | { readonly type: 'sweep'; readonly id: number; readonly options: SweepRequestOptions }
  /** SHA-256 of the loaded model's file (read once, then remembered until another model loads). */
  | { readonly type: 'model-hash'; readonly id: number }
  | { readonly type: 'cancel'; readonly id: number; readonly target: number };

export type LoadPhase = 'download' | 'upload' | 'tokenizer' | 'compile';

export interface LoadProgressEvent {
  readonly phase: LoadPhase;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Download only. */
  readonly bytesPerSecond?: number;
  readonly secondsLeft?: number;
}

/** An error as it crosses the worker boundary: the class name decides how the UI words it. */
export interface WireError {
  readonly name: string;
  readonly message: string;
}

export type Response =
  | { readonly type: 'probed'; readonly id: number; readonly adapter: AdapterInfo | null; readonly reason?: string }
  | { readonly type: 'load-progress'; readonly id: number; readonly progress: LoadProgressEvent }
  | { readonly type: 'loaded'; readonly id: number; readonly model: ModelSummary }
  | { readonly type: 'lab-progress'; readonly id: number; readonly progress: LabProgress }
  | { readonly type: 'step'; readonly id: number; readonly step: TraceStep; readonly trace: Omit<Trace, 'steps'> }
  | { readonly type: 'done'; readonly id: number; readonly trace: Trace }
  | { readonly type: 'map-done'; readonly id: number; readonly map: NonNullable<TraceRun['map']> }
  | { readonly type: 'self-test-done'; readonly id: number; readonly result: SelfTestResult }
  | { readonly type: 'sweep-progress'; readonly id: number; readonly progress: SweepProgress }
  | { readonly type: 'sweep-done'; readonly id: number; readonly result: SweepResult }
  | { readonly type: 'model-hash-done'; readonly id: number; readonly hash: ModelHash }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError }
  /** The GPU device was lost (driver reset, too much memory): the model must be loaded again. */
  | { readonly type: 'device-lost'; readonly message: string };

export type { AttackSpec, DefenseSpec, Scenario };
