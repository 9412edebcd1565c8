// Matrix kernels (GPUs' matvec_subgroups, matvec and tiled matmul; CPU emulations' matvec_rows and
// matmul_blocked) and embedding lookup for every weight type against float64 on awkward shapes,
// including weights split over several buffers. Every kernel runs on whatever adapter runs the tests.

import { afterAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { recordEmbedding } from '../../src/engine/ops/embedding';
import { linearKernel, MATVEC_MAX_TOKENS, recordMatmul, ROWS_MATVEC_MAX_TOKENS, type LinearKernel } from '../../src/engine/ops/matmul';
import { Recorder } from '../../src/engine/recorder';
import { packedRowBytes, uploadMatrix, type GpuMatrix } from '../../src/engine/weights';
import type { GgufFile } from '../../src/gguf/reader';
import { blobSource } from '../../src/gguf/source';
import { blockGeometry, GGMLType, typeName } from '../../src/gguf/types';
import { dequantize } from '../../src/reference/dequant';
import { encodeTensor } from '../../src/gguf/quantize';
import { bufferFrom, compare, createTestContext, poisonedBuffer, randomArray, readFloats } from '../support/gpu';

// Created while collecting, because which tests exist depends on the adapter having subgroups.
/** Uses subgroups where the adapter has them (the production default). */
const ctx = await createTestContext();
const hasSubgroups = ctx.caps.subgroups;
/** Q8_0's signed bytes the other way (weights/q8_0.wgsl's int8x4): unpack4xI8 where ctx shifts, or shifts. */
const other = await createTestContext({ packed4x8: !ctx.caps.packed4x8 });
afterAll(() => {
  ctx.destroy();
  other.destroy();
});

/** A context whose storage bindings hold at most `bytes`, to force row splitting. */
function withBindingLimit(base: GpuContext, bytes: number): GpuContext {
  return Object.create(base, { caps: { value: { ...base.caps, maxStorageBufferBindingSize: bytes } } });
}

async function uploadRandomMatrix(context: GpuContext, type: GGMLType, rows: number, cols: number, seed: number) {
  const bytes = encodeTensor(type, randomArray(rows * cols, seed));
  const file = { source: blobSource(new Blob([bytes as BlobPart]), 'test'), size: bytes.length, metadata: {}, tensors: new Map() } as GgufFile;
  const matrix = await uploadMatrix({ ctx: context, file, onBytes: () => {} }, { name: 'w', type, dims: [cols, rows], offset: 0, byteSize: bytes.length });
  return { matrix, reference: dequantize(type, bytes, rows * cols) };
}

function referenceMatmul(w: Float64Array, x: Float32Array, M: number, N: number, K: number, bias?: Float32Array) {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let sum = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) sum += w[n * K + k] * x[m * K + k];
      y[m * N + n] = sum;
    }
  return y;
}

async function runMatmul(context: GpuContext, matrix: GpuMatrix, x: Float32Array, M: number, bias?: Float32Array, kernel?: LinearKernel) {
  const rec = new Recorder(context);
  const y = poisonedBuffer(context, M * matrix.rows);
  recordMatmul(rec, context, { weight: matrix, x: bufferFrom(context, x), y, M, bias: bias && bufferFrom(context, bias), kernel });
  rec.submit();
  return readFloats(context, y, M * matrix.rows);
}

const QUANT_SHAPES = [
  [1, 1, 32],
  [3, 7, 96],
  [5, 33, 64],
  [37, 65, 160],
] as const;
const FLOAT_SHAPES = [...QUANT_SHAPES, [1, 5, 1], [2, 9, 17], [33, 31, 75]] as const;
/** K-quants: rows of whole 256-weight super-blocks, one to three of them. */
const K_QUANT_SHAPES = [
  [1, 1, 256],
  [3, 7, 512],
  [5, 33, 256],
  [37, 65, 768],
] as const;
const TYPES = [
  GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1,
  GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K,
];

/** Weights per block: 1 for float types, 32, or 256 for K-quants. */
const blockSize = (type: GGMLType) => blockGeometry(type)!.blockSize;

async function checkProducts(context: GpuContext, kernel: LinearKernel, type: GGMLType, M: number, N: number, K: number) {
  const { matrix, reference } = await uploadRandomMatrix(context, type, N, K, M * 1000 + N * 10 + K);
  const x = randomArray(M * K, 7 + K);
  const bias = randomArray(N, 11);
  for (const b of [undefined, bias]) {
    const got = await runMatmul(context, matrix, x, M, b, kernel);
    const result = compare(got, referenceMatmul(reference, x, M, N, K, b), 1e-5);
    expect(result.mismatches).toEqual([]);
    expect(result.relative).toBeLessThanOrEqual(1e-5);
  }
}

/**
 * Every kernel runs on this adapter whatever it would pick for itself (GPUs and CPU emulations
 * pick different ones: see the selection test below), except matvec_subgroups without subgroups.
 */
const KERNELS: LinearKernel[] = ['matvec', 'matmul', 'matvec_rows', 'matmul_blocked', ...(hasSubgroups ? (['matvec_subgroups'] as const) : [])];

