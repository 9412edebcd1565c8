// RMSNorm over rows: out(rows, cols) = norm(x rows [inRowOffset, …)) · weight, or in place on x.

import type { GpuContext, PipelineKey } from '../gpu';
import { grid, type Binding, type Recorder } from '../recorder';
import { defineUniform } from '../uniforms';

/** `Params` of shaders/rmsnorm.wgsl. */
export const RMSNORM_PARAMS = defineUniform({ cols: 'u32', eps: 'f32', inRowOffset: 'u32', rows: 'u32' });

export interface RmsNormArgs {
  readonly x: Binding;
  readonly weight: GPUBuffer; // (cols)
  /** Omit to normalise x in place. */
  readonly out?: GPUBuffer;
  readonly rows: number;
  readonly cols: number;
  readonly eps: number;
  readonly inRowOffset?: number;
}

/** Invocations per row: 256 on GPUs; 1 on CPU emulations, where the reduction's barriers cost more than the row. */
const rmsNormWorkgroup = (software: boolean) => (software ? 1 : 256);

export const rmsNormPipeline = (inPlace: boolean, software = false): PipelineKey => [
  'rmsnorm',
  { constants: { IN_PLACE: inPlace, WG: rmsNormWorkgroup(software) } },
];

export function recordRmsNorm(rec: Recorder, ctx: GpuContext, args: RmsNormArgs): void {
  // One workgroup per row: the workgroup size never enters the dispatch.
  rec.dispatch(
    ctx.pipeline(...rmsNormPipeline(args.out === undefined, ctx.caps.software)),
    RMSNORM_PARAMS.encode({ cols: args.cols, eps: args.eps, inRowOffset: args.inRowOffset ?? 0, rows: args.rows }),
    [args.x, args.weight, args.out ?? ctx.scratchPlaceholder],
    grid(args.rows, ctx.caps.maxComputeWorkgroupsPerDimension),
  );
}
