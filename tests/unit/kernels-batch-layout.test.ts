// The kernels behind `logprobsBatch`: attention and RoPE in the batch layout (sequences of seqLen
// tokens after one shared, cached prefix) against float64 per sequence and against the one-sequence
// layout, and the log-softmax statistics kernel against float64.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { NO_SLOT, recordAttention, type AttentionKernel } from '../../src/engine/ops/attention';
import { LOGPROB_STATS, logprobFromStats, recordLogprobStats } from '../../src/engine/ops/logprob';
import { recordRope, ropeTable } from '../../src/engine/ops/rope';
import { Recorder } from '../../src/engine/recorder';
import { attentionRow, kvHeadOf, rope } from '../../src/reference/ops';
import { bufferFrom, compare, createTestContext, poisonedBuffer, randomArray, readFloats } from '../support/gpu';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

interface BatchCase {
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Shared prefix positions [0, prefix): the chunk's queryStart. */
  prefix: number;
  sequences: number;
  seqLen: number;
  softcap?: number;
  window?: number;
}

/**
 * Runs the attention kernel once over `sequences` sequences in the batch layout, with per-head
 * temperatures ≠ 1 on some heads; returns its output and each sequence's float64 answer.
 */
async function batchAttention(c: BatchCase, seqLen = c.seqLen, kernel: AttentionKernel = 'attention') {
  const { nHead, nHeadKv, headDim, prefix, sequences } = c;
  const M = sequences * c.seqLen;
  const ctxLength = prefix + M + 3; // rows past the chunk stay poisoned
  const seed = headDim * 13 + M;
  const vector = (size: number, s: number) => Float64Array.from(randomArray(size, s));
  const kPrefix = Array.from({ length: prefix }, (_, p) => vector(nHeadKv * headDim, seed + p));
  const vPrefix = Array.from({ length: prefix }, (_, p) => vector(nHeadKv * headDim, seed + 500 + p));
  // Per chunk token m (sequence ⌊m / seqLen⌋, token m % seqLen): its q, k, v.
  const q = Array.from({ length: M }, (_, m) => vector(nHead * headDim, seed + 1000 + m));
  const k = Array.from({ length: M }, (_, m) => vector(nHeadKv * headDim, seed + 2000 + m));
  const v = Array.from({ length: M }, (_, m) => vector(nHeadKv * headDim, seed + 3000 + m));
  const temperatures = Float32Array.from({ length: nHead }, (_, h) => (h % 2 === 0 ? 0.6 : 1));

  const kv = new Float32Array(2 * ctxLength * nHeadKv * headDim).fill(NaN);
  const rowFloats = nHeadKv * headDim;
  for (let p = 0; p < prefix; p++) {
    kv.set(kPrefix[p], p * rowFloats);
    kv.set(vPrefix[p], (ctxLength + p) * rowFloats);
  }
  for (let m = 0; m < M; m++) {
    kv.set(k[m], (prefix + m) * rowFloats);
    kv.set(v[m], (ctxLength + prefix + m) * rowFloats);
  }
  const aux = new Uint32Array(nHead + M).fill(NO_SLOT);
  new Float32Array(aux.buffer, 0, nHead).set(temperatures.map((t) => 1 / t));
  const out = poisonedBuffer(ctx, M * nHead * headDim);
  const rows = poisonedBuffer(ctx, 4);
  const map = poisonedBuffer(ctx, 4);
  const rec = new Recorder(ctx);
  recordAttention(rec, ctx, {
    q: bufferFrom(ctx, Float32Array.from(q.flatMap((x) => [...x]))), kv: bufferFrom(ctx, kv), out, aux: bufferFrom(ctx, aux), rows, map,
    M, queryStart: prefix, nHead, nHeadKv, headDim, ctxLength, layer: 0, nSlots: 1, exportKeys: 1, mapHead: NO_SLOT, mapKeys: 1,
    slotOffset: nHead, scale: 1 / Math.sqrt(headDim), softcap: c.softcap ?? 0, window: c.window ?? 0, seqLen, kernel,
  });
  rec.submit();
  const got = await readFloats(ctx, out, M * nHead * headDim);
  // Nothing is exported in the batch layout: the rows and the map stay poisoned.
  expect(Array.from(await readFloats(ctx, rows, 4)).every(Number.isNaN)).toBe(true);
  expect(Array.from(await readFloats(ctx, map, 4)).every(Number.isNaN)).toBe(true);

  const shape = { nHead, nHeadKv, headDim, attnSoftcap: c.softcap, window: c.window };
  const want = new Float64Array(M * nHead * headDim);
  for (let b = 0; b < sequences; b++) {
    // Sequence b alone: the prefix, then its own tokens at positions prefix…
    const own = (all: Float64Array[]) => all.slice(b * c.seqLen, (b + 1) * c.seqLen);
    const qSeq = [...kPrefix.map(() => new Float64Array(nHead * headDim)), ...own(q)];
    const kSeq = [...kPrefix, ...own(k)];
    const vSeq = [...vPrefix, ...own(v)];
    for (let j = 0; j < c.seqLen; j++)
      for (let h = 0; h < nHead; h++) {
        const row = attentionRow(qSeq, kSeq, h, prefix + j, shape, temperatures[h]);
        const kvh = kvHeadOf(h, shape);
        const base = ((b * c.seqLen + j) * nHead + h) * headDim;
        for (let key = 0; key <= prefix + j; key++)
          for (let d = 0; d < headDim; d++) want[base + d] += row[key] * vSeq[key][kvh * headDim + d];
      }
  }
  return { got, want };
}

