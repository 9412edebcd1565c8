// Request mass, sink adjustment, aggregates, safety heads and slipping on small matrices summed by hand.

import { describe, expect, it } from 'vitest';
import {
  layerRangeMean,
  massFromRows,
  modelMean,
  perLayerMean,
  sinkAdjust,
  sinkAdjusted,
  toNested,
  type LayerHeadValues,
} from '../../src/analysis/mass';
import { headMasses, meanOverHeads, safetyHeadCurve, slippingCurve, topHeads } from '../../src/analysis/slipping';
import { rangeMask, rangesOfKind, responseSpan, type Span } from '../../src/analysis/spans';

// 2 layers × 2 slots × 2 heads × 5 keys, laid out (nLayer, nSlots, nHead, keys) like the engine's rows.
// Slot 0 = last prompt token (query 4), slot 1 = the first generated token's query (5; key 5 cut off).
const ROW = {
  l0: {
    s0: { h0: [0.5, 0.1, 0.2, 0.1, 0.1], h1: [0.2, 0.3, 0.3, 0.1, 0.1] },
    s1: { h0: [0.2, 0.2, 0.2, 0.2, 0.2], h1: [0.6, 0.0, 0.1, 0.2, 0.1] },
  },
  l1: {
    s0: { h0: [0.9, 0.0, 0.05, 0.05, 0.0], h1: [0.1, 0.4, 0.4, 0.05, 0.05] },
    s1: { h0: [1.0, 0.0, 0.0, 0.0, 0.0], h1: [0.3, 0.3, 0.1, 0.2, 0.1] },
  },
};
const rows = {
  queries: [4, 5],
  keys: 5,
  data: Float32Array.from(
    [ROW.l0.s0.h0, ROW.l0.s0.h1, ROW.l0.s1.h0, ROW.l0.s1.h1, ROW.l1.s0.h0, ROW.l1.s0.h1, ROW.l1.s1.h0, ROW.l1.s1.h1].flat(),
  ),
};
const layout = { nLayer: 2, nHead: 2 };
const spans: Span[] = [
  { kind: 'sink', start: 0, end: 1, text: '<s>' },
  { kind: 'request', start: 1, end: 3, text: 'make a bomb' },
  { kind: 'attack', start: 3, end: 5, text: '!!' },
];

const close = (got: ArrayLike<number>, want: number[]) => {
  expect(got).toHaveLength(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
};

describe('request mass from exported rows', () => {
  const request = massFromRows(rows, layout, rangesOfKind(spans, 'request'), 0);

  it('sums P over the request keys per (layer, head) at the last prompt token', () => {
    // L0H0 0.1+0.2, L0H1 0.3+0.3, L1H0 0+0.05, L1H1 0.4+0.4
    close(request.values, [0.3, 0.6, 0.05, 0.8]);
    expect(toNested(request).map((r) => r.map((v) => +v.toFixed(6)))).toEqual([
      [0.3, 0.6],
      [0.05, 0.8],
    ]);
  });

  it("reads any exported slot (a generated token's query)", () => {
    // L0H0 0.2+0.2, L0H1 0+0.1, L1H0 0, L1H1 0.3+0.1
    close(massFromRows(rows, layout, [{ start: 1, end: 3 }], 1).values, [0.4, 0.1, 0, 0.4]);
  });

  it('counts a key in two overlapping ranges once', () => {
    // keys 1..3: L0H0 0.1+0.2+0.1
    close(massFromRows(rows, layout, [{ start: 1, end: 3 }, { start: 2, end: 4 }], 0).values, [0.4, 0.7, 0.1, 0.85]);
    expect([...rangeMask([{ start: 1, end: 3 }, { start: 2, end: 4 }], 5)]).toEqual([0, 1, 1, 1, 0]);
  });

  it('averages heads per layer and layers for the model', () => {
    close(perLayerMean(request), [0.45, 0.425]);
    expect(modelMean(request)).toBeCloseTo(0.4375, 6);
    expect(layerRangeMean(request, 1, 1)).toBeCloseTo(0.425, 6);
  });

  it('divides by the mass left after the sink', () => {
    const sink = massFromRows(rows, layout, rangesOfKind(spans, 'sink'), 0);
    close(sink.values, [0.5, 0.2, 0.9, 0.1]);
    // 0.3/0.5, 0.6/0.8, 0.05/0.1, 0.8/0.9
    close(sinkAdjusted(request, sink).values, [0.6, 0.75, 0.5, 0.8 / 0.9]);
  });

  it('rejects rows whose size does not match the layout, and a slot that was not exported', () => {
    expect(() => massFromRows(rows, { nLayer: 3, nHead: 2 }, [], 0)).toThrow(RangeError);
    expect(() => massFromRows(rows, layout, [], 2)).toThrow(RangeError);
  });
});

describe('sink adjustment guard', () => {
  it('is 0 when the sink holds (almost) everything, instead of dividing by zero', () => {
    expect(sinkAdjust(0.2, 0.6)).toBeCloseTo(0.5, 12);
    expect(sinkAdjust(0, 1)).toBe(0);
    expect(sinkAdjust(1e-9, 1 - 1e-9)).toBe(0);
    expect(sinkAdjust(0.3, 0)).toBe(0.3);
  });
});

describe('safety heads and slipping', () => {
  const grid = (values: number[]): LayerHeadValues => ({ nLayer: 2, nHead: 2, values: Float64Array.from(values) });
  const step0 = grid([0.3, 0.6, 0.05, 0.8]);
  const step1 = grid([0.3, 0.4, 0.1, 0.5]);
  const step2 = grid([0.35, 0.2, 0.2, 0.2]);

  it('picks the K heads with the most request mass on the un-attacked prompt', () => {
    expect(topHeads(step0, 2)).toEqual([
      { layer: 1, head: 1, mass: 0.8 },
      { layer: 0, head: 1, mass: 0.6 },
    ]);
    expect(topHeads(grid([0.5, 0.5, 0.5, 0.1]), 2).map((h) => [h.layer, h.head])).toEqual([[0, 0], [0, 1]]);
    expect(topHeads(step0, 10)).toHaveLength(4);
  });

  it('tracks those heads through later steps', () => {
    const heads = topHeads(step0, 2);
    expect(headMasses(heads, step1)).toEqual([0.5, 0.4]);
    expect(meanOverHeads(heads, step2)).toBeCloseTo(0.2, 12);
  });

  it('slip is R(0) − R(S) along the curve', () => {
    const curve = slippingCurve([0.7, 0.5, 0.2]);
    expect(curve.slip).toBeCloseTo(0.5, 12);
    expect(curve.relativeSlip).toBeCloseTo(0.5 / 0.7, 12);
    expect(slippingCurve([0.4]).slip).toBe(0);
    expect(slippingCurve([0, 0.1]).relativeSlip).toBe(0);
  });

  it('follows the safety heads of step 0 over the attack', () => {
    const curve = safetyHeadCurve([step0, step1, step2], 2);
    expect(curve.heads.map((h) => [h.layer, h.head])).toEqual([[1, 1], [0, 1]]);
    // means over (1,1) and (0,1): (0.8+0.6)/2, (0.5+0.4)/2, (0.2+0.2)/2
    close(curve.values, [0.7, 0.45, 0.2]);
    expect(curve.slip).toBeCloseTo(0.5, 12);
  });

  it('spans: response span follows the prompt', () => {
    expect(responseSpan(12, 3, 'Sure')).toEqual({ kind: 'response', start: 12, end: 15, text: 'Sure' });
  });
});
