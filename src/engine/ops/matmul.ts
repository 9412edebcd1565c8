// Y(M, N) = X(M, K) · Wᵀ (+ bias) for a quantized weight matrix W (N × K), over its row parts.

import type { GGMLType } from '../../gguf/types';
import type { Capabilities, GpuContext, PipelineKey } from '../gpu';
import { grid, type Binding, type Recorder } from '../recorder';
import { defineUniform } from '../uniforms';
import type { GpuMatrix } from '../weights';

export interface MatmulArgs {
  readonly weight: GpuMatrix;
  readonly x: GPUBuffer;      // (xRowOffset + M, K)
  readonly y: Binding;        // (M, N): a buffer, or a range of one (the KV cache rows of a chunk)
  readonly M: number;
  readonly bias?: GPUBuffer;  // (N)
  /** First row of x to read (for computing only the last rows' logits). */
  readonly xRowOffset?: number;
  /** Forces a kernel (tests and the kernel bench run every variant); default `linearKernel`. */
  readonly kernel?: LinearKernel;
  /** y += X·Wᵀ instead of y = X·Wᵀ: the residual add folded into the matmul's last write. */
  readonly accumulate?: boolean;
}

/** `Params` of shaders/linear.wgsl, shared by the three matrix kernels. */
export const LINEAR_PARAMS = defineUniform({
  M: 'u32', N: 'u32', K: 'u32', outStride: 'u32', rowOffset: 'u32', xRowOffset: 'u32', _pad0: 'u32', _pad1: 'u32',
});

/** `Params` of shaders/dequant.wgsl. */
export const DEQUANT_PARAMS = defineUniform({ rows: 'u32', K: 'u32', rowStart: 'u32', _pad0: 'u32' });

/**
 * The matrix kernels. GPUs: `matvec_subgroups` (or `matvec` without subgroups) for few tokens,
 * the workgroup-memory tiled `matmul` for more. CPU emulations of a GPU (caps.software): the
 * barrier-free `matvec_rows` for few tokens, and `matmul_blocked` (decode the weights to f32 rows
 * once, then 4×4 register blocks) for more. Every kernel runs on every adapter, so all are tested.
 */
export type LinearKernel = 'matvec_subgroups' | 'matvec' | 'matmul' | 'matvec_rows' | 'matmul_blocked';

/**
 * Up to this many tokens a row-per-subgroup matrix-vector kernel beats the tiled one: weights
 * are read once per 4 tokens, and no workgroup barrier is needed. Without subgroups the
 * barrier-reduction kernel is used only for decode-sized batches.
 */
const SUBGROUP_MATVEC_MAX_TOKENS = 32;
export const MATVEC_MAX_TOKENS = 4;
/** Software adapters: up to this many tokens, matvec_rows (it decodes each weight once per token). */
export const ROWS_MATVEC_MAX_TOKENS = 2;

/** Output tile edge of `matmul`: the shader's `const TILE` (16×16 threads of 4×4 outputs; kernels-uniforms.test.ts holds them equal). */
export const MATMUL_TILE = 64;
/** Weight rows per `matvec` workgroup (override ROWS), 32 lanes each. */
const MATVEC_ROWS = 8;
/** Weight rows per `matvec_subgroups` workgroup (override ROWS), one subgroup at a time each. */
const SUBGROUP_MATVEC_ROWS = 16;
/**
 * Tokens per `matvec_subgroups` workgroup. The shader keeps its own `const TOKENS` because it sizes
 * a per-thread array, which WGSL cannot size by an override; kernels-uniforms.test.ts holds the two equal.
 */
export const SUBGROUP_MATVEC_TOKENS = 4;
/** Invocations per workgroup of matvec_rows, matmul_blocked and dequant (override WG). */
const SOFTWARE_WG = 64;
/** Weight rows per invocation of matvec_rows and matmul_blocked (written out by hand in both shaders). */
const SOFTWARE_ROWS = 4;
/** Tokens per invocation of matmul_blocked (written out by hand in the shader). */
const BLOCKED_TOKENS = 4;
/** The f32 rows matmul_blocked reads are decoded in slices of at most this many weights (64 MiB). */
const DEQUANT_SLICE_WEIGHTS = 16 * 2 ** 20;

/** The kernel for M tokens on this device. */
export function linearKernel(caps: Capabilities, M: number): LinearKernel {
  if (caps.software) return M <= ROWS_MATVEC_MAX_TOKENS ? 'matvec_rows' : 'matmul_blocked';
  return caps.subgroups && M <= SUBGROUP_MATVEC_MAX_TOKENS ? 'matvec_subgroups' : M <= MATVEC_MAX_TOKENS ? 'matvec' : 'matmul';
}

/** Every kernel `linearKernel` can pick on this device, for precompiling. */
export function linearKernels(caps: Capabilities): LinearKernel[] {
  if (caps.software) return ['matvec_rows', 'matmul_blocked'];
  return caps.subgroups ? ['matvec_subgroups', 'matmul'] : ['matvec', 'matmul'];
}

