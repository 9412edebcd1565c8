// Y(M, N) = X(M, K) · Wᵀ (+ bias) for a quantized weight matrix W (N × K), over its row parts.

import type { GpuContext } from '../gpu';
import type { Recorder } from '../recorder';
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

/**
 * Up to this many tokens a row-per-subgroup matrix-vector kernel beats the tiled one: weights
 * are read once per 4 tokens, and no workgroup barrier is needed (CPU emulations such as
 * SwiftShader pay dearly for barriers). Without subgroups the barrier-reduction kernel is used
 * only for decode-sized batches.
 */
const SUBGROUP_MATVEC_MAX_TOKENS = 32;
const MATVEC_MAX_TOKENS = 4;

export function recordMatmul(rec: Recorder, ctx: GpuContext, args: MatmulArgs): void {
  const { weight, M } = args;
  const K = weight.cols;
  const kernel =
    ctx.caps.subgroups && M <= SUBGROUP_MATVEC_MAX_TOKENS ? 'matvec_subgroups' : M <= MATVEC_MAX_TOKENS ? 'matvec' : 'matmul';
  const pipeline = ctx.pipeline(kernel, { weights: weight.type, constants: { HAS_BIAS: args.bias !== undefined } });
  for (const part of weight.parts) {
    const uniform = [M, part.rowCount, K, weight.rows, part.rowStart, args.xRowOffset ?? 0, 0, 0];
    const workgroups =
      kernel === 'matvec_subgroups'
        ? [Math.ceil(part.rowCount / 16), Math.ceil(M / 4)]
        : kernel === 'matvec'
          ? [Math.ceil(part.rowCount / 8), M]
          : [Math.ceil(part.rowCount / 32), Math.ceil(M / 32)];
    rec.dispatch(pipeline, uniform, [part.buffer, args.x, args.y, args.bias ?? ctx.placeholder], workgroups);
  }
}
