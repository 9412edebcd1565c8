// The tiled prefill attention kernel (shaders/attention_tiled.wgsl) against float64 and against the
// per-query kernel it replaces for long chunks: output, exported rows and the map, in both layouts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capabilities, GpuContext } from '../../src/engine/gpu';
import { attentionKernel, attentionKernels, NO_SLOT, recordAttention, TILED_MIN_QUERIES, type AttentionKernel } from '../../src/engine/ops/attention';
import { Recorder } from '../../src/engine/recorder';
import { attentionRow, kvHeadOf } from '../../src/reference/ops';
import { bufferFrom, compare, createTestContext, poisonedBuffer, randomArray, readFloats } from '../support/gpu';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

interface TiledCase {
  nLayer: number;
  layer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Cached positions before the chunk: the chunk's queryStart. */
  queryStart: number;
  M: number;
  /** 0: one sequence; > 0: the batch layout (no export there). */
  seqLen?: number;
  /** Chunk-relative queries whose rows are exported, in slot order. */
  exported?: number[];
  exportKeys?: number;
  mapHead?: number;
  softcap?: number;
  window?: number;
}

interface KernelResult {
  out: Float32Array;   // (M, nHead, headDim)
  rows: Float32Array;  // (nLayer, nSlots, nHead, exportKeys)
  map: Float32Array;   // (positions, positions)
}

/** Seeded inputs for a case: float64 q per query, k and v per cache row, and the kernel's buffers' contents. */
function inputs(c: TiledCase) {
  const { nHead, nHeadKv, headDim, queryStart, M } = c;
  const seed = headDim * 31 + M * 7 + queryStart;
  const rowsUsed = queryStart + M;
  const ctxLength = rowsUsed + 3; // rows past the chunk stay poisoned
  const vector = (size: number, s: number) => Float64Array.from(randomArray(size, s));
  const qChunk = Array.from({ length: M }, (_, m) => vector(nHead * headDim, seed + m));
  const kRows = Array.from({ length: rowsUsed }, (_, r) => vector(nHeadKv * headDim, seed + 1000 + r));
  const vRows = Array.from({ length: rowsUsed }, (_, r) => vector(nHeadKv * headDim, seed + 2000 + r));
  // T ≠ 1 on most heads, exactly 1 on every fifth.
  const temperatures = Float32Array.from({ length: c.nLayer * nHead }, (_, i) => 0.5 + (i % 5) * 0.25);
  const kv = new Float32Array(2 * ctxLength * nHeadKv * headDim).fill(NaN);
  for (let r = 0; r < rowsUsed; r++) {
    kv.set(kRows[r], r * nHeadKv * headDim);
    kv.set(vRows[r], (ctxLength + r) * nHeadKv * headDim);
  }
  const slotOffset = c.nLayer * nHead;
  const aux = new Uint32Array(slotOffset + M).fill(NO_SLOT);
  new Float32Array(aux.buffer, 0, slotOffset).set(temperatures.map((t) => 1 / t));
  (c.exported ?? []).forEach((m, slot) => (aux[slotOffset + m] = slot));
  const q = new Float32Array(M * nHead * headDim);
  qChunk.forEach((x, m) => q.set(x, m * nHead * headDim));
  return { qChunk, kRows, vRows, temperatures, ctxLength, kv, aux, q, slotOffset };
}

async function runKernel(c: TiledCase, data: ReturnType<typeof inputs>, kernel: AttentionKernel): Promise<KernelResult> {
  const { nHead, nHeadKv, headDim, queryStart, M } = c;
  const positions = queryStart + M;
  const nSlots = Math.max(1, c.exported?.length ?? 0);
  const exportKeys = c.exportKeys ?? 1;
  const rowFloats = c.nLayer * nSlots * nHead * exportKeys;
  const rows = poisonedBuffer(ctx, rowFloats);
  const map = poisonedBuffer(ctx, positions * positions);
  const out = poisonedBuffer(ctx, M * nHead * headDim);
  const rec = new Recorder(ctx);
  recordAttention(rec, ctx, {
    q: bufferFrom(ctx, data.q), kv: bufferFrom(ctx, data.kv), out, aux: bufferFrom(ctx, data.aux), rows, map,
    M, queryStart, nHead, nHeadKv, headDim, ctxLength: data.ctxLength, layer: c.layer, nSlots, exportKeys,
    mapHead: c.mapHead ?? NO_SLOT, mapKeys: positions, slotOffset: data.slotOffset, scale: 1 / Math.sqrt(headDim),
    softcap: c.softcap ?? 0, window: c.window ?? 0, seqLen: c.seqLen ?? 0, kernel,
  });
  rec.submit();
  return {
    out: await readFloats(ctx, out, M * nHead * headDim),
    rows: await readFloats(ctx, rows, rowFloats),
    map: await readFloats(ctx, map, positions * positions),
  };
}

