// `logprobsBatch` on whole fixture models: equal to one `logprobs` call per continuation and to the
// float64 reference, across architectures (llama, qwen2's biases, gemma2's soft-caps and sliding
// window, gemma3's two RoPE bases), temperatures, several submits, the KV cache it leaves, and
// the one-sentence refusals.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../src/engine/api';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { EngineInputError, NonFiniteOutputError } from '../../src/errors';
import type { FixtureWeightType } from '../../src/gguf/quantize';
import { blobSource } from '../../src/gguf/source';
import { encodeGguf } from '../../src/gguf/writer';
import { referenceForward } from '../../src/reference/forward';
import { buildRandomModel, presets, type PresetName } from '../fixtures/models';
import { expectClearError } from '../support/errors';
import { createTestContext } from '../support/gpu';
import { loadBoth, randomTokens, relativeError } from '../support/model';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

/** The batch against one plain call per continuation, each computed afresh. */
const TOLERANCE = 1e-4;

/** Sharpen heads 0 and 2 of layer 0 and every head of the last layer to T = 0.5. */
function sharpening(nLayer: number, nHead: number): Float32Array {
  const t = new Float32Array(nLayer * nHead).fill(1);
  t[0] = 0.5;
  t[2] = 0.5;
  t.fill(0.5, (nLayer - 1) * nHead);
  return t;
}

function continuationsOf(count: number, length: number, vocab: number, seed: number): number[][] {
  return Array.from({ length: count }, (_, b) => randomTokens(length, vocab, seed * 100 + b));
}

/** Largest |batch − one call each| over the scored tokens (the last `scoreLast`). */
async function worstAgainstSingles(gpu: LoadedModel, prefix: number[], continuations: number[][], scoreLast?: number): Promise<number> {
  const batch = await gpu.logprobsBatch(prefix, continuations, { scoreLast });
  expect(batch).toHaveLength(continuations.length);
  let worst = 0;
  for (const [b, continuation] of continuations.entries()) {
    const single = await gpu.logprobs(prefix, continuation, { reuse: 'none' });
    const want = single.subarray(single.length - (scoreLast ?? single.length));
    expect(batch[b]).toHaveLength(want.length);
    want.forEach((v, i) => (worst = Math.max(worst, Math.abs(batch[b][i] - v))));
  }
  return worst;
}

const ARCHITECTURES: ReadonlyArray<readonly [PresetName, FixtureWeightType, string]> = [
  ['tinyLlama', 'Q8_0', 'llama'],
  ['tinyQwen2', 'Q8_0', 'qwen2: q/k/v biases, NeoX RoPE'],
  ['tinyGemma2', 'F32', 'gemma2: soft-caps, a 5-token window shorter than prefix + continuation'],
  ['tinyGemma3', 'Q8_0', 'gemma3: sliding and global layers with their own RoPE bases'],
];

