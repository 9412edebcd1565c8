// Element-wise kernels: the residual add, the gated FFN activation, and logit soft-capping.

import type { FfnActivation } from '../config';
import type { GpuContext } from '../gpu';
import { f32, grid, type Recorder } from '../recorder';

const groups = (ctx: GpuContext, n: number) => grid(Math.ceil(n / 256), ctx.caps.maxComputeWorkgroupsPerDimension);

/** x[i] += y[i] for i < n. */
export function recordAdd(rec: Recorder, ctx: GpuContext, x: GPUBuffer, y: GPUBuffer, n: number) {
  rec.dispatch(ctx.pipeline('add'), [n], [x, y], groups(ctx, n));
}

/** gate[i] = act(gate[i]) · up[i] for i < n (SwiGLU or GeGLU). */
export function recordGatedActivation(rec: Recorder, ctx: GpuContext, gate: GPUBuffer, up: GPUBuffer, n: number, activation: FfnActivation) {
  rec.dispatch(ctx.pipeline('glu', { constants: { GELU: activation === 'gelu_tanh' } }), [n], [gate, up], groups(ctx, n));
}

/** x[i] = cap · tanh(x[i] / cap) for i < n. */
export function recordSoftcap(rec: Recorder, ctx: GpuContext, x: GPUBuffer, n: number, cap: number) {
  rec.dispatch(ctx.pipeline('softcap'), [n, f32(cap)], [x], groups(ctx, n));
}
