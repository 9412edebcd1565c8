// The backward kernels (activation gradients only): dX = dY·W over packed weights, RMSNorm,
// gated activation, attention (three passes), and the target cross-entropy. backward.ts chains
// them through the model; each has its own test against the float64 reference's op.

import type { FfnActivation } from '../config';
import type { GpuContext, PipelineKey } from '../gpu';
import { grid, type Binding, type Recorder } from '../recorder';
import { defineUniform } from '../uniforms';
import type { GpuMatrix } from '../weights';
import { COUNT_PARAMS } from './elementwise';
import { recordLogprobStats } from './logprob';

/** Invocations per workgroup of the element-wise and per-row kernels here (their override WG). */
const WORKGROUP = 64;
/** Tokens per linear_backward invocation: the shader's `const TOKENS` (kernels-uniforms.test.ts holds them equal). */
export const BACKWARD_TOKENS = 4;
/** GPUs: split a part's rows over workgroups until this many invocations run (partial sums, then a reduce). */
const TARGET_INVOCATIONS = 16384;
/** Fewest weight rows one split slice walks. */
const MIN_SPLIT_ROWS = 256;

export const LINEAR_BACKWARD_PARAMS = defineUniform({
  M: 'u32', N: 'u32', K: 'u32', dyStride: 'u32', rowOffset: 'u32', rowsPerSplit: 'u32', _pad0: 'u32', _pad1: 'u32',
});
export const REDUCE_PARAMS = defineUniform({ n: 'u32', slices: 'u32' });
export const RMSNORM_BACKWARD_PARAMS = defineUniform({
  cols: 'u32', eps: 'f32', rows: 'u32', xRowOffset: 'u32', dxRowOffset: 'u32', _pad0: 'u32', _pad1: 'u32', _pad2: 'u32',
});
export const ATTENTION_BACKWARD_PARAMS = defineUniform({
  M: 'u32', nHead: 'u32', nHeadKv: 'u32', headDim: 'u32', ctx: 'u32', layer: 'u32', scale: 'f32', softcap: 'f32',
  window: 'u32', _pad0: 'u32', _pad1: 'u32', _pad2: 'u32',
});
export const CROSS_ENTROPY_PARAMS = defineUniform({ rows: 'u32', vocab: 'u32', invCount: 'f32', cap: 'f32' });

const groups = (ctx: GpuContext, threads: number) => grid(Math.ceil(threads / WORKGROUP), ctx.caps.maxComputeWorkgroupsPerDimension);

export interface LinearBackwardArgs {
  readonly weight: GpuMatrix; // W (N, K)
  readonly dy: GPUBuffer;     // (M, N)
  readonly dx: GPUBuffer;     // (M, K)
  readonly M: number;
  /** dx += dY·W instead of dx = dY·W. */
  readonly accumulate?: boolean;
  /** Row slices per weight part (partial sums, then a reduce); default: by the device (tests force it). */
  readonly split?: number;
}

export const linearBackwardPipeline = (weights: GpuMatrix['type'], accumulate: boolean, split: boolean): PipelineKey => [
  'linear_backward',
  { weights, constants: { ACCUMULATE: accumulate, SPLIT: split, WG: WORKGROUP } },
];
export const linearBackwardReducePipeline = (accumulate: boolean): PipelineKey => ['linear_backward_reduce', { constants: { ACCUMULATE: accumulate, WG: WORKGROUP } }];

/** Slices for a part of `rows` rows when `invocations` run unsplit: 1 on CPU emulations (their few cores are busy already). */
function splitFor(ctx: GpuContext, invocations: number, rows: number): number {
  if (ctx.caps.software) return 1;
  return Math.max(1, Math.min(Math.ceil(TARGET_INVOCATIONS / invocations), Math.floor(rows / MIN_SPLIT_ROWS), ctx.caps.maxComputeWorkgroupsPerDimension));
}

