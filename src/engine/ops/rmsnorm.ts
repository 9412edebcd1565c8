// out(rows, cols) = RMSNorm(x rows [inRowOffset, inRowOffset + rows)) · weight.

import type { GpuContext } from '../gpu';
import { f32, type Recorder } from '../recorder';

export function recordRmsNorm(
  rec: Recorder,
  ctx: GpuContext,
  args: { x: GPUBuffer; weight: GPUBuffer; out: GPUBuffer; rows: number; cols: number; eps: number; inRowOffset?: number },
): void {
  rec.dispatch(ctx.pipeline('rmsnorm'), [args.cols, f32(args.eps), args.inRowOffset ?? 0, 0], [args.x, args.weight, args.out], [args.rows]);
}
