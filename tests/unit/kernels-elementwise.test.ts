// RMSNorm, RoPE (normal and NeoX pairs, with the engine's cos/sin table), the gated activations
// (SwiGLU, GeGLU), soft-capping and the residual add against the float64 reference ops.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FfnActivation, RopeStyle } from '../../src/engine/config';
import type { GpuContext } from '../../src/engine/gpu';
import { recordAdd, recordGatedActivation, recordSoftcap } from '../../src/engine/ops/elementwise';
import { recordRmsNorm } from '../../src/engine/ops/rmsnorm';
import { recordRope, ropeTable } from '../../src/engine/ops/rope';
import { Recorder } from '../../src/engine/recorder';
import { geglu, rmsNorm, rope, softcap, swiglu } from '../../src/reference/ops';
import { bufferFrom, compare, createTestContext, poisonedBuffer, randomArray, readFloats } from '../support/gpu';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

const TOLERANCE = 1e-5;
/** NaNs after the data of every buffer a kernel writes: a write past the end shows as a number there. */
const TAIL = 7;

/** The same device seen with a workgroups-per-dimension limit of `limit`, so dispatches spread over a 2-D grid. */
function withWorkgroupLimit(base: GpuContext, limit: number): GpuContext {
  return Object.create(base, { caps: { value: { ...base.caps, maxComputeWorkgroupsPerDimension: limit } } });
}

/**
 * `values` followed by TAIL NaNs. In-place kernels cannot have their output poisoned, so the inputs
 * are chosen to change under the op: an element left unwritten keeps its input and fails the comparison.
 */
function withPoisonedTail(context: GpuContext, values: Float32Array): GPUBuffer {
  const data = new Float32Array(values.length + TAIL).fill(NaN);
  data.set(values);
  return bufferFrom(context, data);
}

async function expectMatch(context: GpuContext, buffer: GPUBuffer, want: ArrayLike<number>) {
  const got = await readFloats(context, buffer, want.length + TAIL);
  const result = compare(got.subarray(0, want.length), want, TOLERANCE);
  expect(result.mismatches).toEqual([]);
  expect(result.relative).toBeLessThanOrEqual(TOLERANCE);
  expect(Array.from(got.subarray(want.length)).every(Number.isNaN), 'nothing written past the end').toBe(true);
}

async function run(context: GpuContext, record: (rec: Recorder) => void) {
  const rec = new Recorder(context);
  record(rec);
  rec.submit();
}

/** 1, odd, not a multiple of 4, more than one 256-thread workgroup. */
const LENGTHS = [1, 7, 255, 773];
/** 2307 elements are 10 workgroups of 256: with at most 4 per dimension, a 4 × 3 grid with two idle. */
const GRID = { n: 2307, limit: 4 };

describe('residual add', () => {
  it.each([...LENGTHS, GRID.n])('x += y over %i elements', async (n) => {
    const context = n === GRID.n ? withWorkgroupLimit(ctx, GRID.limit) : ctx;
    const x = randomArray(n, n);
    const y = randomArray(n, n + 1);
    const xBuffer = withPoisonedTail(context, x);
    await run(context, (rec) => recordAdd(rec, context, xBuffer, bufferFrom(context, y), n));
    await expectMatch(context, xBuffer, Float64Array.from(x, (v, i) => v + y[i]));
  });
});

describe('gated activation', () => {
  const reference: Record<FfnActivation, (gate: Float64Array, up: Float64Array) => Float64Array> = { silu: swiglu, gelu_tanh: geglu };
  const cases = (['silu', 'gelu_tanh'] as const).flatMap((activation) => [...LENGTHS, GRID.n].map((n) => [activation, n] as const));
  it.each(cases)('%s: gate = act(gate) · up over %i elements', async (activation, n) => {
    const context = n === GRID.n ? withWorkgroupLimit(ctx, GRID.limit) : ctx;
    // Scale 4 reaches both the saturated tails and the curved middle of SiLU and GELU.
    const gate = randomArray(n, 3 * n, 4);
    const up = randomArray(n, 3 * n + 1);
    const gateBuffer = withPoisonedTail(context, gate);
    await run(context, (rec) => recordGatedActivation(rec, context, gateBuffer, bufferFrom(context, up), n, activation));
    await expectMatch(context, gateBuffer, reference[activation](Float64Array.from(gate), Float64Array.from(up)));
  });
});

describe('soft-capping', () => {
  it.each([...LENGTHS, GRID.n])('x = cap · tanh(x / cap) over %i elements, cap 25', async (n) => {
    const context = n === GRID.n ? withWorkgroupLimit(ctx, GRID.limit) : ctx;
    // Logits up to ±60 with a cap of 25: the linear middle, the bend and saturation all occur.
    const x = randomArray(n, 5 * n, 20);
    const xBuffer = withPoisonedTail(context, x);
    await run(context, (rec) => recordSoftcap(rec, context, xBuffer, n, 25));
    await expectMatch(context, xBuffer, Float64Array.from(x, (v) => softcap(v, 25)));
  });
});

