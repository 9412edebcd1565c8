// llama.cpp loads every random fixture model and returns full, peaked next-token distributions.

import { afterAll, describe, expect, it } from 'vitest';
import { presets, presetWeightTypes, randomModel, type PresetName, type RandomModelSpec } from '../fixtures/models';
import { disposeLlamaOracle, llamaNextTokenDistributions } from '../oracle/llamacpp';

afterAll(disposeLlamaOracle);

/** `<s>` then 15 seeded tokens anywhere in the vocabulary (control and byte tokens included). */
function sequence(vocabSize: number, seed: number): number[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  return [1, ...Array.from({ length: 15 }, () => next() % vocabSize)];
}

const argmax = (p: Float64Array) => p.reduce((best, v, i) => (v > p[best] ? i : best), 0);

const cases = (Object.keys(presets) as PresetName[]).flatMap((name) =>
  presetWeightTypes(name).map((weightType) => ({ name, weightType, spec: { ...presets[name], weightType } as RandomModelSpec })),
);

describe('llamaNextTokenDistributions', () => {
  it.each(cases)('$name $weightType: 16 full distributions that sum to 1, top probability mean > 0.5', async ({ name, weightType, spec }) => {
    const tokens = sequence(spec.vocabSize, spec.seed);
    const distributions = await llamaNextTokenDistributions(await randomModel(spec), tokens);
    expect(distributions.length).toBe(tokens.length);
    let topSum = 0;
    for (const p of distributions) {
      expect(p.length).toBe(spec.vocabSize);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.every((v) => v > 0 && v <= 1)).toBe(true); // the whole vocabulary, not a top-k cut
      topSum += p[argmax(p)];
    }
    const meanTop = topSum / distributions.length;
    console.log(`llama.cpp mean top probability ${name} ${weightType}: ${meanTop.toFixed(3)}`);
    expect(meanTop).toBeGreaterThan(0.5);
  });

  it('is teacher-forced and causal: a prefix gives the same rows, a changed prefix changes later ones', async () => {
    const path = await randomModel({ ...presets.tinyLlama, weightType: 'F32' });
    const tokens = sequence(presets.tinyLlama.vocabSize, 7);
    const full = await llamaNextTokenDistributions(path, tokens);
    const prefix = await llamaNextTokenDistributions(path, tokens.slice(0, 6));
    for (let i = 0; i < 6; i++) for (let t = 0; t < full[i].length; t++) expect(prefix[i][t]).toBeCloseTo(full[i][t], 5);
    const changed = await llamaNextTokenDistributions(path, [tokens[0], (tokens[1] + 1) % 320, ...tokens.slice(2)]);
    expect(changed[0]).toEqual(full[0]);
    // Attention carries the changed token to later positions.
    const totalVariation = (i: number) => changed[i].reduce((s, v, t) => s + Math.abs(v - full[i][t]), 0) / 2;
    const later = Array.from({ length: tokens.length - 2 }, (_, k) => totalVariation(k + 2));
    expect(Math.max(...later)).toBeGreaterThan(0.1);
  });

  it('offers an F32 KV cache, which moves probabilities only by KV rounding', async () => {
    const path = await randomModel({ ...presets.awkward, weightType: 'F32' });
    const tokens = sequence(presets.awkward.vocabSize, 11);
    const f16 = await llamaNextTokenDistributions(path, tokens);
    const f32 = await llamaNextTokenDistributions(path, tokens, { kvCacheType: 'F32' });
    let maxDiff = 0;
    for (let i = 0; i < tokens.length; i++) for (let t = 0; t < f16[i].length; t++) maxDiff = Math.max(maxDiff, Math.abs(f16[i][t] - f32[i][t]));
    console.log(`llama.cpp F16 vs F32 KV cache, awkward F32: max |Δp| ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(0.05);
  });
});
