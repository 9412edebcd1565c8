// The engine's public types: what callers (lab, worker, CLI, page) ask for and get back.

import type { ModelConfig } from './config';

export type SamplingOptions =
  | { readonly kind: 'greedy' }
  | { readonly kind: 'sample'; readonly temperature: number; readonly topK?: number; readonly topP?: number; readonly seed: number };

/** Half-open token range [start, end). */
export interface TokenSpan {
  readonly start: number;
  readonly end: number;
}

export interface AttentionExportRequest {
  /**
   * Query positions whose full probability rows are exported for every layer and head.
   * `last-and-generated` (default): the last prompt token and every generated token.
   * `all-prompt`: every prompt position (full maps; only for short prompts).
   */
  readonly rows?: 'last-and-generated' | 'all-prompt';
  /** The full [query][key] map over the prompt of one (layer, head). */
  readonly map?: { readonly layer: number; readonly head: number };
}

export interface GenerateOptions {
  readonly maxNewTokens: number;
  readonly sampling?: SamplingOptions;
  /** Generation stops after emitting one of these ids. */
  readonly stopTokens?: readonly number[];
  readonly attention?: AttentionExportRequest;
  /**
   * `generated` (default): one vector per generated step (the distribution the token was drawn from).
   * `all-prompt`: one vector per prompt position, then one per generated step.
   */
  readonly logits?: 'generated' | 'all-prompt' | 'none';
  readonly onToken?: (token: number, step: number) => void;
  readonly signal?: AbortSignal;
  /** See `CacheReuse`; default 'prefix'. */
  readonly reuse?: CacheReuse;
  /**
   * Per prompt position (prompt.length values): multiplies that position's looked-up embedding
   * row before the architecture's own scale (Token Highlighter's Soft Removal). 1 leaves the
   * position untouched, bit for bit; absent = all 1.
   */
  readonly embeddingScales?: readonly number[];
}

/**
 * Whether a call may start from the KV cache the previous call left. `prefix`: the longest
 * common prefix of the cached tokens and this prompt is not recomputed (attack steps and scored
 * candidates share long prefixes). `none`: every position is computed afresh, so the result does
 * not depend on what ran before (a reused prefix was computed in other chunk shapes, which rounds
 * floats differently). Exporting every prompt position (a full map, `all-prompt` rows or logits)
 * always computes afresh.
 */
export type CacheReuse = 'prefix' | 'none';

export interface LogprobsOptions {
  readonly signal?: AbortSignal;
  /** Default 'prefix'. */
  readonly reuse?: CacheReuse;
}

/** Longest continuation `logprobs` and `logprobsBatch` take: one prefill chunk of the engine. */
export const MAX_SCORED_CONTINUATION = 128;

export interface LogprobsBatchOptions extends LogprobsOptions {
  /** Score each continuation's last `scoreLast` tokens only (default: every token). */
  readonly scoreLast?: number;
}

/** Longest sequence (prompt + target − 1 tokens) `gradient` takes. */
export const MAX_GRADIENT_TOKENS = 512;

export interface GradientOptions {
  readonly signal?: AbortSignal;
  /** As in `GenerateOptions`: per prompt position, a factor on its embedding row; absent = all 1. */
  readonly embeddingScales?: readonly number[];
  /**
   * Also return the one-hot gradient of prompt positions [start, end) (GCG's token gradient):
   * G = ∂L/∂e · Eᵀ over the token embedding E, (end − start, vocab) row-major.
   */
  readonly oneHot?: TokenSpan;
}

export interface GradientResult {
  /** L = mean over target tokens of −log p(target_i | prompt, target_<i), at the current temperatures. */
  readonly loss: number;
  /** log p(target_i | prompt, target_<i), one per target token. */
  readonly logprobs: Float64Array;
  /**
   * (prompt.length, nEmbd) row-major: ∂L/∂e_i for each prompt position's looked-up embedding row
   * e_i, before any scale the architecture applies (Hugging Face's `inputs_embeds`).
   */
  readonly grad: Float32Array;
  /** With `oneHot`: (end − start, vocab) row-major. */
  readonly oneHot?: Float32Array;
}

