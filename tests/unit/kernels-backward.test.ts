// Each backward kernel against the float64 reference's backward op (src/reference/backward.ts,
// itself checked by finite differences): dX = dY·W over packed weights of every type (split and
// unsplit, several parts, accumulating), RMSNorm's three modes, SwiGLU and GeGLU, the three
// attention passes (GQA, sliding window, soft-cap, per-head temperature), the cross-entropy with
// and without the final soft-cap, and RoPE's inverse rotation.

import { afterAll, describe, expect, it } from 'vitest';
import type { FfnActivation, RopeStyle } from '../../src/engine/config';
import type { GpuContext } from '../../src/engine/gpu';
import { recordAttentionBackward, recordCrossEntropyBackward, recordGluBackward, recordLinearBackward, recordRmsNormBackward, type RmsNormBackwardMode } from '../../src/engine/ops/backward';
import { recordRope, ropeTable } from '../../src/engine/ops/rope';
import { Recorder } from '../../src/engine/recorder';
import { packedRowBytes, uploadMatrix } from '../../src/engine/weights';
import { encodeTensor } from '../../src/gguf/quantize';
import type { GgufFile } from '../../src/gguf/reader';
import { blobSource } from '../../src/gguf/source';
import { GGMLType, typeName } from '../../src/gguf/types';
import { causalAttentionBackward, crossEntropyBackward, gluBackward, matVecTransposed, rmsNormBackward, ropeBackward } from '../../src/reference/backward';
import { dequantize } from '../../src/reference/dequant';
import { softcap, type AttentionShape } from '../../src/reference/ops';
import { bufferFrom, compare, createTestContext, poisonedBuffer, randomArray, readFloats } from '../support/gpu';

const ctx = await createTestContext();
/** The GPU kernel variants on any adapter: RMSNorm's 256-lane reduction, linear_backward split by the device. */
const gpuKernels = await createTestContext({ software: false });
afterAll(() => {
  ctx.destroy();
  gpuKernels.destroy();
});

const TOLERANCE = 2e-5;

async function run(context: GpuContext, record: (rec: Recorder) => void) {
  const rec = new Recorder(context);
  record(rec);
  rec.submit();
  rec.destroy();
}

async function expectClose(context: GpuContext, buffer: GPUBuffer, want: ArrayLike<number>, tolerance = TOLERANCE) {
  const got = await readFloats(context, buffer, want.length);
  const result = compare(got, want, tolerance);
  expect(result.mismatches).toEqual([]);
  expect(result.relative).toBeLessThanOrEqual(tolerance);
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const rowsOf = (data: Float32Array, rows: number, cols: number) => Array.from({ length: rows }, (_, r) => f64(data.subarray(r * cols, (r + 1) * cols)));
const flatten = (rows: readonly Float64Array[]) => {
  const out = new Float64Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) out.set(r, at), (at += r.length);
  return out;
};

/** A context whose storage bindings hold at most `bytes`, so matrices upload in several row parts. */
function withBindingLimit(base: GpuContext, bytes: number): GpuContext {
  return Object.create(base, { caps: { value: { ...base.caps, maxStorageBufferBindingSize: bytes } } });
}

describe('linear backward: dX = dY·W read transposed from packed blocks', () => {
  const TYPES: ReadonlyArray<readonly [GGMLType, number]> = [
    [GGMLType.F32, 1], [GGMLType.F16, 1], [GGMLType.BF16, 1], [GGMLType.Q8_0, 32], [GGMLType.Q4_0, 32], [GGMLType.Q4_1, 32],
    [GGMLType.Q5_0, 32], [GGMLType.Q5_1, 32], [GGMLType.Q4_K, 256], [GGMLType.Q5_K, 256], [GGMLType.Q6_K, 256],
  ];
  // (M tokens, N rows, K columns in blocks); float types also take odd K.
  const SHAPES = [[1, 1, 1], [3, 7, 2], [6, 33, 3], [9, 65, 1]] as const;
  const cases = TYPES.flatMap(([type, block]) =>
    [...SHAPES.map(([M, N, kb]) => [typeName(type), M, N, kb * block] as const), ...(block === 1 ? [[typeName(type), 5, 9, 75] as const] : [])],
  );

  it.each(cases)('%s: M %i, N %i, K %i, overwriting, accumulating, split in slices, over row parts', async (name, M, N, K) => {
    const type = TYPES.find(([t]) => typeName(t) === name)![0];
    const bytes = encodeTensor(type, randomArray(N * K, N * 31 + K));
    const file = { source: blobSource(new Blob([bytes as BlobPart]), 'test'), size: bytes.length, metadata: {}, tensors: new Map() } as GgufFile;
    const w = dequantize(type, bytes, N * K);
    const dy = randomArray(M * N, M + 5);
    const base = randomArray(M * K, 17);
    const want = new Float64Array(M * K);
    for (let m = 0; m < M; m++) want.set(matVecTransposed({ rows: N, cols: K, data: w }, f64(dy.subarray(m * N, (m + 1) * N))), m * K);
    const accumulated = want.map((v, i) => v + base[i]);
    // Several parts: at most ⌈N/3⌉ rows per binding; the GPU kernels' context splits long parts by itself.
    const parted = withBindingLimit(ctx, packedRowBytes(type, K) * Math.max(1, Math.ceil(N / 3)));
    for (const context of [ctx, parted, gpuKernels]) {
      const matrix = await uploadMatrix({ ctx: context, file, onBytes: () => {} }, { name: 'w', type, dims: [K, N], offset: 0, byteSize: bytes.length });
      const dyBuffer = bufferFrom(context, dy);
      for (const split of context === gpuKernels ? [undefined] : [1, 3]) {
        const dx = poisonedBuffer(context, M * K);
        await run(context, (rec) => recordLinearBackward(rec, context, { weight: matrix, dy: dyBuffer, dx, M, split }));
        await expectClose(context, dx, want);
        const acc = bufferFrom(context, base);
        await run(context, (rec) => recordLinearBackward(rec, context, { weight: matrix, dy: dyBuffer, dx: acc, M, split, accumulate: true }));
        await expectClose(context, acc, accumulated);
      }
      if (context === parted && N >= 3) expect(matrix.parts.length).toBeGreaterThan(1);
    }
  });
});

