// The float64 backward pass against central finite differences: each op alone, then the prompt
// embedding gradient of the target loss on tiny random models of every architecture.

import { describe, expect, it } from 'vitest';
import type { FfnActivation, ModelConfig } from '../../src/engine/config';
import { EngineInputError } from '../../src/errors';
import { encodeGguf } from '../../src/gguf/writer';
import { openGguf } from '../../src/gguf/reader';
import { blobSource } from '../../src/gguf/source';
import {
  causalAttentionBackward,
  crossEntropyBackward,
  gluBackward,
  matVecTransposed,
  referenceGradient,
  rmsNormBackward,
  ropeBackward,
  type ReferenceGradientOptions,
} from '../../src/reference/backward';
import { loadReferenceModel, referenceForward, type ReferenceModel } from '../../src/reference/forward';
import { causalAttention, geglu, matVec, rmsNorm, rope, softcap, swiglu, type AttentionShape, type RopeOptions } from '../../src/reference/ops';
import { mulberry32 } from '../../src/util/random';
import { buildRandomModel, type ModelShape } from '../fixtures/models';

const STEP = 1e-5;
const TOLERANCE = 1e-6;

/** Uniform values in [−scale, scale). */
function randomVector(next: () => number, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * (2 * next() - 1));
}

/** Central differences of f with respect to every element of x (perturbed in place, then restored). */
function numericGradient(f: () => number, x: Float64Array, step = STEP): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + step;
    const plus = f();
    x[i] = saved - step;
    const minus = f();
    x[i] = saved;
    g[i] = (plus - minus) / (2 * step);
  }
  return g;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const distance = (a: ArrayLike<number>, b: ArrayLike<number>) => norm(Array.from(a, (v, i) => v - b[i]));
/** ‖g − expected‖ ≤ tolerance·‖expected‖ (so an exactly zero gradient must be exactly zero). */
function expectGradient(g: ArrayLike<number>, expected: ArrayLike<number>, tolerance = TOLERANCE): void {
  expect(g.length).toBe(expected.length);
  expect(distance(g, expected), `relative error ${distance(g, expected) / norm(expected)}`).toBeLessThanOrEqual(tolerance * norm(expected));
}
const concat = (rows: readonly Float64Array[]) => Float64Array.from(rows.flatMap((r) => Array.from(r)));