/** Float64: each query's probability row by position (over its own sequence in the batch layout) and its output. */
function reference(c: TiledCase, data: ReturnType<typeof inputs>) {
  const { nHead, headDim, queryStart, M } = c;
  const seqLen = c.seqLen || M;
  const shape = { nHead, nHeadKv: c.nHeadKv, headDim, attnSoftcap: c.softcap, window: c.window };
  const probabilities: Float64Array[][] = []; // [m][h]: (queryPos + 1) … padded to the sequence's length
  const out = new Float64Array(M * nHead * headDim);
  for (let m = 0; m < M; m++) {
    const b = Math.floor(m / seqLen);
    const queryPos = queryStart + (m % seqLen);
    // The sequence by position: the prefix's rows, then this sequence's chunk rows.
    const own = (all: Float64Array[]) => all.slice(queryStart + b * seqLen, queryStart + (b + 1) * seqLen);
    const kSeq = [...data.kRows.slice(0, queryStart), ...own(data.kRows)];
    const vSeq = [...data.vRows.slice(0, queryStart), ...own(data.vRows)];
    const qSeq = kSeq.map((_, p) => (p === queryPos ? data.qChunk[m] : new Float64Array(nHead * headDim)));
    probabilities.push(
      Array.from({ length: nHead }, (_, h) => {
        const row = attentionRow(qSeq, kSeq, h, queryPos, shape, data.temperatures[c.layer * nHead + h]);
        const kvh = kvHeadOf(h, shape);
        for (let key = 0; key <= queryPos; key++)
          for (let d = 0; d < headDim; d++) out[(m * nHead + h) * headDim + d] += row[key] * vSeq[key][kvh * headDim + d];
        return row;
      }),
    );
  }
  return { probabilities, out };
}

/** The largest |a − b| over two arrays, NaN counting as infinite. */
function worstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Number.isNaN(a[i]) || Number.isNaN(b[i]) ? Infinity : Math.abs(a[i] - b[i]));
  return worst;
}

async function checkTiled(c: TiledCase) {
  const { nHead, queryStart, M } = c;
  const positions = queryStart + M;
  const exported = c.exported ?? [];
  const exportKeys = c.exportKeys ?? 1;
  const nSlots = Math.max(1, exported.length);
  const data = inputs(c);
  const tiled = await runKernel(c, data, 'attention_tiled');
  const perQuery = await runKernel(c, data, 'attention');
  const want = reference(c, data);

  // The output: float64 within 1e-5 relative, the per-query kernel within 2e-6.
  const result = compare(tiled.out, want.out, 1e-5);
  expect(result.mismatches).toEqual([]);
  expect(result.relative).toBeLessThanOrEqual(1e-5);
  const againstPerQuery = compare(tiled.out, perQuery.out, 2e-6);
  expect(againstPerQuery.mismatches).toEqual([]);

  // Exported rows: float64 within 1e-5, masked keys exactly 0, the per-query kernel within 1e-6.
  for (const [slot, m] of exported.entries())
    for (let h = 0; h < nHead; h++) {
      const base = ((c.layer * nSlots + slot) * nHead + h) * exportKeys;
      const got = tiled.rows.subarray(base, base + exportKeys);
      const row = want.probabilities[m][h];
      const expected = Array.from({ length: exportKeys }, (_, k) => (k < row.length ? row[k] : 0));
      expect(compare(got, expected, 1e-5).absolute).toBeLessThanOrEqual(1e-5);
      expect(expected.flatMap((p, k) => (p === 0 && got[k] !== 0 ? [k] : []))).toEqual([]);
    }
  // Every other slot and layer untouched (still poisoned), so the two kernels' rows agree everywhere.
  const exportedFloats = new Set(exported.flatMap((_, slot) =>
    Array.from({ length: nHead * exportKeys }, (_, i) => (c.layer * nSlots + slot) * nHead * exportKeys + i)));
  tiled.rows.forEach((x, i) => {
    if (!exportedFloats.has(i)) expect(Number.isNaN(x), `rows[${i}] was written`).toBe(true);
  });
  const rowsAgreement = worstDifference(tiled.rows.filter((_, i) => exportedFloats.has(i)), perQuery.rows.filter((_, i) => exportedFloats.has(i)));
  expect(rowsAgreement).toBeLessThanOrEqual(1e-6);

  // The map: every query's row of the map head against float64 and the per-query kernel; other rows untouched.
  let mapAgreement = 0;
  if (c.mapHead !== undefined && c.mapHead !== NO_SLOT) {
    for (let m = 0; m < M; m++) {
      const queryPos = queryStart + m;
      const got = tiled.map.subarray(queryPos * positions, (queryPos + 1) * positions);
      const row = want.probabilities[m][c.mapHead];
      expect(compare(got, row, 1e-5).absolute).toBeLessThanOrEqual(1e-5);
      expect(Array.from(row).flatMap((p, k) => (p === 0 && got[k] !== 0 ? [k] : []))).toEqual([]);
      mapAgreement = Math.max(mapAgreement, worstDifference(got, perQuery.map.subarray(queryPos * positions, (queryPos + 1) * positions)));
    }
    expect(mapAgreement).toBeLessThanOrEqual(1e-6);
    expect(Array.from(tiled.map.subarray(0, queryStart * positions)).every(Number.isNaN)).toBe(true);
  } else {
    expect(Array.from(tiled.map).every(Number.isNaN)).toBe(true);
  }
  const exports = exported.length > 0 || mapAgreement > 0 ? `; exported rows ${rowsAgreement.toExponential(1)}, map ${mapAgreement.toExponential(1)} from it` : '';
  console.log(`tiled attention: output ${result.relative.toExponential(1)} from float64, ${againstPerQuery.relative.toExponential(1)} from the per-query kernel${exports}`);
}