const TILE_CONSTANTS: Record<LinearKernel, Record<string, number>> = {
  matvec_subgroups: { ROWS: SUBGROUP_MATVEC_ROWS },
  matvec: { ROWS: MATVEC_ROWS },
  matmul: {},
  matvec_rows: { WG: SOFTWARE_WG },
  matmul_blocked: { WG: SOFTWARE_WG },
};

/** The pipelines a kernel dispatches for this weight type: matmul_blocked's multiply, then its decode pass. */
export function linearPipelines(kernel: LinearKernel, weights: GGMLType, hasBias: boolean, accumulate = false): PipelineKey[] {
  if (kernel !== 'matmul_blocked')
    return [[kernel, { weights, constants: { HAS_BIAS: hasBias, ACCUMULATE: accumulate, ...TILE_CONSTANTS[kernel] } }]];
  return [
    ['matmul_blocked', { constants: { HAS_BIAS: hasBias, ACCUMULATE: accumulate, WG: SOFTWARE_WG } }],
    ['dequant', { weights, constants: { WG: SOFTWARE_WG } }],
  ];
}

/** Workgroups for rows × M outputs: weight rows along x, tokens along y. */
function workgroups(kernel: LinearKernel, rows: number, M: number): [number, number] {
  switch (kernel) {
    case 'matvec_subgroups':
      return [Math.ceil(rows / SUBGROUP_MATVEC_ROWS), Math.ceil(M / SUBGROUP_MATVEC_TOKENS)];
    case 'matvec':
      return [Math.ceil(rows / MATVEC_ROWS), M];
    case 'matvec_rows':
      return [Math.ceil(rows / (SOFTWARE_WG * SOFTWARE_ROWS)), M];
    case 'matmul_blocked':
      return [Math.ceil(rows / (SOFTWARE_WG * SOFTWARE_ROWS)), Math.ceil(M / BLOCKED_TOKENS)];
    case 'matmul':
      return [Math.ceil(rows / MATMUL_TILE), Math.ceil(M / MATMUL_TILE)];
  }
}

export function recordMatmul(rec: Recorder, ctx: GpuContext, args: MatmulArgs): void {
  const { weight, M } = args;
  let kernel = args.kernel ?? linearKernel(ctx.caps, M);
  // matmul_blocked reads rows as vec4: rows whose length is not a multiple of 4 (tiny float test
  // matrices only) take matvec_rows, which handles any length.
  if (kernel === 'matmul_blocked' && weight.cols % 4 !== 0) kernel = 'matvec_rows';
  const [pipelineKey, dequantKey] = linearPipelines(kernel, weight.type, args.bias !== undefined, args.accumulate ?? false);
  const pipeline = ctx.pipeline(...pipelineKey);
  const K = weight.cols;
  for (const part of weight.parts) {
    const params = { M, K, outStride: weight.rows, xRowOffset: args.xRowOffset ?? 0 };
    const bias = args.bias ?? ctx.placeholder;
    if (kernel !== 'matmul_blocked') {
      const uniform = LINEAR_PARAMS.encode({ ...params, N: part.rowCount, rowOffset: part.rowStart });
      const work = { bytes: part.buffer.size + M * (K + part.rowCount) * 4, flops: 2 * M * part.rowCount * K };
      rec.dispatch(pipeline, uniform, [part.buffer, args.x, args.y, bias], workgroups(kernel, part.rowCount, M), work);
      continue;
    }
    // Decode a slice of rows to f32 in the recorder's scratch buffer, multiply, next slice (the
    // dispatches of one submit run in order, so one scratch buffer serves every slice and matmul).
    const sliceRows = Math.max(1, Math.min(part.rowCount, Math.floor(DEQUANT_SLICE_WEIGHTS / K), Math.floor(ctx.caps.maxStorageBufferBindingSize / (4 * K))));
    const dequant = ctx.pipeline(...dequantKey);
    for (let start = 0; start < part.rowCount; start += sliceRows) {
      const rows = Math.min(sliceRows, part.rowCount - start);
      const scratch = rec.scratch(rows * K * 4);
      const blocks = rows * Math.ceil(K / 32);
      rec.dispatch(dequant, DEQUANT_PARAMS.encode({ rows, K, rowStart: start }), [part.buffer, { buffer: scratch, size: rows * K * 4 }],
        grid(Math.ceil(blocks / SOFTWARE_WG), ctx.caps.maxComputeWorkgroupsPerDimension),
        { bytes: part.buffer.size * (rows / part.rowCount) + rows * K * 4, flops: 0 });
      const uniform = LINEAR_PARAMS.encode({ ...params, N: rows, rowOffset: part.rowStart + start });
      rec.dispatch(pipeline, uniform, [{ buffer: scratch, size: rows * K * 4 }, args.x, args.y, bias], workgroups(kernel, rows, M),
        { bytes: rows * K * 4 + M * (K + rows) * 4, flops: 2 * M * rows * K });
    }
  }
}
