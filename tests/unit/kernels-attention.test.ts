// The attention kernel (GQA, KV cache offsets, per-head temperature, exported rows and map),
// and the sampler against plain float64 computations.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SamplingOptions } from '../../src/engine/api';
import type { GpuContext } from '../../src/engine/gpu';
import { NO_SLOT, recordAttention, type AttentionKernel } from '../../src/engine/ops/attention';
import { recordSample } from '../../src/engine/ops/sample';
import { Recorder } from '../../src/engine/recorder';
import { attentionRow, kvHeadOf } from '../../src/reference/ops';
import { bufferFrom, compare, createTestContext, poisonedBuffer, randomArray, readFloats, readUints } from '../support/gpu';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

interface AttentionCase {
  nLayer: number;
  layer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  queryStart: number;
  M: number;
  ctxLength: number;
  /** Chunk-relative queries whose rows are exported, in slot order. */
  exported: number[];
  exportKeys: number;
  mapHead: number;
  softcap?: number;
  window?: number;
}

async function checkAttention(c: AttentionCase, kernel: AttentionKernel) {
  const { nHead, nHeadKv, headDim, queryStart, M, ctxLength } = c;
  const positions = queryStart + M;
  const seed = headDim * 7 + M;
  // Per absolute position: q (nHead·hd), k and v (nHeadKv·hd), as float64 for the reference.
  const qAll = Array.from({ length: positions }, (_, p) => Float64Array.from(randomArray(nHead * headDim, seed + p)));
  const kAll = Array.from({ length: positions }, (_, p) => Float64Array.from(randomArray(nHeadKv * headDim, seed + 100 + p)));
  const vAll = Array.from({ length: positions }, (_, p) => Float64Array.from(randomArray(nHeadKv * headDim, seed + 200 + p)));
  const temperatures = Float32Array.from({ length: c.nLayer * nHead }, (_, i) => 0.5 + (i % 5) * 0.25);

  const q = new Float32Array(M * nHead * headDim);
  for (let m = 0; m < M; m++) q.set(qAll[queryStart + m], m * nHead * headDim);
  const kv = new Float32Array(2 * ctxLength * nHeadKv * headDim).fill(NaN); // unused positions poisoned
  for (let p = 0; p < positions; p++) {
    kv.set(kAll[p], p * nHeadKv * headDim);
    kv.set(vAll[p], (ctxLength + p) * nHeadKv * headDim);
  }
  const slotOffset = c.nLayer * nHead;
  const aux = new Uint32Array(slotOffset + M).fill(NO_SLOT);
  new Float32Array(aux.buffer, 0, slotOffset).set(temperatures.map((t) => 1 / t));
  c.exported.forEach((m, slot) => (aux[slotOffset + m] = slot));
  const nSlots = c.exported.length;
  const rowFloats = c.nLayer * nSlots * nHead * c.exportKeys;
  const rows = poisonedBuffer(ctx, rowFloats);
  const map = poisonedBuffer(ctx, positions * positions);
  const out = poisonedBuffer(ctx, M * nHead * headDim);
  const rec = new Recorder(ctx);
  recordAttention(rec, ctx, {
    q: bufferFrom(ctx, q), kv: bufferFrom(ctx, kv), out, aux: bufferFrom(ctx, aux), rows, map,
    M, queryStart, nHead, nHeadKv, headDim, ctxLength, layer: c.layer, nSlots, exportKeys: c.exportKeys,
    mapHead: c.mapHead, mapKeys: positions, slotOffset, scale: 1 / Math.sqrt(headDim), softcap: c.softcap ?? 0, window: c.window ?? 0,
    kernel,
  });
  rec.submit();
  const gotOut = await readFloats(ctx, out, M * nHead * headDim);
  const gotRows = await readFloats(ctx, rows, rowFloats);
  const gotMap = await readFloats(ctx, map, positions * positions);

  const shape = { nHead, nHeadKv, headDim, attnSoftcap: c.softcap, window: c.window };
  const wantOut = new Float64Array(M * nHead * headDim);
  for (let m = 0; m < M; m++) {
    const query = queryStart + m;
    for (let h = 0; h < nHead; h++) {
      const row = attentionRow(qAll, kAll, h, query, shape, temperatures[c.layer * nHead + h]);
      const kvh = kvHeadOf(h, shape);
      for (let key = 0; key <= query; key++)
        for (let d = 0; d < headDim; d++) wantOut[(m * nHead + h) * headDim + d] += row[key] * vAll[key][kvh * headDim + d];
      const slot = c.exported.indexOf(m);
      if (slot >= 0) {
        const base = ((c.layer * nSlots + slot) * nHead + h) * c.exportKeys;
        const want = Array.from({ length: c.exportKeys }, (_, k) => (k < positions ? row[k] : 0));
        const exported = gotRows.subarray(base, base + c.exportKeys);
        expect(compare(exported, want, 1e-5).absolute).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(exported.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-5);
      }
      if (h === c.mapHead) {
        const mapRow = gotMap.subarray(query * positions, (query + 1) * positions);
        expect(compare(mapRow, row, 1e-5).absolute).toBeLessThanOrEqual(1e-5);
      }
    }
  }
  const result = compare(gotOut, wantOut, 1e-5);
  expect(result.mismatches).toEqual([]);
  expect(result.relative).toBeLessThanOrEqual(1e-5);
  // Rows of other layers were not touched: still poisoned.
  if (c.nLayer > 1) expect(Number.isNaN(gotRows[c.layer === 0 ? rowFloats - 1 : 0])).toBe(true);
}