export interface AttentionRows {
  /** Absolute query position of each exported slot. */
  readonly queries: readonly number[];
  /** Row length: keys 0 … keys-1 (the last position + 1). */
  readonly keys: number;
  /** (nLayer, nSlots, nHead, keys) probabilities; entries past the query are 0. */
  readonly data: Float32Array;
}

export interface AttentionMap {
  readonly layer: number;
  readonly head: number;
  /** Prompt length: the map is (queries, queries). */
  readonly size: number;
  readonly data: Float32Array;
}

export interface GenerateResult {
  readonly prompt: readonly number[];
  /** Prompt tokens whose keys and values were reused from the previous call's KV cache. */
  readonly reusedPrefix: number;
  readonly generated: readonly number[];
  readonly logits: readonly Float32Array[];
  readonly attention?: {
    readonly rows: AttentionRows;
    readonly map?: AttentionMap;
  };
}

export interface LoadProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly tensor?: string;
}

export interface AdapterSummary {
  readonly description: string;
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
}

export interface LoadedModel {
  readonly config: ModelConfig;
  /** Bytes of GPU memory the weights take. */
  readonly weightBytes: number;
  /** Token strings from the GGUF vocabulary (for display before a real tokenizer is loaded). */
  readonly vocab?: readonly string[];
  /**
   * Attention softmax temperature per (layer, head), row-major (nLayer × nHead); a number sets
   * every head. T = 1 is standard attention; T < 1 sharpens. Different temperatures empty the KV
   * cache (later layers' keys and values depend on earlier layers' attention); the same ones
   * leave it as it is.
   */
  setAttentionTemperature(temperature: Float32Array | number): void;
  /** Empties the KV cache: the next call computes every position afresh. */
  resetCache(): void;
  /**
   * Runs the prompt and generates. The KV cache keeps what this call computed; with
   * `reuse: 'prefix'` (the default) the next prompt that shares a prefix with it resumes after
   * that prefix (see `CacheReuse`).
   */
  generate(prompt: readonly number[], options: GenerateOptions): Promise<GenerateResult>;
  /**
   * Teacher-forced log-probabilities log p(continuation[i] | prefix, continuation[0…i-1]), e.g. of
   * an affirmative target ("Sure, here is") after a prompt. Reuses the cache like `generate`.
   */
  logprobs(prefix: readonly number[], continuation: readonly number[], options?: LogprobsOptions): Promise<Float64Array>;
  /**
   * `logprobs(prefix, continuation)` for B continuations of one length L at once, e.g. the
   * candidate suffixes of an attack, each followed by the target: per continuation, the log p of
   * its last `scoreLast` tokens. The prefix runs once (or is reused from the cache like
   * `logprobs`); then the continuations run side by side, as many per submit as the activations
   * hold, each seeing the prefix and only its own tokens. No attention is exported. Afterwards
   * the cache holds the prefix. Needs a prefix of at least one token, L ≤ MAX_SCORED_CONTINUATION,
   * and prefix + L within the context.
   */
  logprobsBatch(prefix: readonly number[], continuations: readonly (readonly number[])[], options?: LogprobsBatchOptions): Promise<Float64Array[]>;
  /**
   * The target's cross-entropy after the prompt and its gradient with respect to every prompt
   * position's input embedding: one forward that keeps what the backward needs, then the backward,
   * on the GPU. Leaves the KV cache empty. Needs prompt + target − 1 ≤ MAX_GRADIENT_TOKENS.
   */
  gradient(prompt: readonly number[], target: readonly number[], options?: GradientOptions): Promise<GradientResult>;
  dispose(): void;
}