describe('backward ops against central differences', () => {
  it.each([1, 5, 16])('rmsNormBackward, n = %i', (n) => {
    const next = mulberry32(n);
    const x = randomVector(next, n, 2);
    const w = Float64Array.from({ length: n }, () => 0.5 + next());
    const dy = randomVector(next, n);
    const eps = 1e-5;
    const expected = numericGradient(() => dot(dy, rmsNorm(x, w, eps)), x);
    expectGradient(rmsNormBackward(x, w, eps, dy), expected);
  });

  it.each([[1, 1], [3, 5], [7, 2]])('matVecTransposed, W %i×%i', (rows, cols) => {
    const next = mulberry32(rows * 10 + cols);
    const w = { rows, cols, data: randomVector(next, rows * cols) };
    const x = randomVector(next, cols);
    const dy = randomVector(next, rows);
    const expected = numericGradient(() => dot(dy, matVec(w, x)), x);
    expectGradient(matVecTransposed(w, dy), expected);
  });

  const ropeCases: Array<[string, number, number, number, RopeOptions]> = [
    ['normal', 2, 1, 0, { base: 10000, style: 'normal' }],
    ['normal, freq factors and scale', 8, 3, 17, { base: 500000, style: 'normal', freqFactors: Float64Array.from([1, 2.5, 4, 8]), freqScale: 0.25 }],
    ['neox', 4, 2, 5, { base: 1e6, style: 'neox' }],
    ['neox, freq scale', 6, 3, 11, { base: 10000, style: 'neox', freqScale: 0.5 }],
  ];
  it.each(ropeCases)('ropeBackward, %s (headDim %i, %i heads, pos %i)', (_, headDim, nHeads, pos, options) => {
    const next = mulberry32(headDim * 100 + pos);
    const x = randomVector(next, headDim * nHeads);
    const dy = randomVector(next, x.length);
    const expected = numericGradient(() => dot(dy, rope(x, headDim, pos, options)), x);
    expectGradient(ropeBackward(dy, headDim, pos, options), expected);
  });

  it.each(['silu', 'gelu_tanh'] as FfnActivation[])('gluBackward, %s', (kind) => {
    const next = mulberry32(kind.length);
    const gate = randomVector(next, 9, 4);
    const up = randomVector(next, 9, 2);
    const dOut = randomVector(next, 9);
    const glu = kind === 'silu' ? swiglu : geglu;
    const { dGate, dUp } = gluBackward(kind, gate, up, dOut);
    expectGradient(dGate, numericGradient(() => dot(dOut, glu(gate, up)), gate));
    expectGradient(dUp, numericGradient(() => dot(dOut, glu(gate, up)), up));
  });

  const attentionCases: Array<[string, number, AttentionShape, number[] | undefined]> = [
    ['one token', 1, { nHead: 1, nHeadKv: 1, headDim: 4 }, undefined],
    ['GQA 4 over 2', 5, { nHead: 4, nHeadKv: 2, headDim: 4 }, undefined],
    ['GQA 6 over 2, temperatures', 6, { nHead: 6, nHeadKv: 2, headDim: 3, attentionScale: 0.7 }, [0.5, 1, 2, 0.7, 1.3, 0.25]],
    ['window 2, soft-cap', 6, { nHead: 2, nHeadKv: 2, headDim: 4, window: 2, attnSoftcap: 1.5 }, undefined],
    ['GQA 4 over 1, window 3, soft-cap, temperatures', 7, { nHead: 4, nHeadKv: 1, headDim: 2, window: 3, attnSoftcap: 2 }, [0.5, 1, 1, 3]],
  ];
  it.each(attentionCases)('causalAttentionBackward, %s', (_, nTokens, shape, temperatures) => {
    const next = mulberry32(nTokens * 7 + shape.nHead);
    const qDim = shape.nHead * shape.headDim;
    const kvDim = shape.nHeadKv * shape.headDim;
    // Scores of a few units, so soft-caps and temperatures change the result.
    const q = Array.from({ length: nTokens }, () => randomVector(next, qDim, 2));
    const k = Array.from({ length: nTokens }, () => randomVector(next, kvDim, 2));
    const v = Array.from({ length: nTokens }, () => randomVector(next, kvDim));
    const dOut = Array.from({ length: nTokens }, () => randomVector(next, qDim));
    const temperature = temperatures && Float64Array.from(temperatures);
    const objective = () => dot(concat(dOut), concat(causalAttention(q, k, v, shape, temperature).output));
    const fd = (rows: Float64Array[]) => concat(rows.map((row) => numericGradient(objective, row)));
    const { dq, dk, dv } = causalAttentionBackward(q, k, v, shape, temperature, dOut);
    expectGradient(concat(dq), fd(q));
    expectGradient(concat(dk), fd(k));
    expectGradient(concat(dv), fd(v));
  });

  it.each([0, 3])('crossEntropyBackward, final cap %d', (cap) => {
    const next = mulberry32(cap + 1);
    const raw = randomVector(next, 11, 5);
    const capped = () => (cap ? raw.map((r) => softcap(r, cap)) : Float64Array.from(raw));
    const target = 4;
    const loss = () => {
      const z = capped();
      return Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - z[target];
    };
    const result = crossEntropyBackward(capped(), target, cap);
    expect(result.loss).toBeCloseTo(loss(), 12);
    expectGradient(result.dRaw, numericGradient(loss, raw));
  });
});

/** Tiny versions of the fixture presets, one per architecture, with every feature on. */
const tinyModels: Array<[string, ModelShape, Partial<ModelConfig>]> = [
  ['llama (rope_freqs, linear RoPE scale, untied)', {
    arch: 'llama', nLayer: 2, nEmbd: 8, nHead: 4, nHeadKv: 2, headDim: 4, nFf: 12, vocabSize: 259,
    contextLength: 64, ropeTheta: 500000, rmsEps: 1e-5, tied: false, seed: 11, ropeFreqs: true,
  }, { ropeFreqScale: 0.5 }],
  ['qwen2 (biases, tied)', {
    arch: 'qwen2', nLayer: 2, nEmbd: 8, nHead: 2, nHeadKv: 1, headDim: 4, nFf: 12, vocabSize: 259,
    contextLength: 64, ropeTheta: 1e6, rmsEps: 1e-6, tied: true, seed: 12,
  }, {}],
  ['qwen3 (q/k norms, untied)', {
    arch: 'qwen3', nLayer: 2, nEmbd: 8, nHead: 4, nHeadKv: 2, headDim: 4, nFf: 12, vocabSize: 259,
    contextLength: 64, ropeTheta: 1e6, rmsEps: 1e-6, tied: false, seed: 13,
  }, {}],
  ['gemma2 (soft-caps, window 3, post-norms, GeGLU)', {
    arch: 'gemma2', nLayer: 2, nEmbd: 8, nHead: 4, nHeadKv: 2, headDim: 4, nFf: 12, vocabSize: 259,
    contextLength: 64, ropeTheta: 10000, rmsEps: 1e-6, tied: true, seed: 14, attnSoftcap: 2, finalSoftcap: 5, slidingWindow: 3,
  }, {}],
  ['gemma3 (q/k norms, window 3, a global layer, linear RoPE scale)', {
    arch: 'gemma3', nLayer: 6, nEmbd: 8, nHead: 2, nHeadKv: 1, headDim: 8, nFf: 12, vocabSize: 259,
    contextLength: 64, ropeTheta: 1e6, rmsEps: 1e-6, tied: true, seed: 15, slidingWindow: 3,
  }, { ropeFreqScale: 0.5 }],
];