describe('tiled attention against float64 and the per-query kernel', () => {
  it('GQA 8 heads over 2, head_dim 64, 37 queries after 21 cached positions, 3 exported queries, map on head 5', () =>
    checkTiled({ nLayer: 2, layer: 1, nHead: 8, nHeadKv: 2, headDim: 64, queryStart: 21, M: 37, exported: [0, 17, 36], exportKeys: 60, mapHead: 5 }));
  it('head_dim 256 (four dimension chunks), 20 queries after 5 cached positions, exported rows shorter than the keys', () =>
    checkTiled({ nLayer: 1, layer: 0, nHead: 2, nHeadKv: 1, headDim: 256, queryStart: 5, M: 20, exported: [19, 3], exportKeys: 16, mapHead: 1 }));
  it('head_dim 40, soft-cap 2, a 7-position window shorter than the chunk of 35 after 30 cached positions', () =>
    checkTiled({ nLayer: 1, layer: 0, nHead: 4, nHeadKv: 2, headDim: 40, queryStart: 30, M: 35, exported: [0, 20, 34], exportKeys: 65, mapHead: 2, softcap: 2, window: 7 }));
  it('a 45-position window over several key tiles, 50 queries after 40, head_dim 24, no export', () =>
    checkTiled({ nLayer: 1, layer: 0, nHead: 3, nHeadKv: 3, headDim: 24, queryStart: 40, M: 50, window: 45 }));
  it('a chunk from position 0, fewer queries than a block, head_dim 2', () =>
    checkTiled({ nLayer: 3, layer: 2, nHead: 2, nHeadKv: 1, headDim: 2, queryStart: 0, M: 5, exported: [4], exportKeys: 5, mapHead: 0 }));
  it('one query over 70 cached positions (a decode step), head_dim 130', () =>
    checkTiled({ nLayer: 1, layer: 0, nHead: 2, nHeadKv: 1, headDim: 130, queryStart: 70, M: 1, exported: [0], exportKeys: 71, mapHead: 1 }));
});

describe('tiled attention in the batch layout', () => {
  it('7 sequences of 5 after 40 prefix positions (blocks span sequences), head_dim 40, GQA, soft-cap, a window into the prefix', () =>
    checkTiled({ nLayer: 1, layer: 0, nHead: 4, nHeadKv: 2, headDim: 40, queryStart: 40, M: 35, seqLen: 5, softcap: 1.5, window: 12 }));
  it('2 sequences of 24 after 3 prefix positions: a block inside the second sequence skips the first one\'s rows', () =>
    checkTiled({ nLayer: 1, layer: 0, nHead: 2, nHeadKv: 1, headDim: 64, queryStart: 3, M: 48, seqLen: 24 }));
});

describe('attention kernel selection', () => {
  const caps = (software: boolean) => ({ software }) as Capabilities;
  it(`GPUs take the tiled kernel from ${TILED_MIN_QUERIES} queries on, CPU emulations never`, () => {
    expect(attentionKernel(caps(false), 1)).toBe('attention');
    expect(attentionKernel(caps(false), 15)).toBe('attention');
    expect(attentionKernel(caps(false), 16)).toBe('attention_tiled');
    expect(attentionKernel(caps(false), 128)).toBe('attention_tiled');
    expect(attentionKernel(caps(true), 128)).not.toBe('attention_tiled');
    expect(attentionKernels(caps(false))).toContain('attention_tiled');
    expect(attentionKernels(caps(true))).not.toContain('attention_tiled');
  });
});