// GPUs' kernels (a workgroup per head and query; per head and block of queries) and CPU emulations' (an invocation each), on any adapter.
describe.each<AttentionKernel>(['attention', 'attention_rows', 'attention_tiled'])('attention kernel %s', (kernel) => {
  it('GQA ratio 3, head_dim 24, cache offset, per-head temperature, exported rows padded with zeros', () =>
    checkAttention({ nLayer: 2, layer: 1, nHead: 6, nHeadKv: 2, headDim: 24, queryStart: 3, M: 5, ctxLength: 12, exported: [0, 2, 4], exportKeys: 10, mapHead: 4 }, kernel));
  it('one query over more keys than a workgroup, head_dim 130 (several dims per thread)', () =>
    checkAttention({ nLayer: 1, layer: 0, nHead: 2, nHeadKv: 1, headDim: 130, queryStart: 70, M: 1, ctxLength: 80, exported: [0], exportKeys: 71, mapHead: 1 }, kernel));
  it('soft-capped scores (cap 1.5) with the temperature applied after the cap', () =>
    checkAttention({ nLayer: 2, layer: 1, nHead: 4, nHeadKv: 2, headDim: 16, queryStart: 2, M: 6, ctxLength: 8, exported: [1, 5], exportKeys: 8, mapHead: 3, softcap: 1.5 }, kernel));
  it('a sliding window shorter than the prompt masks old keys to exactly zero', () =>
    checkAttention({ nLayer: 1, layer: 0, nHead: 2, nHeadKv: 1, headDim: 8, queryStart: 60, M: 12, ctxLength: 72, exported: [0, 11], exportKeys: 72, mapHead: 1, window: 5 }, kernel));
  it('a window longer than the keys changes nothing; with soft-capping and GQA', () =>
    checkAttention({ nLayer: 1, layer: 0, nHead: 6, nHeadKv: 2, headDim: 24, queryStart: 1, M: 3, ctxLength: 4, exported: [2], exportKeys: 4, mapHead: 0, window: 64, softcap: 3 }, kernel));
  it('multi-head attention without grouping, head_dim 2, first position', () =>
    checkAttention({ nLayer: 3, layer: 0, nHead: 3, nHeadKv: 3, headDim: 2, queryStart: 0, M: 4, ctxLength: 4, exported: [3], exportKeys: 4, mapHead: 0xffffffff }, kernel));
});

describe('sampler', () => {
  async function sample(logits: Float32Array, sampling: SamplingOptions, uniform01: number, row = 0, vocab = logits.length) {
    const result = bufferFrom(ctx, new Uint32Array([0xdeadbeef]));
    const rec = new Recorder(ctx);
    recordSample(rec, ctx, { logits: bufferFrom(ctx, logits), result, vocab, row, sampling, uniform01 });
    rec.submit();
    return (await readUints(ctx, result, 1))[0];
  }

  /** The CPU answer: softmax at T, top-k, then top-p, drawn by inverse CDF in token order. */
  function cpuSample(logits: Float32Array, temperature: number, topK: number, topP: number, u: number) {
    const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
    const max = logits[order[0]];
    const weight = (i: number) => Math.exp((logits[i] - max) / temperature);
    let kept = order.slice(0, topK > 0 ? topK : order.length);
    const total = kept.reduce((s, i) => s + weight(i), 0);
    let mass = 0;
    const nucleus: number[] = [];
    for (const i of kept) {
      nucleus.push(i);
      mass += weight(i);
      if (mass >= topP * total) break;
    }
    kept = nucleus.sort((a, b) => a - b);
    const keptTotal = kept.reduce((s, i) => s + weight(i), 0);
    let goal = u * keptTotal;
    for (const i of kept) {
      goal -= weight(i);
      if (goal < 0) return i;
    }
    return kept[kept.length - 1];
  }

  it('greedy picks the argmax, the lowest id on ties, from the chosen row', async () => {
    const vocab = 1001;
    const logits = randomArray(vocab * 2, 8);
    const row1 = logits.subarray(vocab);
    const argmax = row1.indexOf(Math.max(...row1));
    expect(await sample(logits, { kind: 'greedy' }, 0.5, 1, vocab)).toBe(argmax);
    const ties = new Float32Array(300).fill(-1);
    ties[17] = 4;
    ties[250] = 4;
    expect(await sample(ties, { kind: 'greedy' }, 0)).toBe(17);
  });

  it('temperature, top-k and top-p draws equal the CPU inverse-CDF draw', async () => {
    const logits = randomArray(777, 21, 2);
    const cases: [number, number, number][] = [
      [1, 0, 1],
      [0.7, 40, 1],
      [1.3, 0, 0.6],
      [1, 5, 0.9],
      [0.5, 1, 1],
    ];
    for (const [temperature, topK, topP] of cases)
      for (const u of [0.013, 0.31, 0.5, 0.77, 0.995]) {
        const want = cpuSample(logits, temperature, topK, topP, u);
        const got = await sample(logits, { kind: 'sample', temperature, topK, topP, seed: 0 }, u);
        expect({ temperature, topK, topP, u, token: got }).toEqual({ temperature, topK, topP, u, token: want });
      }
  });
});