/** dX (+)= dY·W, part by part (the first part overwrites unless `accumulate`, later ones add). */
export function recordLinearBackward(rec: Recorder, ctx: GpuContext, a: LinearBackwardArgs): void {
  const { weight, M } = a;
  const K = weight.cols;
  const quads = Math.ceil(K / 4);
  const tokenGroups = Math.ceil(M / BACKWARD_TOKENS);
  const wg: [number, number] = [Math.ceil(quads / WORKGROUP), tokenGroups];
  weight.parts.forEach((part, i) => {
    const accumulate = (a.accumulate ?? false) || i > 0;
    const slices = Math.min(a.split ?? splitFor(ctx, quads * tokenGroups, part.rowCount), part.rowCount);
    const rowsPerSplit = Math.ceil(part.rowCount / slices);
    const usedSlices = Math.ceil(part.rowCount / rowsPerSplit);
    const uniform = LINEAR_BACKWARD_PARAMS.encode({ M, N: part.rowCount, K, dyStride: weight.rows, rowOffset: part.rowStart, rowsPerSplit });
    const work = { bytes: part.buffer.size + M * (K + part.rowCount) * 4, flops: 2 * M * part.rowCount * K };
    if (usedSlices === 1) {
      rec.dispatch(ctx.pipeline(...linearBackwardPipeline(weight.type, accumulate, false)), uniform, [part.buffer, a.dy, a.dx], wg, work);
      return;
    }
    const partial = rec.scratch(usedSlices * M * K * 4);
    rec.dispatch(ctx.pipeline(...linearBackwardPipeline(weight.type, false, true)), uniform, [part.buffer, a.dy, partial], [...wg, usedSlices], work);
    rec.dispatch(ctx.pipeline(...linearBackwardReducePipeline(accumulate)), REDUCE_PARAMS.encode({ n: M * K, slices: usedSlices }), [partial, a.dx], groups(ctx, M * K));
  });
}

/** What rmsnorm_backward does with the row's gradient. */
export type RmsNormBackwardMode = 'write' | 'accumulate' | 'in-place';
const MODES: Record<RmsNormBackwardMode, number> = { write: 0, accumulate: 1, 'in-place': 2 };

export interface RmsNormBackwardArgs {
  readonly x: Binding;        // the forward's input rows
  readonly weight: GPUBuffer; // (cols)
  readonly dy: Binding;       // (rows, cols); the result with mode 'in-place'
  readonly dx?: GPUBuffer;    // (dxRowOffset + rows, cols) with 'write' and 'accumulate'
  readonly rows: number;
  readonly cols: number;
  readonly eps: number;
  readonly mode: RmsNormBackwardMode;
  readonly xRowOffset?: number;
  readonly dxRowOffset?: number;
}

const rmsNormWorkgroup = (software: boolean) => (software ? 1 : 256);
export const rmsNormBackwardPipeline = (mode: RmsNormBackwardMode, software: boolean): PipelineKey => [
  'rmsnorm_backward',
  { constants: { MODE: MODES[mode], WG: rmsNormWorkgroup(software) } },
];

export function recordRmsNormBackward(rec: Recorder, ctx: GpuContext, a: RmsNormBackwardArgs): void {
  rec.dispatch(
    ctx.pipeline(...rmsNormBackwardPipeline(a.mode, ctx.caps.software)),
    RMSNORM_BACKWARD_PARAMS.encode({ cols: a.cols, eps: a.eps, rows: a.rows, xRowOffset: a.xRowOffset ?? 0, dxRowOffset: a.dxRowOffset ?? 0 }),
    [a.x, a.weight, a.dy, a.dx ?? ctx.scratchPlaceholder],
    grid(a.rows, ctx.caps.maxComputeWorkgroupsPerDimension),
  );
}

export const gluBackwardPipeline = (activation: FfnActivation): PipelineKey => [
  'glu_backward',
  { constants: { GELU: activation === 'gelu_tanh', WG: WORKGROUP } },
];

/** In place: gate ← d·up·act'(gate), up ← d·act(gate), for n values. */
export function recordGluBackward(rec: Recorder, ctx: GpuContext, gate: GPUBuffer, up: GPUBuffer, d: GPUBuffer, n: number, activation: FfnActivation): void {
  rec.dispatch(ctx.pipeline(...gluBackwardPipeline(activation)), COUNT_PARAMS.encode({ n }), [gate, up, d], groups(ctx, n), { bytes: 20 * n, flops: 20 * n });
}

