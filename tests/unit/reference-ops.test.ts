// Reference ops on hand-computed examples: RoPE in both styles, attention with temperature and GQA.

import { describe, expect, it } from 'vitest';
import { causalAttention, kvHeadOf, matMul, matVec, rmsNorm, rope, softmax, swiglu } from '../../src/reference/ops';

const f64 = (values: number[]) => Float64Array.from(values);
const close = (actual: ArrayLike<number>, expected: number[], digits = 12) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, digits));
};

describe('small ops', () => {
  it('rmsNorm scales by 1/sqrt(mean square + eps) then by the weight', () => {
    // x = [3, 4]: mean square 12.5, + eps 3.5 = 16 → scale 1/4
    close(rmsNorm(f64([3, 4]), f64([1, 2]), 3.5), [0.75, 2]);
  });

  it('matVec and matMul use a row-major (rows, cols) weight', () => {
    const w = { rows: 2, cols: 3, data: f64([1, 2, 3, 4, 5, 6]) };
    close(matVec(w, f64([1, 0, -1])), [-2, -2]);
    close(matMul(w, f64([1, 0, -1, 0, 1, 0]), 2), [-2, -2, 2, 5]);
  });

  it('swiglu is silu(gate)·up and softmax sums to one', () => {
    close(swiglu(f64([0, Math.log(3)]), f64([5, 4])), [0, Math.log(3) * 0.75 * 4]);
    close(softmax(f64([0, Math.log(3), 1000])), [0, 0, 1]);
    close(softmax(f64([Math.log(1), Math.log(3)])), [0.25, 0.75]);
  });
});

describe('rope on one 4-dim head', () => {
  // pos 2, base 10000, d 4: θ0 = 2, θ1 = 2 · 10000^(-2/4) = 0.02
  const x = f64([1, 2, 3, 4]);
  const [c0, s0, c1, s1] = [Math.cos(2), Math.sin(2), Math.cos(0.02), Math.sin(0.02)];

  it('normal style rotates adjacent pairs (x0,x1), (x2,x3)', () => {
    close(rope(x, 4, 2, { base: 10000, style: 'normal' }), [1 * c0 - 2 * s0, 1 * s0 + 2 * c0, 3 * c1 - 4 * s1, 3 * s1 + 4 * c1]);
  });

  it('neox style rotates half-split pairs (x0,x2), (x1,x3)', () => {
    close(rope(x, 4, 2, { base: 10000, style: 'neox' }), [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 1 * s0 + 3 * c0, 2 * s1 + 4 * c1]);
  });

  it('divides each angle by its frequency factor and leaves position 0 alone', () => {
    // factors [1, 2]: θ1 = 0.01
    const [c, s] = [Math.cos(0.01), Math.sin(0.01)];
    close(rope(x, 4, 2, { base: 10000, style: 'normal', freqFactors: f64([1, 2]) }), [1 * c0 - 2 * s0, 1 * s0 + 2 * c0, 3 * c - 4 * s, 3 * s + 4 * c]);
    close(rope(x, 4, 0, { base: 10000, style: 'neox' }), [1, 2, 3, 4]);
  });

  it('rotates every head of a multi-head vector the same way', () => {
    const two = rope(f64([1, 2, 3, 4, 1, 2, 3, 4]), 4, 2, { base: 10000, style: 'normal' });
    close(two.subarray(4), Array.from(two.subarray(0, 4)));
  });
});