describe('matrix kernel selection', () => {
  it('GPUs take the subgroup matvec (or the barrier one) for few tokens and the tiled matmul above; CPU emulations their own pair', () => {
    const gpu = { ...ctx.caps, software: false };
    const pick = (caps: typeof gpu, counts: number[]) => counts.map((M) => linearKernel(caps, M));
    expect(pick({ ...gpu, subgroups: true }, [1, 32, 33])).toEqual(['matvec_subgroups', 'matvec_subgroups', 'matmul']);
    expect(pick({ ...gpu, subgroups: false }, [1, MATVEC_MAX_TOKENS, MATVEC_MAX_TOKENS + 1])).toEqual(['matvec', 'matvec', 'matmul']);
    expect(pick({ ...gpu, software: true }, [1, ROWS_MATVEC_MAX_TOKENS, ROWS_MATVEC_MAX_TOKENS + 1, 128])).toEqual([
      'matvec_rows', 'matvec_rows', 'matmul_blocked', 'matmul_blocked',
    ]);
  });
});

describe.each(TYPES.map((type) => [typeName(type), type] as const))('matrix kernels, weights %s', (_, type) => {
  const shapes: ReadonlyArray<readonly [number, number, number]> = blockSize(type) === 1 ? FLOAT_SHAPES : blockSize(type) === 32 ? QUANT_SHAPES : K_QUANT_SHAPES;
  if (!hasSubgroups) it.skip(`${typeName(type)} matvec_subgroups: skipped, this adapter has no subgroups feature`);
  describe.each(KERNELS)(`${typeName(type)} %s`, (kernel) => {
    it.each(shapes)(`M=%i N=%i K=%i matches float64`, (M, N, K) => checkProducts(ctx, kernel, type, M, N, K));
    it('adds the product to what y holds with accumulate (the residual add folded in)', async () => {
      const [M, N, K] = shapes[shapes.length - 1];
      const { matrix, reference } = await uploadRandomMatrix(ctx, type, N, K, 77);
      const x = randomArray(M * K, 78);
      const before = randomArray(M * N, 79);
      const y = bufferFrom(ctx, before);
      const rec = new Recorder(ctx);
      recordMatmul(rec, ctx, { weight: matrix, x: bufferFrom(ctx, x), y, M, kernel, accumulate: true });
      rec.submit();
      const want = referenceMatmul(reference, x, M, N, K).map((v, i) => v + before[i]);
      const result = compare(await readFloats(ctx, y, M * N), want, 1e-5);
      expect(result.mismatches).toEqual([]);
    });
  });

  if (type === GGMLType.Q8_0 && other.caps.packed4x8 !== ctx.caps.packed4x8)
    it.each(KERNELS)(`Q8_0 %s with signed bytes by ${other.caps.packed4x8 ? 'unpack4xI8' : 'shifts'} matches float64 too`, (kernel) =>
      checkProducts(other, kernel, type, 37, 65, 160),
    );
  else if (type === GGMLType.Q8_0) it.skip('Q8_0 with unpack4xI8: skipped, this adapter\'s WGSL lacks packed_4x8_integer_dot_product (the shift path ran above)');

  it(`${typeName(type)} weights split over several buffers give the same products with every kernel`, async () => {
    const [N, K] = [65, Math.max(64, blockSize(type))];
    const small = withBindingLimit(ctx, packedRowBytes(type, K) * 16);
    const { matrix, reference } = await uploadRandomMatrix(small, type, N, K, 99);
    expect(matrix.parts.length).toBe(5);
    for (const kernel of KERNELS)
      for (const M of [1, 6]) {
        const x = randomArray(M * K, M);
        const result = compare(await runMatmul(small, matrix, x, M, undefined, kernel), referenceMatmul(reference, x, M, N, K), 1e-5);
        expect(result.relative, `${kernel} M=${M}`).toBeLessThanOrEqual(1e-5);
      }
    const embedded = await runEmbedding(small, matrix, [0, 16, 64, 31], 1);
    const want = [0, 16, 64, 31].flatMap((t) => Array.from(reference.subarray(t * K, (t + 1) * K)));
    expect(compare(embedded, want, 1e-6).relative).toBeLessThanOrEqual(1e-6);
  });

  it(`${typeName(type)} embedding lookup returns the dequantized rows, scaled`, async () => {
    const [N, K] = blockSize(type) === 1 ? [301, 75] : blockSize(type) === 32 ? [301, 96] : [301, 512];
    const { matrix, reference } = await uploadRandomMatrix(ctx, type, N, K, 5);
    const tokens = [0, 300, 5, 5, 17];
    const got = await runEmbedding(ctx, matrix, tokens, 2.5);
    const want = tokens.flatMap((t) => Array.from(reference.subarray(t * K, (t + 1) * K), (v) => v * 2.5));
    const result = compare(got, want, 1e-6);
    expect(result.mismatches).toEqual([]);
  });
});

async function runEmbedding(context: GpuContext, embedding: GpuMatrix, tokens: number[], scale: number) {
  const rec = new Recorder(context);
  const out = poisonedBuffer(context, tokens.length * embedding.cols);
  recordEmbedding(rec, context, { embedding, tokens: bufferFrom(context, Uint32Array.from(tokens)), out, M: tokens.length, scale });
  rec.submit();
  return readFloats(context, out, tokens.length * embedding.cols);
}
