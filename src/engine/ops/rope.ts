// Rotary embedding in place on (M, nHeads, headDim) at positions posStart…, normal or NeoX pairs;
// a batch of equal-length sequences after a shared prefix restarts at posStart for each sequence.

import type { RopeStyle } from '../config';
import type { GpuContext, PipelineKey } from '../gpu';
import { grid, type Binding, type Recorder } from '../recorder';
import { defineUniform } from '../uniforms';

/** Threads per workgroup (the shader's override WG), one rotated pair each. */
const WORKGROUP = 64;

/** `Params` of shaders/rope.wgsl. */
export const ROPE_PARAMS = defineUniform({ M: 'u32', nHeads: 'u32', headDim: 'u32', posStart: 'u32', seqLen: 'u32' });

/**
 * (positions, headDim/2, 2) table of cos θ, sin θ with θ = pos · freqScale · base^(-2i/d) / factor[i],
 * computed in float64 and rounded once to f32.
 */
export function ropeTable(positions: number, headDim: number, base: number, factors?: Float32Array, freqScale = 1): Float32Array {
  const half = headDim / 2;
  const table = new Float32Array(positions * half * 2);
  for (let i = 0; i < half; i++) {
    const invFreq = (freqScale * base ** (-(2 * i) / headDim)) / (factors ? factors[i] : 1);
    for (let pos = 0; pos < positions; pos++) {
      table[(pos * half + i) * 2] = Math.cos(pos * invFreq);
      table[(pos * half + i) * 2 + 1] = Math.sin(pos * invFreq);
    }
  }
  return table;
}

export const ropePipeline = (style: RopeStyle, inverse = false): PipelineKey => [
  'rope',
  { constants: { NEOX: style === 'neox', INVERSE: inverse, WG: WORKGROUP } },
];

export function recordRope(
  rec: Recorder,
  ctx: GpuContext,
  args: {
    /** Rotated in place: a buffer, or a range of one (a chunk's keys in the KV cache). */
    x: Binding;
    table: GPUBuffer;
    M: number;
    nHeads: number;
    headDim: number;
    posStart: number;
    style: RopeStyle;
    /** 0 or absent: token m is at posStart + m; > 0: at posStart + m % seqLen (a batch of sequences). */
    seqLen?: number;
    /** Rotate back by the same angles: the gradient of RoPE (backward.ts). */
    inverse?: boolean;
  },
): void {
  const threads = args.M * args.nHeads * (args.headDim / 2);
  rec.dispatch(
    ctx.pipeline(...ropePipeline(args.style, args.inverse)),
    ROPE_PARAMS.encode({ ...args, seqLen: args.seqLen ?? 0 }),
    [args.x, args.table],
    grid(Math.ceil(threads / WORKGROUP), ctx.caps.maxComputeWorkgroupsPerDimension),
  );
}
