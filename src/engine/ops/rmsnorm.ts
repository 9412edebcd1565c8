// RMSNorm over rows: out(rows, cols) = norm(x rows [inRowOffset, …)) · weight, or in place on x.

import type { GpuContext } from '../gpu';
import { f32, grid, type Recorder } from '../recorder';

export interface RmsNormArgs {
  readonly x: GPUBuffer;
  readonly weight: GPUBuffer; // (cols)
  /** Omit to normalise x in place. */
  readonly out?: GPUBuffer;
  readonly rows: number;
  readonly cols: number;
  readonly eps: number;
  readonly inRowOffset?: number;
}

export function recordRmsNorm(rec: Recorder, ctx: GpuContext, args: RmsNormArgs): void {
  const inPlace = args.out === undefined;
  rec.dispatch(
    ctx.pipeline('rmsnorm', { constants: { IN_PLACE: inPlace } }),
    [args.cols, f32(args.eps), args.inRowOffset ?? 0, args.rows],
    [args.x, args.weight, args.out ?? ctx.scratchPlaceholder],
    grid(args.rows, ctx.caps.maxComputeWorkgroupsPerDimension),
  );
}