// GPUs' kernels and CPU emulations', on any adapter.
describe.each<AttentionKernel>(['attention', 'attention_rows', 'attention_tiled'])('attention in the batch layout, %s', (kernel) => {
  it.each<[string, BatchCase]>([
    ['GQA ratio 3, head_dim 24, 4 sequences of 5 after 7 prefix positions', { nHead: 6, nHeadKv: 2, headDim: 24, prefix: 7, sequences: 4, seqLen: 5 }],
    ['soft-cap 1.5 and a 4-position window shorter than prefix + sequence', { nHead: 4, nHeadKv: 2, headDim: 16, prefix: 6, sequences: 3, seqLen: 6, softcap: 1.5, window: 4 }],
    ['a window reaching back into the prefix, 70 prefix positions (more keys than a workgroup)', { nHead: 2, nHeadKv: 1, headDim: 130, prefix: 70, sequences: 2, seqLen: 3, window: 66 }],
    ['sequences of one token after one prefix position', { nHead: 3, nHeadKv: 3, headDim: 8, prefix: 1, sequences: 5, seqLen: 1 }],
    ['no prefix at all: each sequence from position 0', { nHead: 2, nHeadKv: 1, headDim: 8, prefix: 0, sequences: 3, seqLen: 4 }],
  ])('%s: each sequence sees the prefix and only its own tokens', async (_, c) => {
    const { got, want } = await batchAttention(c, c.seqLen, kernel);
    const result = compare(got, want, 1e-5);
    expect(result.mismatches).toEqual([]);
    expect(result.relative).toBeLessThanOrEqual(1e-5);
  });

  it('one sequence in the batch layout is bit for bit the one-sequence layout', async () => {
    const c: BatchCase = { nHead: 4, nHeadKv: 2, headDim: 16, prefix: 9, sequences: 1, seqLen: 7, softcap: 2, window: 5 };
    const batch = await batchAttention(c, c.seqLen, kernel);
    const plain = await batchAttention(c, 0, kernel);
    expect(Array.from(batch.got)).toEqual(Array.from(plain.got));
  });
});