describe.each(ARCHITECTURES)('%s %s (%s)', (name, weightType) => {
  it('equals one logprobs call per continuation, at T = 1 and with T = 0.5 on some heads, scoring all or the last 3', async () => {
    const { gpu } = await loadBoth(ctx, { ...presets[name], weightType });
    try {
      const { nLayer, nHead, vocabSize } = gpu.config;
      const prefix = randomTokens(11, vocabSize, name.length);
      const continuations = continuationsOf(5, 7, vocabSize, name.length);
      const plain = await worstAgainstSingles(gpu, prefix, continuations);
      const plainLast = await worstAgainstSingles(gpu, prefix, continuations, 3);
      gpu.setAttentionTemperature(sharpening(nLayer, nHead));
      const sharp = await worstAgainstSingles(gpu, prefix, continuations);
      console.log(`${name} ${weightType}: batch vs single calls, worst |Δ log p| ${plain.toExponential(2)} (T = 1), ${plainLast.toExponential(2)} (last 3), ${sharp.toExponential(2)} (sharpened)`);
      expect(Math.max(plain, plainLast, sharp)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      gpu.dispose();
    }
  });
});

describe('batch shapes and the cache', () => {
  it('30 continuations of 9 tokens: three submits of 10 sequences (the batch does not divide the chunk)', async () => {
    const { gpu } = await loadBoth(ctx, { ...presets.tinyQwen2, weightType: 'F32' });
    try {
      const prefix = randomTokens(20, gpu.config.vocabSize, 4);
      const worst = await worstAgainstSingles(gpu, prefix, continuationsOf(30, 9, gpu.config.vocabSize, 4), 4);
      expect(worst).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      gpu.dispose();
    }
  });

  it('one-token continuations after a one-token prefix', async () => {
    const { gpu } = await loadBoth(ctx, { ...presets.tinyLlama, weightType: 'F32' });
    try {
      const worst = await worstAgainstSingles(gpu, [1], [[5], [6], [7]]);
      expect(worst).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      gpu.dispose();
    }
  });

  it('equals the float64 reference (gemma2, Q4_0, sharpened)', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyGemma2, weightType: 'Q4_0' });
    try {
      const { nLayer, nHead, vocabSize } = gpu.config;
      const temperature = sharpening(nLayer, nHead);
      gpu.setAttentionTemperature(temperature);
      const prefix = randomTokens(9, vocabSize, 12);
      const continuations = continuationsOf(3, 6, vocabSize, 12);
      const got = await gpu.logprobsBatch(prefix, continuations);
      let worst = 0;
      for (const [b, continuation] of continuations.entries()) {
        const logits = referenceForward(reference, [...prefix, ...continuation], { attentionTemperature: Float64Array.from(temperature) }).logits;
        continuation.forEach((token, j) => {
          const want = logSoftmaxAt(logits[prefix.length - 1 + j], token);
          worst = Math.max(worst, Math.abs(got[b][j] - want) / Math.max(1, Math.abs(want)));
        });
      }
      console.log(`gemma2 Q4_0 sharpened: batch vs float64 reference, worst relative error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      gpu.dispose();
    }
  });

  it('leaves the prefix in the cache: a prompt extending it resumes after it with the same logits, and a second batch gives the same numbers', async () => {
    const { gpu } = await loadBoth(ctx, { ...presets.tinyGemma2, weightType: 'F32' });
    try {
      const prefix = randomTokens(12, gpu.config.vocabSize, 21);
      const continuations = continuationsOf(4, 5, gpu.config.vocabSize, 21);
      const first = await gpu.logprobsBatch(prefix, continuations, { reuse: 'none' });
      const again = await gpu.logprobsBatch(prefix, continuations);
      expect(again.map((a) => Array.from(a))).toEqual(first.map((a) => Array.from(a)));

      const prompt = [...prefix, 7];
      const resumed = await gpu.generate(prompt, { maxNewTokens: 1 });
      expect(resumed.reusedPrefix).toBe(prefix.length);
      const fresh = await gpu.generate(prompt, { maxNewTokens: 1, reuse: 'none' });
      expect(relativeError(resumed.logits[0], fresh.logits[0])).toBeLessThanOrEqual(1e-5);
    } finally {
      gpu.dispose();
    }
  });

  it('a cancelled batch rejects with AbortError and leaves the model usable', async () => {
    const { gpu } = await loadBoth(ctx, { ...presets.tinyLlama, weightType: 'F32' });
    try {
      const prefix = randomTokens(6, gpu.config.vocabSize, 3);
      const continuations = continuationsOf(2, 3, gpu.config.vocabSize, 3);
      const controller = new AbortController();
      controller.abort();
      await expect(gpu.logprobsBatch(prefix, continuations, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(await worstAgainstSingles(gpu, prefix, continuations)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      gpu.dispose();
    }
  });
});

describe('non-finite numbers', () => {
  it('a NaN weight ends the batch in NonFiniteOutputError, never in scores', async () => {
    const spec = buildRandomModel({ ...presets.tinyLlama, weightType: 'F32' });
    const tensors = spec.tensors.map((t) => {
      if (t.name !== 'output_norm.weight') return t;
      const values = new Float32Array(t.data.slice().buffer);
      values[3] = NaN;
      return { ...t, data: new Uint8Array(values.buffer) };
    });
    const bytes = encodeGguf({ ...spec, tensors }).bytes;
    const model = await loadModel(ctx, blobSource(new Blob([bytes as BlobPart]), 'model.gguf'));
    try {
      await expectClearError(model.logprobsBatch([1, 2], [[3, 4], [5, 6]]), NonFiniteOutputError, /non-finite numbers/);
    } finally {
      model.dispose();
    }
  });
});

describe('bad input is refused in one sentence', () => {
  let gpu: LoadedModel;
  beforeAll(async () => {
    gpu = (await loadBoth(ctx, { ...presets.tinyLlama, weightType: 'F32' })).gpu;
  });
  afterAll(() => gpu?.dispose());

  it.each<[string, () => [number[], number[][], number?], RegExp]>([
    ['an empty batch', () => [[1, 2], []], /batch is empty/],
    ['continuations of unequal length', () => [[1, 2], [[3, 4], [5]]], /Continuation 1 is 1 tokens long but continuation 0 is 2; .*group them by length/],
    ['an empty prefix', () => [[], [[3, 4]]], /prefix is empty/],
    ['empty continuations', () => [[1], [[], []]], /continuations are empty/],
    ['prefix + continuation over the context', () => [Array(250).fill(5), [[3, 4, 5, 6, 7, 8, 9]]], /prefix \(250\) plus a continuation \(7\) exceed the model's context of 256/],
    ['a continuation longer than a chunk', () => [[1], [Array(129).fill(3)]], /129 tokens are too long .* at most 128/],
    ['scoreLast of 0', () => [[1, 2], [[3, 4, 5]], 0], /scoreLast of 0 is out of range; .* continuation length, 3/],
    ['scoreLast over the length', () => [[1, 2], [[3, 4, 5]], 4], /scoreLast of 4 is out of range/],
    ['a fractional scoreLast', () => [[1, 2], [[3, 4, 5]], 1.5], /scoreLast of 1.5 is out of range/],
    ['a token outside the vocabulary', () => [[1, 2], [[3, 320]]], /Token id 320 is outside this model's vocabulary of 320/],
  ])('%s', async (_, input, mentions) => {
    const [prefix, continuations, scoreLast] = input();
    await expectClearError(gpu.logprobsBatch(prefix, continuations, { scoreLast }), EngineInputError, mentions);
  });

  it('still scores after refusing', async () => {
    expect(await gpu.logprobsBatch([1, 2], [[3, 4], [5, 6]])).toHaveLength(2);
  });
});

function logSoftmaxAt(logits: ArrayLike<number>, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return logits[token] - max - Math.log(sum);
}
