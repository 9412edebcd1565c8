// mass(nRows, nSpans) = Σ over each half-open key span of each exported attention row.

import type { GpuContext } from '../gpu';
import { grid, type Recorder } from '../recorder';

export function recordSpanMass(
  rec: Recorder,
  ctx: GpuContext,
  args: { rows: GPUBuffer; spans: GPUBuffer; mass: GPUBuffer; nRows: number; rowLength: number; nSpans: number },
): void {
  const threads = args.nRows * args.nSpans;
  rec.dispatch(
    ctx.pipeline('span_mass'),
    [args.nRows, args.rowLength, args.nSpans, 0],
    [args.rows, args.spans, args.mass],
    grid(Math.ceil(threads / 64), ctx.caps.maxComputeWorkgroupsPerDimension),
  );
}
