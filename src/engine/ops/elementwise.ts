// Element-wise kernels: the residual add, the gated FFN activation, and logit soft-capping.

import type { FfnActivation } from '../config';
import type { GpuContext, PipelineKey } from '../gpu';
import { grid, type Recorder } from '../recorder';
import { defineUniform } from '../uniforms';

/** Threads per workgroup of add, glu and softcap (their override WG), one element each. */
const WORKGROUP = 256;

/** `Params` of shaders/add.wgsl and shaders/glu.wgsl. */
export const COUNT_PARAMS = defineUniform({ n: 'u32' });
/** `Params` of shaders/softcap.wgsl. */
export const SOFTCAP_PARAMS = defineUniform({ n: 'u32', cap: 'f32' });

export const addPipeline = (): PipelineKey => ['add', { constants: { WG: WORKGROUP } }];
export const gluPipeline = (activation: FfnActivation): PipelineKey => ['glu', { constants: { GELU: activation === 'gelu_tanh', WG: WORKGROUP } }];
export const softcapPipeline = (): PipelineKey => ['softcap', { constants: { WG: WORKGROUP } }];

const groups = (ctx: GpuContext, n: number) => grid(Math.ceil(n / WORKGROUP), ctx.caps.maxComputeWorkgroupsPerDimension);

/** x[i] += y[i] for i < n. */
export function recordAdd(rec: Recorder, ctx: GpuContext, x: GPUBuffer, y: GPUBuffer, n: number) {
  rec.dispatch(ctx.pipeline(...addPipeline()), COUNT_PARAMS.encode({ n }), [x, y], groups(ctx, n), { bytes: 12 * n, flops: n });
}

/** gate[i] = act(gate[i]) · up[i] for i < n (SwiGLU or GeGLU). */
export function recordGatedActivation(rec: Recorder, ctx: GpuContext, gate: GPUBuffer, up: GPUBuffer, n: number, activation: FfnActivation) {
  rec.dispatch(ctx.pipeline(...gluPipeline(activation)), COUNT_PARAMS.encode({ n }), [gate, up], groups(ctx, n), { bytes: 12 * n, flops: 8 * n });
}

/** x[i] = cap · tanh(x[i] / cap) for i < n. */
export function recordSoftcap(rec: Recorder, ctx: GpuContext, x: GPUBuffer, n: number, cap: number) {
  rec.dispatch(ctx.pipeline(...softcapPipeline()), SOFTCAP_PARAMS.encode({ n, cap }), [x], groups(ctx, n), { bytes: 8 * n, flops: 4 * n });
}
