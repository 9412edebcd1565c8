// The benches' matrices: seeded random weights of any type uploaded as the engine uploads a GGUF
// tensor, and the square f32 matmul rate of the adapter's own prefill kernel (the prefill target
// is a share of it).

import type { GpuContext } from '../src/engine/gpu';
import { linearKernel, recordMatmul } from '../src/engine/ops/matmul';
import { Recorder } from '../src/engine/recorder';
import { uploadMatrix, type GpuMatrix } from '../src/engine/weights';
import type { GgufFile } from '../src/gguf/reader';
import { blobSource } from '../src/gguf/source';
import { encodeTensor } from '../src/gguf/quantize';
import { GGMLType } from '../src/gguf/types';

/** Seeded values in [-0.5, 0.5). */
export function randomFloats(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

/** A (rows × cols) matrix of seeded random weights, quantized to `type` and uploaded. */
export async function uploadRandomMatrix(ctx: GpuContext, type: GGMLType, rows: number, cols: number, seed = 1): Promise<GpuMatrix> {
  const bytes = encodeTensor(type, randomFloats(rows * cols, seed));
  const file = { source: blobSource(new Blob([bytes as BlobPart]), 'bench'), size: bytes.length, metadata: {}, tensors: new Map() } as GgufFile;
  return uploadMatrix({ ctx, file, onBytes: () => {} }, { name: 'w', type, dims: [cols, rows], offset: 0, byteSize: bytes.length });
}

/** FLOP/s of the adapter's prefill kernel on a (size × size) f32 matmul, best of three. */
export async function measureSquareMatmul(ctx: GpuContext, size: number): Promise<number> {
  const weight = await uploadRandomMatrix(ctx, GGMLType.F32, size, size);
  const buffer = (floats: number) => ctx.device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.STORAGE });
  const x = buffer(size * size);
  const y = buffer(size * size);
  const rec = new Recorder(ctx);
  try {
    const kernel = linearKernel(ctx.caps, size);
    const run = async () => {
      recordMatmul(rec, ctx, { weight, x, y, M: size, kernel });
      const started = performance.now();
      rec.submit();
      await ctx.device.queue.onSubmittedWorkDone();
      return (performance.now() - started) / 1000;
    };
    await run();
    const best = Math.min(await run(), await run(), await run());
    ctx.assertAlive();
    return (2 * size ** 3) / best;
  } finally {
    rec.destroy();
    for (const b of [x, y, ...weight.parts.map((p) => p.buffer)]) b.destroy();
  }
}
