// Float64 reference ops: pure functions, one per model op, the per-kernel ground truth.

import type { RopeStyle } from '../engine/config';

/** A row-major weight matrix (rows, cols); a GGUF tensor with dims [cols, rows]. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** (rows, cols) */
  readonly data: Float64Array;
}

/** y = x / sqrt(mean(x²) + eps) ⊙ w.  x, w: (n) → (n) */
export function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let sumSquares = 0;
  for (let i = 0; i < x.length; i++) sumSquares += x[i] * x[i];
  const scale = 1 / Math.sqrt(sumSquares / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * scale * w[i];
  return y;
}

/** y = W·x.  W: (rows, cols), x: (cols) → (rows) */
export function matVec(w: Matrix, x: Float64Array): Float64Array {
  if (x.length !== w.cols) throw new RangeError(`matVec: x has ${x.length} values, the weight has ${w.cols} columns.`);
  const y = new Float64Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    const row = r * w.cols;
    let sum = 0;
    for (let c = 0; c < w.cols; c++) sum += w.data[row + c] * x[c];
    y[r] = sum;
  }
  return y;
}

/** Y = X·Wᵀ, each row of X through matVec.  W: (rows, cols), X: (n, cols) → (n, rows) */
export function matMul(w: Matrix, x: Float64Array, n: number): Float64Array {
  if (x.length !== n * w.cols) throw new RangeError(`matMul: X has ${x.length} values, expected ${n}×${w.cols}.`);
  const y = new Float64Array(n * w.rows);
  for (let i = 0; i < n; i++) y.set(matVec(w, x.subarray(i * w.cols, (i + 1) * w.cols)), i * w.rows);
  return y;
}

/** y = x + b.  x, b: (n) → (n) */
export function addBias(x: Float64Array, b: Float64Array): Float64Array {
  if (b.length !== x.length) throw new RangeError(`addBias: x has ${x.length} values, the bias ${b.length}.`);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] + b[i];
  return y;
}

export interface RopeOptions {
  /** rope.freq_base (10000 for Llama 2, 500000 for Llama 3, 1e6 for Qwen2). */
  readonly base: number;
  readonly style: RopeStyle;
  /** (headDim/2) divisors of each pair's angle (Llama 3 rope_freqs.weight). */
  readonly freqFactors?: Float64Array;
  /** Linear RoPE scaling: the angle of position p is that of p · freqScale (default 1). */
  readonly freqScale?: number;
}

/**
 * Rotary position embedding of every head at position `pos`.  x: (nHeads·headDim) → same.
 * Pair i (i < headDim/2) turns by θᵢ = pos · base^(−2i/headDim) / freqFactors[i];
 * `normal` pairs (x[2i], x[2i+1]), `neox` pairs (x[i], x[i + headDim/2]).
 */
export function rope(x: Float64Array, headDim: number, pos: number, options: RopeOptions): Float64Array {
  const half = headDim / 2;
  const y = Float64Array.from(x);
  for (let head = 0; head < x.length / headDim; head++) {
    for (let i = 0; i < half; i++) {
      const theta = (pos * (options.freqScale ?? 1) * options.base ** ((-2 * i) / headDim)) / (options.freqFactors?.[i] ?? 1);
      const a = head * headDim + (options.style === 'normal' ? 2 * i : i);
      const b = options.style === 'normal' ? a + 1 : a + half;
      const cos = Math.cos(theta);
      const sin = Math.sin(theta);
      y[a] = x[a] * cos - x[b] * sin;
      y[b] = x[a] * sin + x[b] * cos;
    }
  }
  return y;
}

/** silu(x) = x·σ(x), elementwise.  (n) → (n) */
export function silu(x: Float64Array): Float64Array {
  return x.map((v) => v / (1 + Math.exp(-v)));
}

/** silu(gate) ⊙ up.  gate, up: (n) → (n) */
/** GELU, tanh approximation (as Gemma and llama.cpp use it). */
export function geluTanh(x: Float64Array): Float64Array {
  return x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
}

