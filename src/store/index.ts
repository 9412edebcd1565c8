// The app's state in one zustand store, in slices: model, scenario, trace, view, presenter.
// Components read with selectors; the actions that talk to the engine worker live in
// src/app/actions.ts so this file stays plain data.

import { create } from 'zustand';
import { GCG_APP_DEFAULTS } from '../attacks/gcg';
import type { BenignPrompt } from '../attacks/benign';
import type { EvalRequest } from '../attacks/requests';
import { DEFAULT_AFFIRMATION, DEFAULT_ALPHA, DEFAULT_BETA } from '../defenses/highlighter';
import type { AttackKind } from '../lab/kinds';
import type { SelfTestResult } from '../selftest/selftest';
import type { ErrorFacts } from '../util/format';
import type { LabProgress } from '../lab/runner';
import type { SweepProgress, SweepResult } from '../lab/sweep';
import type { Trace } from '../lab/trace';
import type { AdapterInfo, LoadProgressEvent, ModelSummary } from '../worker/protocol';

/** An error for the UI: its class name (which picks the Japanese headline) and its English sentence. */
export type UiError = ErrorFacts;
export type { AttackKind };
export type HeadChoice = number | 'mean';

export interface ModelSlice {
  webgpu: 'unknown' | 'available' | 'missing';
  webgpuReason?: string;
  adapter?: AdapterInfo;
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** What is being loaded, for the progress line ("Qwen2.5 0.5B Instruct"). */
  loadingLabel?: string;
  loadProgress?: LoadProgressEvent;
  summary?: ModelSummary;
  modelError?: UiError;
  /** The last "Check this computer" result on this adapter and app version (remembered), or one running. */
  selfTest?: { readonly status: 'running' } | { readonly status: 'done'; readonly result: SelfTestResult };
  /** Whether the browser agreed to keep saved models (navigator.storage.persist()); unknown until asked. */
  storagePersisted?: boolean;
}

export interface ScenarioSlice {
  /** Language of the request and attack texts (follows the UI language until changed). */
  language: 'en' | 'ja';
  /** Id of a starter request, or 'custom' for typed text. */
  requestId: string;
  requestText: string;
  target: string;
  attack: AttackKind;
  steps: number;
  customPrompts: string;
  suffixIterations: number;
  suffixLength: number;
  /** GCG: top-k per position, candidates per step, and the starting suffix ('' = 20 × "x"). */
  gcgTopK: number;
  gcgBatch: number;
  gcgSuffix: string;
  /** heads: sharpen only these heads in each chosen layer (absent = all heads). */
  sharpen: { enabled: boolean; temperature: number; layers: [number, number]; heads?: number[] };
  smooth: { enabled: boolean; n: number; q: number; perturbation: 'swap' | 'insert' | 'patch' };
  /** Token Highlighter: α the share of user tokens highlighted, β the factor on their embeddings. */
  highlight: { enabled: boolean; alpha: number; beta: number; affirmation: string };
  /** With two or more defenses checked: run each on its own, side by side, instead of combined. */
  sideBySide: boolean;
  maxNewTokens: number;
  seed: number;
  /** Requests the user loaded from a CSV or JSON file (a `goal` column). */
  userRequests: EvalRequest[];
}

export interface TraceSlice {
  trace?: Trace;
  /** live: computed here; imported: read from a file (replay, no GPU needed). */
  traceSource?: 'live' | 'imported';
  running: boolean;
  /** A defense re-run in progress (the slider changed). */
  rerunning: boolean;
  /** A head's attention map is being computed for the matrix panel. */
  mapPending?: boolean;
  labProgress?: LabProgress;
  runError?: UiError;
  traceError?: UiError;
  /** Name of a trace file being read (in a worker; a large one takes seconds). */
  traceReading?: string;
}

export interface ViewSlice {
  step: number;
  layer: HeadChoice;
  head: HeadChoice;
  /** The token strip's query: the decisive (last prompt) token or generated token g. */
  query: 'last' | number;
  /** Show the defended run in the token strip, grid, matrix and response. */
  showDefended: boolean;
  redacted: boolean;
  playing: boolean;
  sinkAdjusted: boolean;
}

/** A temperature sweep (what the defense costs) and the report's options. */
export interface SweepSlice {
  sweep?: SweepResult;
  /** The model the sweep ran on: a trace of another model gets neither its slide nor its numbers in a report. */
  sweepModelId?: string;
  sweepRunning: boolean;
  sweepProgress?: SweepProgress;
  sweepError?: UiError;
  /** The grid as typed, e.g. "1, 0.9, 0.8, 0.7, 0.6, 0.5". */
  sweepTemperatures: string;
  /** Everyday prompts: the shipped set (in the scenario language) or the user's CSV. */
  benignSource: 'shipped' | 'user';
  /** How many of them the sweep uses (the first ones). */
  benignCount: number;
  userBenign: BenignPrompt[];
  /** Put what the model answered to harmful requests into a downloaded report (off: redacted). */
  reportShowOutput: boolean;
  reportPending: boolean;
  reportError?: UiError;
}

export interface PresenterSlice {
  presenting: boolean;
  slide: number;
}

export type AppState = ModelSlice & ScenarioSlice & TraceSlice & ViewSlice & SweepSlice & PresenterSlice;

export const initialSweep: SweepSlice = {
  sweepRunning: false,
  sweepTemperatures: '1, 0.9, 0.8, 0.7, 0.6, 0.5',
  benignSource: 'shipped',
  benignCount: 10,
  userBenign: [],
  reportShowOutput: false,
  reportPending: false,
};

export const initialScenario: ScenarioSlice = {
  language: 'en',
  requestId: 'custom',
  requestText: '',
  target: 'Sure, here is',
  attack: 'ladder',
  steps: 4,
  customPrompts: '',
  suffixIterations: 60,
  suffixLength: 20,
  gcgTopK: GCG_APP_DEFAULTS.topK,
  gcgBatch: GCG_APP_DEFAULTS.batch,
  gcgSuffix: '',
  sharpen: { enabled: true, temperature: 0.7, layers: [0, 0] },
  smooth: { enabled: false, n: 10, q: 10, perturbation: 'swap' },
  highlight: { enabled: false, alpha: DEFAULT_ALPHA, beta: DEFAULT_BETA, affirmation: DEFAULT_AFFIRMATION },
  sideBySide: false,
  maxNewTokens: 32,
  seed: 0,
  userRequests: [],
};

export const initialView: ViewSlice = {
  step: 0,
  layer: 'mean',
  head: 'mean',
  query: 'last',
  showDefended: false,
  redacted: true,
  playing: false,
  sinkAdjusted: false,
};

export const useApp = create<AppState>()(() => ({
  webgpu: 'unknown',
  status: 'idle',
  ...initialScenario,
  running: false,
  rerunning: false,
  ...initialView,
  ...initialSweep,
  presenting: false,
  slide: 0,
}));

export const setState = useApp.setState;
export const getState = useApp.getState;

/** Replaces the trace and puts the view on its first step (keeping the head the user chose). */
export function showTrace(trace: Trace, source: 'live' | 'imported'): void {
  const { layer, head } = getState();
  const fits = (choice: HeadChoice, size: number) => (choice === 'mean' || choice < size ? choice : 'mean');
  setState({
    trace,
    traceSource: source,
    step: 0,
    query: 'last',
    layer: fits(layer, trace.settings.model.nLayer),
    head: fits(head, trace.settings.model.nHead),
    showDefended: false,
    traceError: undefined,
  });
}
