// Element-wise kernels on the residual stream and the FFN: x += y, gate = silu(gate) · up.

import type { GpuContext } from '../gpu';
import { grid, type Recorder } from '../recorder';

function recordElementwise(rec: Recorder, ctx: GpuContext, op: string, target: GPUBuffer, operand: GPUBuffer, n: number) {
  rec.dispatch(ctx.pipeline(op), [n], [target, operand], grid(Math.ceil(n / 256), ctx.caps.maxComputeWorkgroupsPerDimension));
}

/** x[i] += y[i] for i < n. */
export function recordAdd(rec: Recorder, ctx: GpuContext, x: GPUBuffer, y: GPUBuffer, n: number) {
  recordElementwise(rec, ctx, 'add', x, y, n);
}

/** gate[i] = silu(gate[i]) · up[i] for i < n. */
export function recordSwiGlu(rec: Recorder, ctx: GpuContext, gate: GPUBuffer, up: GPUBuffer, n: number) {
  recordElementwise(rec, ctx, 'swiglu', gate, up, n);
}