describe('RMSNorm backward', () => {
  it.each([false, true])('every mode with the GPU kernels (a 256-lane reduction per row): %s', async (inPlace) => {
    const rows = 4;
    const cols = 600;
    const eps = 1e-6;
    const x = randomArray(rows * cols, 31);
    const w = randomArray(cols, 32);
    const dy = randomArray(rows * cols, 33);
    const want = flatten(Array.from({ length: rows }, (_, r) => rmsNormBackward(f64(x.subarray(r * cols, (r + 1) * cols)), f64(w), eps, f64(dy.subarray(r * cols, (r + 1) * cols)))));
    const dyBuffer = bufferFrom(gpuKernels, dy);
    const dx = poisonedBuffer(gpuKernels, rows * cols);
    const mode = inPlace ? 'in-place' : 'write';
    await run(gpuKernels, (rec) => recordRmsNormBackward(rec, gpuKernels, { x: bufferFrom(gpuKernels, x), weight: bufferFrom(gpuKernels, w), dy: dyBuffer, dx, rows, cols, eps, mode }));
    await expectClose(gpuKernels, inPlace ? dyBuffer : dx, want);
  });

  it.each([
    ['write', 5, 64],
    ['accumulate', 3, 96],
    ['in-place', 7, 24],
    ['write', 1, 1],
  ] as const)('%s: %i rows of %i', async (mode: RmsNormBackwardMode, rows, cols) => {
    const xRowOffset = 2;
    const dxRowOffset = 1;
    const x = randomArray((xRowOffset + rows) * cols, rows + cols);
    const w = randomArray(cols, 3);
    const dy = randomArray(rows * cols, 4);
    const base = randomArray((dxRowOffset + rows) * cols, 5);
    const eps = 1e-5;
    const grads = Array.from({ length: rows }, (_, r) =>
      rmsNormBackward(f64(x.subarray((xRowOffset + r) * cols, (xRowOffset + r + 1) * cols)), f64(w), eps, f64(dy.subarray(r * cols, (r + 1) * cols))),
    );
    const dyBuffer = bufferFrom(ctx, dy);
    const dx = bufferFrom(ctx, base);
    await run(ctx, (rec) =>
      recordRmsNormBackward(rec, ctx, { x: bufferFrom(ctx, x), weight: bufferFrom(ctx, w), dy: dyBuffer, dx, rows, cols, eps, mode, xRowOffset, dxRowOffset }),
    );
    if (mode === 'in-place') return expectClose(ctx, dyBuffer, flatten(grads));
    const want = Float64Array.from(base);
    grads.forEach((g, r) => g.forEach((v, c) => (want[(dxRowOffset + r) * cols + c] = (mode === 'accumulate' ? want[(dxRowOffset + r) * cols + c] : 0) + v)));
    await expectClose(ctx, dx, want);
  });
});

describe('gated activation backward', () => {
  it.each(['silu', 'gelu_tanh'] as const)('%s over 1000 values, some far in the tails', async (kind: FfnActivation) => {
    const n = 1000;
    const gate = randomArray(n, 8, 3);
    gate[0] = 12;
    gate[1] = -12;
    const up = randomArray(n, 9);
    const d = randomArray(n, 10);
    const want = gluBackward(kind, f64(gate), f64(up), f64(d));
    const gateBuffer = bufferFrom(ctx, gate);
    const upBuffer = bufferFrom(ctx, up);
    await run(ctx, (rec) => recordGluBackward(rec, ctx, gateBuffer, upBuffer, bufferFrom(ctx, d), n, kind));
    await expectClose(ctx, gateBuffer, want.dGate);
    await expectClose(ctx, upBuffer, want.dUp);
  });
});