/** GeGLU: (nFf) gelu_tanh(gate) ⊙ up */
export function geglu(gate: Float64Array, up: Float64Array): Float64Array {
  const g = geluTanh(gate);
  return g.map((v, i) => v * up[i]);
}

/** Soft-capping: cap·tanh(x/cap). */
export function softcap(x: number, cap: number): number {
  return cap * Math.tanh(x / cap);
}

export function swiglu(gate: Float64Array, up: Float64Array): Float64Array {
  const activated = silu(gate);
  return activated.map((v, i) => v * up[i]);
}

/** Numerically stable softmax.  (n) → (n), sums to 1 */
export function softmax(x: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  const e = x.map((v) => Math.exp(v - max));
  let sum = 0;
  for (const v of e) sum += v;
  return e.map((v) => v / sum);
}

export interface AttentionShape {
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  /** Score scale; default 1/sqrt(headDim). */
  readonly attentionScale?: number;
  /** Soft-cap of the scaled scores, applied before the temperature; 0 or absent = off. */
  readonly attnSoftcap?: number;
  /** A query sees keys with query − key < window; 0 or absent = all earlier keys. */
  readonly window?: number;
}

export interface AttentionResult {
  /** Per query position: (nHead·headDim) */
  readonly output: Float64Array[];
  /** [head][query]: (nTokens) probabilities over keys, 0 past the query */
  readonly probabilities: Float64Array[][];
}

/** Query head h reads kv head ⌊h / (nHead / nHeadKv)⌋ (grouped-query attention). */
export function kvHeadOf(head: number, shape: AttentionShape): number {
  return Math.floor(head / (shape.nHead / shape.nHeadKv));
}

/**
 * Probabilities of one query row: p = softmax(cap(q·k · scale) / T) over the visible keys
 * (0…query, or the last `window` of them). Returns (nTokens), zero for masked keys.
 */
export function attentionRow(
  q: readonly Float64Array[],
  k: readonly Float64Array[],
  head: number,
  query: number,
  shape: AttentionShape,
  temperature = 1,
): Float64Array {
  const { headDim } = shape;
  const qOffset = head * headDim;
  const kOffset = kvHeadOf(head, shape) * headDim;
  const scale = shape.attentionScale ?? 1 / Math.sqrt(headDim);
  const first = shape.window ? Math.max(0, query - shape.window + 1) : 0;
  const scores = new Float64Array(query + 1 - first);
  for (let key = first; key <= query; key++) {
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += q[query][qOffset + d] * k[key][kOffset + d];
    const scaled = dot * scale;
    scores[key - first] = (shape.attnSoftcap ? softcap(scaled, shape.attnSoftcap) : scaled) / temperature;
  }
  const row = new Float64Array(k.length);
  row.set(softmax(scores), first);
  return row;
}

/**
 * Causal grouped-query attention of one layer.
 * q: per position (nHead·headDim); k, v: per position (nHeadKv·headDim);
 * temperature: (nHead), 1 = standard attention, < 1 sharpens.
 */
export function causalAttention(
  q: readonly Float64Array[],
  k: readonly Float64Array[],
  v: readonly Float64Array[],
  shape: AttentionShape,
  temperature?: Float64Array,
): AttentionResult {
  const { nHead, headDim } = shape;
  const nTokens = q.length;
  if (nHead % shape.nHeadKv !== 0) throw new RangeError(`nHead ${nHead} is not a multiple of nHeadKv ${shape.nHeadKv}.`);
  const output = q.map(() => new Float64Array(nHead * headDim));
  const probabilities: Float64Array[][] = [];
  for (let head = 0; head < nHead; head++) {
    const vOffset = kvHeadOf(head, shape) * headDim;
    const rows: Float64Array[] = [];
    for (let query = 0; query < nTokens; query++) {
      const row = attentionRow(q, k, head, query, shape, temperature?.[head] ?? 1);
      for (let key = 0; key <= query; key++)
        for (let d = 0; d < headDim; d++) output[query][head * headDim + d] += row[key] * v[key][vOffset + d];
      rows.push(row);
    }
    probabilities.push(rows);
  }
  return { output, probabilities };
}
