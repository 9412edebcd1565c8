// Y(M, N) = X(M, K) · Wᵀ (+ bias) for a quantized weight matrix W (N × K), over its row parts.

import type { GGMLType } from '../../gguf/types';
import type { Capabilities, GpuContext, PipelineKey } from '../gpu';
import type { Recorder } from '../recorder';
import { defineUniform } from '../uniforms';
import type { GpuMatrix } from '../weights';

export interface MatmulArgs {
  readonly weight: GpuMatrix;
  readonly x: GPUBuffer;      // (xRowOffset + M, K)
  readonly y: GPUBuffer;      // (M, N)
  readonly M: number;
  readonly bias?: GPUBuffer;  // (N)
  /** First row of x to read (for computing only the last rows' logits). */
  readonly xRowOffset?: number;
}

/** `Params` of shaders/linear.wgsl, shared by the three matrix kernels. */
export const LINEAR_PARAMS = defineUniform({
  M: 'u32', N: 'u32', K: 'u32', outStride: 'u32', rowOffset: 'u32', xRowOffset: 'u32', _pad0: 'u32', _pad1: 'u32',
});

export type LinearKernel = 'matvec_subgroups' | 'matvec' | 'matmul';

/**
 * Up to this many tokens a row-per-subgroup matrix-vector kernel beats the tiled one: weights
 * are read once per 4 tokens, and no workgroup barrier is needed (CPU emulations such as
 * SwiftShader pay dearly for barriers). Without subgroups the barrier-reduction kernel is used
 * only for decode-sized batches.
 */
const SUBGROUP_MATVEC_MAX_TOKENS = 32;
export const MATVEC_MAX_TOKENS = 4;

/** Output tile edge of `matmul` (override TILE): (TILE/2)² threads compute 2×2 outputs each. */
const MATMUL_TILE = 32;
/** Weight rows per `matvec` workgroup (override ROWS), 32 lanes each. */
const MATVEC_ROWS = 8;
/** Weight rows per `matvec_subgroups` workgroup (override ROWS), one subgroup at a time each. */
const SUBGROUP_MATVEC_ROWS = 16;
/**
 * Tokens per `matvec_subgroups` workgroup. The shader keeps its own `const TOKENS` because it sizes
 * a per-thread array, which WGSL cannot size by an override; kernels-uniforms.test.ts holds the two equal.
 */
export const SUBGROUP_MATVEC_TOKENS = 4;

/** The kernel for M tokens on this device. */
export function linearKernel(caps: Capabilities, M: number): LinearKernel {
  return caps.subgroups && M <= SUBGROUP_MATVEC_MAX_TOKENS ? 'matvec_subgroups' : M <= MATVEC_MAX_TOKENS ? 'matvec' : 'matmul';
}

/** Every kernel `linearKernel` can pick on this device, for precompiling. */
export function linearKernels(caps: Capabilities): LinearKernel[] {
  return caps.subgroups ? ['matvec_subgroups', 'matmul'] : ['matvec', 'matmul'];
}

const TILE_CONSTANTS: Record<LinearKernel, Record<string, number>> = {
  matvec_subgroups: { ROWS: SUBGROUP_MATVEC_ROWS },
  matvec: { ROWS: MATVEC_ROWS },
  matmul: { TILE: MATMUL_TILE },
};

export const linearPipeline = (kernel: LinearKernel, weights: GGMLType, hasBias: boolean): PipelineKey => [
  kernel,
  { weights, constants: { HAS_BIAS: hasBias, ...TILE_CONSTANTS[kernel] } },
];

/** Workgroups for rows × M outputs: weight rows along x, tokens along y. */
function workgroups(kernel: LinearKernel, rows: number, M: number): [number, number] {
  switch (kernel) {
    case 'matvec_subgroups':
      return [Math.ceil(rows / SUBGROUP_MATVEC_ROWS), Math.ceil(M / SUBGROUP_MATVEC_TOKENS)];
    case 'matvec':
      return [Math.ceil(rows / MATVEC_ROWS), M];
    case 'matmul':
      return [Math.ceil(rows / MATMUL_TILE), Math.ceil(M / MATMUL_TILE)];
  }
}

export function recordMatmul(rec: Recorder, ctx: GpuContext, args: MatmulArgs): void {
  const { weight, M } = args;
  const kernel = linearKernel(ctx.caps, M);
  const pipeline = ctx.pipeline(...linearPipeline(kernel, weight.type, args.bias !== undefined));
  for (const part of weight.parts) {
    const uniform = LINEAR_PARAMS.encode({
      M, N: part.rowCount, K: weight.cols, outStride: weight.rows, rowOffset: part.rowStart, xRowOffset: args.xRowOffset ?? 0,
    });
    rec.dispatch(pipeline, uniform, [part.buffer, args.x, args.y, args.bias ?? ctx.placeholder], workgroups(kernel, part.rowCount, M));
  }
}