describe('attention backward', () => {
  const CASES = [
    { name: 'MHA', M: 9, nHead: 2, nHeadKv: 2, headDim: 8, window: 0, cap: 0 },
    { name: 'GQA 3:1 with temperatures', M: 13, nHead: 6, nHeadKv: 2, headDim: 24, window: 0, cap: 0, sharpen: true },
    { name: 'sliding window 4 and soft-cap 2', M: 11, nHead: 4, nHeadKv: 2, headDim: 16, window: 4, cap: 2, sharpen: true },
    { name: 'one query', M: 1, nHead: 2, nHeadKv: 1, headDim: 8, window: 0, cap: 0 },
  ];
  it.each(CASES)('$name', async ({ M, nHead, nHeadKv, headDim, window, cap, sharpen }) => {
    const ctxLength = M + 3;
    const qDim = nHead * headDim;
    const kvDim = nHeadKv * headDim;
    const q = randomArray(M * qDim, M, 1.5);
    const k = randomArray(M * kvDim, M + 1, 1.5);
    const v = randomArray(M * kvDim, M + 2);
    const dout = randomArray(M * qDim, M + 3);
    const scale = 1 / Math.sqrt(headDim);
    const layer = 1;
    const temperature = Float64Array.from({ length: nHead }, (_, h) => (sharpen && h % 2 === 0 ? 0.5 : 1));
    const kv = new Float32Array(2 * ctxLength * kvDim).fill(NaN);
    kv.set(k, 0);
    kv.set(v, ctxLength * kvDim);
    const aux = new Float32Array((layer + 1) * nHead).fill(1);
    temperature.forEach((t, h) => (aux[layer * nHead + h] = 1 / t));
    const shape: AttentionShape = { nHead, nHeadKv, headDim, attentionScale: scale, attnSoftcap: cap, window };
    const want = causalAttentionBackward(rowsOf(q, M, qDim), rowsOf(k, M, kvDim), rowsOf(v, M, kvDim), shape, temperature, rowsOf(dout, M, qDim));
    const dq = poisonedBuffer(ctx, M * qDim);
    const dk = poisonedBuffer(ctx, M * kvDim);
    const dv = poisonedBuffer(ctx, M * kvDim);
    await run(ctx, (rec) =>
      recordAttentionBackward(rec, ctx, {
        q: bufferFrom(ctx, q), kv: bufferFrom(ctx, kv), dout: bufferFrom(ctx, dout), aux: bufferFrom(ctx, aux),
        probs: poisonedBuffer(ctx, nHead * M * M), dscores: poisonedBuffer(ctx, nHead * M * M), dq, dk, dv,
        M, nHead, nHeadKv, headDim, ctxLength, layer, scale, softcap: cap, window,
      }),
    );
    await expectClose(ctx, dq, flatten(want.dq));
    await expectClose(ctx, dk, flatten(want.dk));
    await expectClose(ctx, dv, flatten(want.dv));
  });
});

describe('cross-entropy backward', () => {
  it.each([
    ['no soft-cap', 0],
    ['final soft-cap 5', 5],
  ] as const)('%s: 3 rows of 1000 logits', async (_name, cap) => {
    const rows = 3;
    const vocab = 1000;
    const raw = randomArray(rows * vocab, 11, 4);
    const z = cap ? raw.map((v) => softcap(v, cap)) : raw;
    const targets = [5, 999, 0];
    const want = new Float64Array(rows * vocab);
    const losses = targets.map((t, r) => {
      const { loss, dRaw } = crossEntropyBackward(f64(z.subarray(r * vocab, (r + 1) * vocab)), t, cap);
      want.set(dRaw.map((v) => v / rows), r * vocab);
      return loss;
    });
    const logits = bufferFrom(ctx, z);
    const stats = poisonedBuffer(ctx, rows * 3);
    await run(ctx, (rec) => recordCrossEntropyBackward(rec, ctx, { logits, targets: bufferFrom(ctx, Uint32Array.from(targets)), stats, rows, vocab, cap }));
    await expectClose(ctx, logits, want);
    const s = await readFloats(ctx, stats, rows * 3);
    losses.forEach((loss, r) => expect(Math.abs(-(s[r * 3] - s[r * 3 + 1] - Math.log(s[r * 3 + 2])) - loss)).toBeLessThan(1e-5 * Math.max(1, loss)));
  });
});

describe('RoPE backward: the inverse rotation', () => {
  it.each(['normal', 'neox'] as const)('%s pairs at positions 3…', async (style: RopeStyle) => {
    const M = 5;
    const nHeads = 3;
    const headDim = 16;
    const base = 10000;
    const posStart = 3;
    const dy = randomArray(M * nHeads * headDim, 12);
    const x = bufferFrom(ctx, dy);
    const table = bufferFrom(ctx, ropeTable(posStart + M, headDim, base));
    await run(ctx, (rec) => recordRope(rec, ctx, { x, table, M, nHeads, headDim, posStart, style, inverse: true }));
    const want = rowsOf(dy, M, nHeads * headDim).map((row, m) => ropeBackward(row, headDim, posStart + m, { base, style }));
    await expectClose(ctx, x, flatten(want), 1e-5);
  });
});
