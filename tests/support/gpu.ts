// Test support: one Dawn GPU context per test file, buffers from arrays, poisoned outputs, readback.

import { GpuContext, type GpuContextOptions } from '../../src/engine/gpu';
import { nodePlatform } from '../../src/engine/platform-node';
import { mulberry32 } from '../../src/util/random';

/** `{ subgroups: false }` runs the kernels of devices without subgroups on any adapter. */
export async function createTestContext(options?: GpuContextOptions): Promise<GpuContext> {
  return GpuContext.create(await nodePlatform(), options);
}

const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function bufferFrom(ctx: GpuContext, data: Float32Array | Uint32Array | Uint8Array): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
  const buffer = ctx.device.createBuffer({ size, usage: USAGE() });
  const padded = new Uint8Array(size);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  ctx.device.queue.writeBuffer(buffer, 0, padded);
  return buffer;
}

/** A buffer of `floats` NaNs: any element a kernel forgets to write shows up as NaN. */
export function poisonedBuffer(ctx: GpuContext, floats: number): GPUBuffer {
  return bufferFrom(ctx, new Float32Array(Math.max(floats, 4)).fill(NaN));
}

export async function readFloats(ctx: GpuContext, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  const staging = ctx.device.createBuffer({ size: Math.max(16, floats * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = ctx.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, Math.max(16, floats * 4));
  ctx.device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, floats * 4));
  staging.destroy();
  ctx.assertAlive();
  return out;
}

export async function readUints(ctx: GpuContext, buffer: GPUBuffer, count: number): Promise<Uint32Array> {
  return new Uint32Array((await readFloats(ctx, buffer, count)).buffer);
}

/** Seeded standard-normal-ish numbers (sum of uniforms from mulberry32). */
export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const uniform = mulberry32(seed);
  return Float32Array.from({ length }, () => (uniform() + uniform() + uniform() - 1.5) * 2 * scale);
}

export interface Mismatch {
  index: number;
  got: number;
  want: number;
}

/**
 * Relative error max|got − want| / max|want| (NaN counts as infinite), with the first
 * mismatches beyond `tolerance` for a readable failure.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number) {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) maxRef = Math.max(maxRef, Math.abs(want[i]));
  const mismatches: Mismatch[] = [];
  for (let i = 0; i < want.length; i++) {
    const diff = Number.isNaN(got[i]) ? Infinity : Math.abs(got[i] - want[i]);
    maxDiff = Math.max(maxDiff, diff);
    if (diff > tolerance * Math.max(maxRef, 1e-30) && mismatches.length < 5) mismatches.push({ index: i, got: got[i], want: want[i] });
  }
  return { relative: maxDiff / Math.max(maxRef, 1e-30), absolute: maxDiff, mismatches, lengthOk: got.length >= want.length };
}