describe('RoPE in the batch layout', () => {
  it('every sequence restarts at posStart: equal to rotating each sequence alone, and to float64', async () => {
    const [nHeads, headDim, posStart, seqLen, sequences] = [3, 8, 11, 4, 5];
    const M = seqLen * sequences;
    const rowFloats = nHeads * headDim;
    const table = bufferFrom(ctx, ropeTable(posStart + seqLen, headDim, 10000));
    const x = randomArray(M * rowFloats, 4);
    for (const style of ['normal', 'neox'] as const) {
      const rec = new Recorder(ctx);
      const batch = bufferFrom(ctx, x);
      recordRope(rec, ctx, { x: batch, table, M, nHeads, headDim, posStart, style, seqLen });
      const alone = Array.from({ length: sequences }, (_, b) => {
        const part = bufferFrom(ctx, x.subarray(b * seqLen * rowFloats, (b + 1) * seqLen * rowFloats));
        recordRope(rec, ctx, { x: part, table, M: seqLen, nHeads, headDim, posStart, style });
        return part;
      });
      rec.submit();
      const got = await readFloats(ctx, batch, M * rowFloats);
      for (let b = 0; b < sequences; b++) {
        const single = await readFloats(ctx, alone[b], seqLen * rowFloats);
        expect(Array.from(got.subarray(b * seqLen * rowFloats, (b + 1) * seqLen * rowFloats))).toEqual(Array.from(single));
      }
      for (let m = 0; m < M; m++) {
        const want = rope(Float64Array.from(x.subarray(m * rowFloats, (m + 1) * rowFloats)), headDim, posStart + (m % seqLen), { base: 10000, style });
        expect(compare(got.subarray(m * rowFloats, (m + 1) * rowFloats), want, 1e-6).mismatches).toEqual([]);
      }
    }
  });
});

describe('log-softmax statistics', () => {
  /** log softmax(row)[target] in float64 from the same f32 values. */
  function logSoftmaxAt(row: Float32Array, target: number): number {
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    return row[target] - max - Math.log(sum);
  }

  it('log p(target) of rows as long as a real vocabulary stays within 1e-6 of float64', async () => {
    const vocab = 151669;
    const rows = 4;
    const firstRow = 2;
    // Logits shaped like a model's: spread of a few units, a few tokens far ahead, one row flat.
    const logits = randomArray(rows * vocab, 17, 3);
    logits[5] = 30;
    logits[vocab + 77] = 12;
    logits.fill(0.25, 3 * vocab, 4 * vocab);
    const targets = new Uint32Array(firstRow + rows).fill(0xffffffff);
    targets.set([5, 1234, vocab - 1, 99], firstRow);
    const stats = poisonedBuffer(ctx, (firstRow + rows) * LOGPROB_STATS);
    const rec = new Recorder(ctx);
    recordLogprobStats(rec, ctx, { logits: bufferFrom(ctx, logits), targets: bufferFrom(ctx, targets), stats, rows, vocab, firstRow });
    rec.submit();
    const got = await readFloats(ctx, stats, (firstRow + rows) * LOGPROB_STATS);
    // Rows before firstRow belong to other dispatches: untouched.
    expect(Array.from(got.subarray(0, firstRow * LOGPROB_STATS)).every(Number.isNaN)).toBe(true);
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      const want = logSoftmaxAt(logits.subarray(r * vocab, (r + 1) * vocab), targets[firstRow + r]);
      worst = Math.max(worst, Math.abs(logprobFromStats(got, firstRow + r) - want));
    }
    console.log(`log-softmax statistics over ${vocab} logits: worst error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('a row shorter than the workgroup', async () => {
    const logits = Float32Array.from([1, -2, 0.5, 3, 3, -7, 0]);
    const stats = poisonedBuffer(ctx, LOGPROB_STATS);
    const rec = new Recorder(ctx);
    recordLogprobStats(rec, ctx, { logits: bufferFrom(ctx, logits), targets: bufferFrom(ctx, Uint32Array.from([2])), stats, rows: 1, vocab: 7, firstRow: 0 });
    rec.submit();
    const got = await readFloats(ctx, stats, LOGPROB_STATS);
    expect(Math.abs(logprobFromStats(got, 0) - logSoftmaxAt(logits, 2))).toBeLessThanOrEqual(1e-7);
  });
});