describe('causal attention', () => {
  // 2 heads, headDim 2, 2 tokens. k0 = [1,0], k1 = [0,1] in both heads; scale 1/sqrt(2).
  // Query 1, head 0: q = [0, √2·ln3] → scores [0, ln3] → p = [1/4, 3/4]; at T = 0.5: [0, 2 ln3] → [1/10, 9/10].
  // Query 1, head 1: q = [√2·ln2, 0] → scores [ln2, 0] → p = [2/3, 1/3]; at T = 0.5: [2 ln2, 0] → [4/5, 1/5].
  const r2 = Math.SQRT2;
  const q = [f64([1, 1, 1, 1]), f64([0, r2 * Math.log(3), r2 * Math.log(2), 0])];
  const k = [f64([1, 0, 1, 0]), f64([0, 1, 0, 1])];
  const v = [f64([10, 0, 10, 0]), f64([0, 20, 0, 20])];
  const shape = { nHead: 2, nHeadKv: 2, headDim: 2 };

  it('matches hand-computed probabilities and outputs at T = 1', () => {
    const { probabilities, output } = causalAttention(q, k, v, shape);
    close(probabilities[0][0], [1, 0]);
    close(probabilities[0][1], [1 / 4, 3 / 4]);
    close(probabilities[1][0], [1, 0]);
    close(probabilities[1][1], [2 / 3, 1 / 3]);
    close(output[0], [10, 0, 10, 0]);
    close(output[1], [2.5, 15, 20 / 3, 20 / 3]);
  });

  it('sharpens with T = 0.5 and applies temperatures per head', () => {
    const sharp = causalAttention(q, k, v, shape, f64([0.5, 0.5])).probabilities;
    close(sharp[0][1], [1 / 10, 9 / 10]);
    close(sharp[1][1], [4 / 5, 1 / 5]);
    const mixed = causalAttention(q, k, v, shape, f64([0.5, 1])).probabilities;
    close(mixed[0][1], [1 / 10, 9 / 10]);
    close(mixed[1][1], [2 / 3, 1 / 3]);
  });

  it('GQA ratio 3: heads 0–2 read kv head 0, heads 3–5 kv head 1', () => {
    // headDim 1 (scale 1). kv0 keys [0, 1], kv1 keys [1, 0]; query 1 of every head is [ln2, ln3, 0].
    // kv0: scores [0, q] → [1/3, 2/3], [1/4, 3/4], [1/2, 1/2]; kv1: scores [q, 0] → the mirror.
    const gqa = { nHead: 6, nHeadKv: 2, headDim: 1 };
    expect([0, 1, 2, 3, 4, 5].map((h) => kvHeadOf(h, gqa))).toEqual([0, 0, 0, 1, 1, 1]);
    const qs = [f64([0, 0, 0, 0, 0, 0]), f64([Math.log(2), Math.log(3), 0, Math.log(2), Math.log(3), 0])];
    const ks = [f64([0, 1]), f64([1, 0])];
    const vs = [f64([4, 100]), f64([8, 200])];
    const { probabilities, output } = causalAttention(qs, ks, vs, gqa);
    const expected = [[1 / 3, 2 / 3], [1 / 4, 3 / 4], [1 / 2, 1 / 2], [2 / 3, 1 / 3], [3 / 4, 1 / 4], [1 / 2, 1 / 2]];
    expected.forEach((row, h) => close(probabilities[h][1], row));
    close(output[1], [20 / 3, 7, 6, 400 / 3, 125, 150]);
    close(output[0], [4, 4, 4, 100, 100, 100]);
  });

  it('rows sum to one and are zero past the query', () => {
    const n = 5;
    const rand = (i: number) => Math.sin(12.9898 * i) * 3;
    const make = (width: number, seed: number) => Array.from({ length: n }, (_, p) => f64(Array.from({ length: width }, (_, j) => rand(seed + 31 * p + j))));
    const gqa = { nHead: 4, nHeadKv: 2, headDim: 3 };
    const { probabilities } = causalAttention(make(12, 1), make(6, 500), make(6, 900), gqa, f64([1, 0.5, 2, 0.1]));
    for (const head of probabilities)
      head.forEach((row, query) => {
        expect(row.length).toBe(n);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        for (let key = query + 1; key < n; key++) expect(row[key]).toBe(0);
      });
  });
});