export interface AttentionBackwardArgs {
  readonly q: GPUBuffer;       // (M, nHead, headDim) after RoPE
  readonly kv: GPUBuffer;      // (2, ctx, nHeadKv, headDim): keys after RoPE and values of positions 0…M-1
  readonly dout: GPUBuffer;    // (M, nHead, headDim)
  /** aux[layer·nHead + h] = bits of 1/T (the model's temperatures). */
  readonly aux: GPUBuffer;
  readonly probs: GPUBuffer;   // scratch (nHead, M, M)
  readonly dscores: GPUBuffer; // scratch (nHead, M, M)
  readonly dq: GPUBuffer;      // (M, nHead, headDim)
  readonly dk: GPUBuffer;      // (M, nHeadKv, headDim)
  readonly dv: GPUBuffer;      // (M, nHeadKv, headDim)
  readonly M: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  readonly ctxLength: number;
  readonly layer: number;
  readonly scale: number;
  readonly softcap: number;
  readonly window: number;
}

export const attentionBackwardPipelines = (): PipelineKey[] =>
  ['attention_backward_scores', 'attention_backward_q', 'attention_backward_kv'].map((op) => [op, { constants: { WG: WORKGROUP } }]);

export function recordAttentionBackward(rec: Recorder, ctx: GpuContext, a: AttentionBackwardArgs): void {
  const [scores, dq, dkv] = attentionBackwardPipelines().map((key) => ctx.pipeline(...key));
  const uniform = ATTENTION_BACKWARD_PARAMS.encode({ ...a, ctx: a.ctxLength });
  const { M, nHead, nHeadKv, headDim } = a;
  rec.dispatch(scores, uniform, [a.q, a.kv, a.dout, a.aux, a.probs, a.dscores], groups(ctx, nHead * M), {
    bytes: 8 * nHead * M * M, flops: 6 * nHead * M * M * headDim,
  });
  rec.dispatch(dq, uniform, [a.kv, a.dscores, a.dq], groups(ctx, M * nHead * headDim), { bytes: 4 * nHead * M * M, flops: nHead * M * M * headDim });
  rec.dispatch(dkv, uniform, [a.q, a.dout, a.probs, a.dscores, a.dk, a.dv], groups(ctx, M * nHeadKv * headDim), {
    bytes: 8 * nHead * M * M, flops: 2 * nHead * M * M * headDim,
  });
}

export const crossEntropyBackwardPipeline = (): PipelineKey => ['cross_entropy_backward', { constants: { WG: WORKGROUP } }];

export interface CrossEntropyBackwardArgs {
  /** (rows, vocab) final logits (after any soft-cap); replaced by ∂L/∂(raw logits). */
  readonly logits: GPUBuffer;
  readonly targets: GPUBuffer; // (rows) u32
  readonly stats: GPUBuffer;   // (rows, LOGPROB_STATS): written here, log p(target) per row (ops/logprob.ts)
  readonly rows: number;
  readonly vocab: number;
  /** The final soft-cap; 0 = none. */
  readonly cap: number;
}

/** L = mean_r −log softmax(logits_r)[target_r]: the row statistics, then the gradient in place. */
export function recordCrossEntropyBackward(rec: Recorder, ctx: GpuContext, a: CrossEntropyBackwardArgs): void {
  recordLogprobStats(rec, ctx, { logits: a.logits, targets: a.targets, stats: a.stats, rows: a.rows, vocab: a.vocab, firstRow: 0 });
  const n = a.rows * a.vocab;
  rec.dispatch(
    ctx.pipeline(...crossEntropyBackwardPipeline()),
    CROSS_ENTROPY_PARAMS.encode({ rows: a.rows, vocab: a.vocab, invCount: 1 / a.rows, cap: a.cap }),
    [a.logits, a.targets, a.stats],
    groups(ctx, n),
    { bytes: 8 * n, flops: 6 * n },
  );
}
