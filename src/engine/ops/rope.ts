// Rotary embedding in place on (M, nHeads, headDim) at positions posStart…, normal or NeoX pairs.

import type { RopeStyle } from '../config';
import type { GpuContext } from '../gpu';
import { grid, type Recorder } from '../recorder';

/**
 * (positions, headDim/2, 2) table of cos θ, sin θ with θ = pos · base^(-2i/d) / factor[i],
 * computed in float64 and rounded once to f32.
 */
export function ropeTable(positions: number, headDim: number, base: number, factors?: Float32Array): Float32Array {
  const half = headDim / 2;
  const table = new Float32Array(positions * half * 2);
  for (let i = 0; i < half; i++) {
    const invFreq = base ** (-(2 * i) / headDim) / (factors ? factors[i] : 1);
    for (let pos = 0; pos < positions; pos++) {
      table[(pos * half + i) * 2] = Math.cos(pos * invFreq);
      table[(pos * half + i) * 2 + 1] = Math.sin(pos * invFreq);
    }
  }
  return table;
}

export function recordRope(
  rec: Recorder,
  ctx: GpuContext,
  args: { x: GPUBuffer; table: GPUBuffer; M: number; nHeads: number; headDim: number; posStart: number; style: RopeStyle },
): void {
  const pipeline = ctx.pipeline('rope', { constants: { NEOX: args.style === 'neox' } });
  const threads = args.M * args.nHeads * (args.headDim / 2);
  rec.dispatch(pipeline, [args.M, args.nHeads, args.headDim, args.posStart], [args.x, args.table], grid(Math.ceil(threads / 64), ctx.caps.maxComputeWorkgroupsPerDimension));
}
