// The utility measures (DESIGN.md "Utility") against direct float64 computations written here, and the
// rule that recommends a temperature, on hand-made sweep points.

import { describe, expect, it } from 'vitest';
import { DEFAULT_UTILITY_BOUNDS, meanLogLikelihood, meanMeasures, overRefusal, utilityMeasures, withinBounds } from '../../src/analysis/utility';
import { recommendTemperature, type SweepPoint } from '../../src/lab/sweep';

/** Seeded logits in [-scale, scale). */
function randomLogits(rows: number, vocab: number, seed: number, scale = 4): Float32Array[] {
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: rows }, () => Float32Array.from({ length: vocab }, () => next() * scale));
}

/** p = exp(x) / Σ exp(x), straight from the definition (no max shift: the logits are small). */
const probabilities = (logits: ArrayLike<number>) => {
  const e = Array.from(logits, (x) => Math.exp(x));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};

describe('utility measures', () => {
  const vocab = 37;
  const undefended = randomLogits(6, vocab, 1);
  // A defended model that moved a little: the same logits plus a perturbation.
  const noise = randomLogits(6, vocab, 2, 1.5);
  const defended = undefended.map((row, i) => row.map((x, v) => x + noise[i][v]));
  // The undefended model's greedy tokens, except at one position.
  const answer = undefended.map((row) => Array.from(row).indexOf(Math.max(...row)));
  answer[3] = (answer[3] + 5) % vocab;

  it('agreement, KL and Δ log-likelihood equal the definitions computed in float64', () => {
    let agree = 0;
    let kl = 0;
    let dll = 0;
    for (let i = 0; i < answer.length; i++) {
      const p = probabilities(undefended[i]);
      const q = probabilities(defended[i]);
      const top = q.indexOf(Math.max(...q));
      if (top === answer[i]) agree++;
      kl += p.reduce((sum, pv, v) => sum + pv * Math.log(pv / q[v]), 0);
      dll += Math.log(q[answer[i]]) - Math.log(p[answer[i]]);
    }
    const measures = utilityMeasures(undefended, defended, answer);
    expect(measures.agreement).toBe(agree / answer.length);
    expect(measures.kl).toBeCloseTo(kl / answer.length, 12);
    expect(measures.dLogLik).toBeCloseTo(dll / answer.length, 12);
    expect(measures.kl).toBeGreaterThan(0);
  });

  it('the same model gives agreement on its own greedy tokens, zero KL and zero Δ log-likelihood', () => {
    const greedy = undefended.map((row) => Array.from(row).indexOf(Math.max(...row)));
    expect(utilityMeasures(undefended, undefended, greedy)).toEqual({ agreement: 1, kl: 0, dLogLik: 0 });
    // A shift of every logit is the same distribution.
    const shifted = undefended.map((row) => row.map((x) => x + 3));
    const m = utilityMeasures(undefended, shifted, greedy);
    expect(m.kl).toBeCloseTo(0, 6);
    expect(m.dLogLik).toBeCloseTo(0, 6);
  });

  it('is stable for large logits (a real model reaches 30 and more)', () => {
    const big = [Float32Array.from([1000, 999, 990])];
    const other = [Float32Array.from([999, 1000, 990])];
    const m = utilityMeasures(big, other, [0]);
    // p = softmax([0, −1, −10]), q = softmax([−1, 0, −10]).
    const p = probabilities([0, -1, -10]);
    const q = probabilities([-1, 0, -10]);
    expect(m.kl).toBeCloseTo(p.reduce((s, pv, v) => s + pv * Math.log(pv / q[v]), 0), 9);
    expect(m.agreement).toBe(0);
    expect(m.dLogLik).toBeCloseTo(Math.log(q[0] / p[0]), 9);
  });

  it('refuses rows that do not match the answer', () => {
    expect(() => utilityMeasures(undefended.slice(1), defended, answer)).toThrow(/one row per token/);
    expect(() => utilityMeasures([], [], [])).toThrow(/empty/);
  });

  it('log-likelihood per token of a reference is the mean of log p', () => {
    const tokens = [4, 0, 36, 12, 12, 7];
    const expected = tokens.reduce((sum, t, i) => sum + Math.log(probabilities(defended[i])[t]), 0) / tokens.length;
    expect(meanLogLikelihood(defended, tokens)).toBeCloseTo(expected, 12);
  });

  it('over-refusal is the defended minus the undefended refusal share', () => {
    expect(overRefusal([false, false, true, false], [true, false, true, true])).toBe(0.5);
    expect(overRefusal([true, false], [false, false])).toBe(-0.5);
    expect(() => overRefusal([], [])).toThrow();
  });

  it('averages over prompts, each prompt weighing the same; references only where there are some', () => {
    const mean = meanMeasures([
      { agreement: 1, kl: 0, dLogLik: 0 },
      { agreement: 0.5, kl: 0.2, dLogLik: -0.4, referenceLogLik: -2 },
    ]);
    expect(mean).toEqual({ agreement: 0.75, kl: 0.1, dLogLik: -0.2, referenceLogLik: -2 });
    expect(meanMeasures([{ agreement: 1, kl: 0, dLogLik: 0 }])).not.toHaveProperty('referenceLogLik');
  });
});