/** The random F32 model of `shape`, read back through GGUF so its config is the real architecture's. */
async function tinyModel(shape: ModelShape, overrides: Partial<ModelConfig>): Promise<ReferenceModel> {
  const { bytes } = encodeGguf(buildRandomModel({ ...shape, weightType: 'F32' }));
  const model = await loadReferenceModel(await openGguf(blobSource(new Blob([bytes as BlobPart]), `${shape.arch}.gguf`)));
  return { ...model, config: { ...model.config, ...overrides } };
}

// Distinct prompt ids, none fed again in the target, so perturbing an embedding row moves one position.
const PROMPT = [3, 40, 100, 7, 250];
const TARGET = [17, 60, 3];

/** The target loss from referenceForward alone: mean of −log softmax(logits)[target]. */
function forwardLoss(model: ReferenceModel, options: ReferenceGradientOptions): number {
  const tokens = [...PROMPT, ...TARGET.slice(0, -1)];
  const embeddingScales = options.embeddingScales && [...Array.from(options.embeddingScales), ...TARGET.slice(1).map(() => 1)];
  const { logits } = referenceForward(model, tokens, { attentionTemperature: options.attentionTemperature, embeddingScales });
  let total = 0;
  TARGET.forEach((token, i) => {
    const z = logits[PROMPT.length - 1 + i];
    const max = Math.max(...z);
    total += max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0)) - z[token];
  });
  return total / TARGET.length;
}

/** ∂loss/∂(embedding row of each prompt token) by central differences; the output matrix stays put even when tied. */
function numericEmbeddingGradient(model: ReferenceModel, options: ReferenceGradientOptions): Float64Array[] {
  const data = Float64Array.from(model.tokenEmbedding.data);
  const perturbed: ReferenceModel = { ...model, tokenEmbedding: { ...model.tokenEmbedding, data } };
  const nEmbd = model.config.nEmbd;
  return PROMPT.map((token) => numericGradient(() => forwardLoss(perturbed, options), data.subarray(token * nEmbd, (token + 1) * nEmbd)));
}

describe.each(tinyModels)('referenceGradient on a tiny %s', (_, shape, overrides) => {
  const load = tinyModel(shape, overrides);
  const nHeads = shape.nLayer * shape.nHead;
  const runs: Array<[string, ReferenceGradientOptions]> = [
    ['plain', {}],
    ['temperatures ≠ 1 on some heads, embedding scales ≠ 1', {
      attentionTemperature: Float64Array.from({ length: nHeads }, (_, i) => [1, 0.5, 1, 2, 0.7][i % 5]),
      embeddingScales: [1, 0.5, 1.5, 1, 0.25],
    }],
  ];

  it.each(runs)('matches central differences of the loss (%s)', async (_, options) => {
    const model = await load;
    const result = referenceGradient(model, PROMPT, TARGET, options);
    expect(result.loss).toBeCloseTo(forwardLoss(model, options), 12);
    expect(result.logprobs.length).toBe(TARGET.length);
    expect(result.loss).toBeCloseTo(-result.logprobs.reduce((s, v) => s + v, 0) / TARGET.length, 14);
    const expected = numericEmbeddingGradient(model, options);
    expect(result.grad.length).toBe(PROMPT.length);
    expectGradient(concat(result.grad), concat(expected));
    result.grad.forEach((g, i) => expectGradient(g, expected[i]));
  });

  it('gives the same forward bit for bit with embedding scales of 1 as without', async () => {
    const model = await load;
    const tokens = [...PROMPT, ...TARGET];
    const plain = referenceForward(model, tokens);
    const ones = referenceForward(model, tokens, { embeddingScales: tokens.map(() => 1) });
    expect(ones.logits).toEqual(plain.logits);
    expect(ones.attention).toEqual(plain.attention);
  });
});

describe('input checks', () => {
  it('refuses embedding scales of the wrong length and an empty prompt or target', async () => {
    const model = await tinyModel(tinyModels[0][1], {});
    expect(() => referenceForward(model, [1, 2, 3], { embeddingScales: [1, 1] })).toThrow(EngineInputError);
    expect(() => referenceForward(model, [1, 2, 3], { embeddingScales: [1, 1] })).toThrow(/2 values for 3 tokens/);
    expect(() => referenceGradient(model, [1, 2], [3], { embeddingScales: [1, 1, 1] })).toThrow(/3 values for 2 prompt tokens/);
    expect(() => referenceGradient(model, [], [3])).toThrow(EngineInputError);
    expect(() => referenceGradient(model, [1], [])).toThrow(EngineInputError);
    expect(() => referenceGradient(model, [1], [259])).toThrow(/outside the vocabulary/);
  });
});
