// log p(target) of rows of logits without reading the rows back (shaders/logprob.wgsl): the GPU
// reduces each row to (target logit, max, Σ exp(logit − max)); the CPU finishes in float64.

import type { GpuContext, PipelineKey } from '../gpu';
import type { Recorder } from '../recorder';
import { defineUniform } from '../uniforms';

/** `Params` of shaders/logprob.wgsl. */
export const LOGPROB_PARAMS = defineUniform({ rows: 'u32', vocab: 'u32', firstRow: 'u32' });

/** Floats of statistics per row. */
export const LOGPROB_STATS = 3;

export const logprobPipeline = (): PipelineKey => ['logprob', {}];

export interface LogprobArgs {
  readonly logits: GPUBuffer;  // (rows, vocab)
  readonly targets: GPUBuffer; // (firstRow + rows) u32 token ids
  readonly stats: GPUBuffer;   // (firstRow + rows, LOGPROB_STATS)
  readonly rows: number;
  readonly vocab: number;
  readonly firstRow: number;
}

export function recordLogprobStats(rec: Recorder, ctx: GpuContext, a: LogprobArgs): void {
  // One workgroup per row: the workgroup size never enters the dispatch.
  rec.dispatch(ctx.pipeline(...logprobPipeline()), LOGPROB_PARAMS.encode(a), [a.logits, a.targets, a.stats], [a.rows], {
    bytes: 8 * a.rows * a.vocab,
    flops: 4 * a.rows * a.vocab,
  });
}

/** log p(target) of row `row` from its statistics, in float64. */
export function logprobFromStats(stats: Float32Array, row: number): number {
  const [logit, max, sum] = stats.subarray(row * LOGPROB_STATS, (row + 1) * LOGPROB_STATS);
  return logit - max - Math.log(sum);
}