describe('recommended temperature', () => {
  const point = (temperature: number, asr: number, overRefusal: number, agreement: number): SweepPoint => ({
    temperature,
    asr,
    meanRequestMass: 0.1,
    overRefusal,
    agreement,
    kl: 0,
    dLogLik: 0,
    benign: [],
  });

  it('picks the lowest ASR among the points within the bounds', () => {
    const points = [point(1, 0.8, 0, 1), point(0.9, 0.6, 0, 0.97), point(0.7, 0.3, 0.05, 0.92), point(0.5, 0.1, 0.2, 0.95), point(0.4, 0.0, 0, 0.6)];
    // 0.5 refuses too much, 0.4 changes too many tokens: 0.7 it is.
    expect(recommendTemperature(points)?.temperature).toBe(0.7);
    // Looser bounds admit 0.4.
    expect(recommendTemperature(points, { maxOverRefusal: 0.25, minAgreement: 0.5 })?.temperature).toBe(0.4);
    // Stricter ones leave only T = 1 and 0.9.
    expect(recommendTemperature(points, { maxOverRefusal: 0, minAgreement: 0.95 })?.temperature).toBe(0.9);
  });

  it('says none when no point is within the bounds', () => {
    expect(recommendTemperature([point(0.7, 0.2, 0.1, 0.95), point(0.5, 0.1, 0, 0.5)])).toBeUndefined();
    expect(recommendTemperature([])).toBeUndefined();
  });

  it('admits a bound met exactly, although shares of counts round (4/20 − 3/20 > 0.05 in floats)', () => {
    const overRefused = 4 / 20 - 3 / 20;
    expect(overRefused).toBeGreaterThan(0.05);
    expect(withinBounds({ overRefusal: overRefused, agreement: 0.9 }, DEFAULT_UTILITY_BOUNDS)).toBe(true);
    expect(recommendTemperature([point(0.6, 0.2, overRefused, 0.9)])?.temperature).toBe(0.6);
    expect(recommendTemperature([point(0.6, 0.2, 0.06, 0.9)])).toBeUndefined();
  });

  it('breaks a tie in ASR by the higher agreement, then by the temperature nearest 1', () => {
    expect(recommendTemperature([point(0.6, 0.2, 0, 0.91), point(0.5, 0.2, 0, 0.95)])?.temperature).toBe(0.5);
    expect(recommendTemperature([point(0.6, 0.2, 0, 0.95), point(0.8, 0.2, 0, 0.95), point(0.5, 0.2, 0, 0.95)])?.temperature).toBe(0.8);
  });
});