describe('RMSNorm', () => {
  interface NormCase {
    rows: number;
    cols: number;
    eps: number;
    inPlace?: boolean;
    inRowOffset?: number;
    workgroupLimit?: number;
  }
  const cases: [string, NormCase][] = [
    ['one row of one', { rows: 1, cols: 1, eps: 1e-5 }],
    ['3 rows of 7', { rows: 3, cols: 7, eps: 1e-6 }],
    ['5 rows of 300 (more columns than threads)', { rows: 5, cols: 300, eps: 1e-5 }],
    ['2 rows of 1001, reading from row 3 (the last-rows logits path)', { rows: 2, cols: 1001, eps: 1e-6, inRowOffset: 3 }],
    ['in place: 12 per-head rows of 24 (q/k norms)', { rows: 12, cols: 24, eps: 1e-6, inPlace: true }],
    ['in place: 4 rows of 257', { rows: 4, cols: 257, eps: 1e-5, inPlace: true }],
    ['10 rows over a 4 × 3 workgroup grid', { rows: 10, cols: 33, eps: 1e-5, workgroupLimit: 4 }],
  ];
  // Both variants on any adapter: 256 invocations per row (GPUs) and one (CPU emulations).
  const variants = [
    ['256 per row', false],
    ['one per row', true],
  ] as const;
  it.each(variants.flatMap(([name, software]) => cases.map(([label, c]) => [`${label} (${name})`, { ...c, software }] as const)))('%s', async (_, c) => {
    const base: GpuContext = Object.create(ctx, { caps: { value: { ...ctx.caps, software: c.software } } });
    const context = c.workgroupLimit ? withWorkgroupLimit(base, c.workgroupLimit) : base;
    const offset = c.inRowOffset ?? 0;
    const x = randomArray((offset + c.rows) * c.cols, c.rows * 100 + c.cols, 3);
    const weight = randomArray(c.cols, c.cols, 0.1).map((v) => 1 + v);
    const want = new Float64Array(c.rows * c.cols);
    for (let r = 0; r < c.rows; r++) {
      const row = Float64Array.from(x.subarray((offset + r) * c.cols, (offset + r + 1) * c.cols));
      want.set(rmsNorm(row, Float64Array.from(weight), c.eps), r * c.cols);
    }
    const xBuffer = withPoisonedTail(context, x);
    const out = c.inPlace ? undefined : poisonedBuffer(context, c.rows * c.cols + TAIL);
    await run(context, (rec) =>
      recordRmsNorm(rec, context, { x: xBuffer, weight: bufferFrom(context, weight), out, rows: c.rows, cols: c.cols, eps: c.eps, inRowOffset: c.inRowOffset }),
    );
    await expectMatch(context, out ?? xBuffer, want);
    if (out) expect(Array.from(await readFloats(context, xBuffer, x.length))).toEqual(Array.from(x));
  });
});

describe('RoPE', () => {
  interface RopeCase {
    style: RopeStyle;
    M: number;
    nHeads: number;
    headDim: number;
    posStart: number;
    base: number;
    /** Llama 3 rope_freqs: per-pair divisors of the angle. */
    factors?: boolean;
    workgroupLimit?: number;
  }
  const cases: [string, RopeCase][] = [
    ['normal pairs: one token, one head of 2, position 0', { style: 'normal', M: 1, nHeads: 1, headDim: 2, posStart: 0, base: 10000 }],
    ['NeoX halves: 5 tokens, 3 heads of 6 (an odd half), from position 7', { style: 'neox', M: 5, nHeads: 3, headDim: 6, posStart: 7, base: 10000 }],
    [
      'normal pairs with Llama 3 frequency factors: 3 tokens, 5 heads of 64 (480 pairs), from position 200',
      { style: 'normal', M: 3, nHeads: 5, headDim: 64, posStart: 200, base: 500000, factors: true },
    ],
    ['NeoX halves at angles of ~1000 rad: 4 tokens, 2 heads of 130', { style: 'neox', M: 4, nHeads: 2, headDim: 130, posStart: 1000, base: 1000000 }],
    ['normal pairs over a 4 × 2 workgroup grid: 2 tokens, 7 heads of 64', { style: 'normal', M: 2, nHeads: 7, headDim: 64, posStart: 3, base: 10000, workgroupLimit: 4 }],
    ['NeoX halves over a 4 × 2 workgroup grid: 2 tokens, 7 heads of 64', { style: 'neox', M: 2, nHeads: 7, headDim: 64, posStart: 3, base: 10000, workgroupLimit: 4 }],
  ];
  it.each(cases)('%s', async (_, c) => {
    const context = c.workgroupLimit ? withWorkgroupLimit(ctx, c.workgroupLimit) : ctx;
    const rowLength = c.nHeads * c.headDim;
    const x = randomArray(c.M * rowLength, c.headDim * 10 + c.M);
    const factors = c.factors ? Float32Array.from({ length: c.headDim / 2 }, (_, i) => 1 + (7 * i) / c.headDim) : undefined;
    // The table as the KV cache makes it: cos/sin in float64 for every cached position, rounded to f32.
    const table = ropeTable(c.posStart + c.M, c.headDim, c.base, factors);
    const want = new Float64Array(c.M * rowLength);
    for (let m = 0; m < c.M; m++) {
      const token = Float64Array.from(x.subarray(m * rowLength, (m + 1) * rowLength));
      const freqFactors = factors && Float64Array.from(factors);
      want.set(rope(token, c.headDim, c.posStart + m, { base: c.base, style: c.style, freqFactors }), m * rowLength);
    }
    const xBuffer = withPoisonedTail(context, x);
    await run(context, (rec) =>
      recordRope(rec, context, { x: xBuffer, table: bufferFrom(context, table), M: c.M, nHeads: c.nHeads, headDim: c.headDim, posStart: c.posStart, style: c.style }),
    );
    await expectMatch(context, xBuffer, want);
  });
});
