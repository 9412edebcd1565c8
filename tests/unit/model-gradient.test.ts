// The GPU gradient of the target cross-entropy for the prompt's input embeddings, against the
// float64 reference's own backward (itself checked by finite differences in
// reference-backward.test.ts): every architecture, float and quantized weights, T = 1 and
// sharpened heads, Soft Removal's embedding factors; and the engine's embedding factors in
// generation against the reference forward.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { referenceGradient } from '../../src/reference/backward';
import { referenceForward } from '../../src/reference/forward';
import type { FixtureWeightType } from '../../src/gguf/quantize';
import { presets, type PresetName } from '../fixtures/models';
import { createTestContext } from '../support/gpu';
import { loadBoth, randomTokens, relativeError } from '../support/model';

let ctx: GpuContext;
/** The GPU kernel set (tiled matmul and attention, 256-lane norms, split linear_backward) on any adapter. */
let gpuKernels: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
  gpuKernels = await createTestContext({ software: false });
});
afterAll(() => {
  ctx?.destroy();
  gpuKernels?.destroy();
});

/** ‖a − b‖ / ‖b‖ */
function normError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    ref += b[i] ** 2;
  }
  return Math.sqrt(diff / ref);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < b.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** T = 0.5 on heads 0 and 2 of layer 0 and on every head of the last layer. */
function sharpening(nLayer: number, nHead: number): Float32Array {
  const t = new Float32Array(nLayer * nHead).fill(1);
  t[0] = 0.5;
  t[Math.min(2, nHead - 1)] = 0.5;
  t.fill(0.5, (nLayer - 1) * nHead);
  return t;
}

const CASES: ReadonlyArray<readonly [PresetName, FixtureWeightType]> = [
  ['tinyLlama', 'F32'],
  ['tinyLlama', 'Q8_0'],
  ['tiedLlama3', 'Q8_0'],
  ['awkward', 'Q4_0'],
  ['tinyQwen2', 'F32'],
  ['tinyQwen2', 'Q8_0'],
  ['tinyQwen3', 'F32'],
  ['tinyQwen3', 'Q8_0'],
  ['tinyGemma2', 'F32'],
  ['tinyGemma2', 'Q8_0'],
  ['tinyGemma3', 'F32'],
  ['tinyGemma3', 'Q8_0'],
  ['kquant', 'Q4_K'],
  ['kquant', 'Q6_K'],
];
/** On the GPU kernel set: GQA with biases, and soft-caps, window and post-norms. */
const GPU_KERNEL_CASES: ReadonlyArray<readonly [PresetName, FixtureWeightType]> = [
  ['tinyQwen2', 'Q8_0'],
  ['tinyGemma2', 'F32'],
];

describe.each(CASES)('%s %s: the gradient against the float64 reference', (name, weightType) => {
  it('loss, target log-probabilities and ∂L/∂e per prompt position, at T = 1 and with sharpened heads, with and without Soft Removal', () =>
    checkGradient(ctx, name, weightType));
});

describe.each(GPU_KERNEL_CASES)('%s %s with the GPU kernels: the gradient against the float64 reference', (name, weightType) => {
  it('loss, target log-probabilities and ∂L/∂e per prompt position, at T = 1 and with sharpened heads, with and without Soft Removal', () =>
    checkGradient(gpuKernels, name, weightType, ' (GPU kernels)'));
});

async function checkGradient(context: GpuContext, name: PresetName, weightType: FixtureWeightType, label = '') {
  const { gpu, reference } = await loadBoth(context, { ...presets[name], weightType });
  try {
    const { nLayer, nHead, nEmbd, vocabSize } = gpu.config;
    const prompt = randomTokens(11, vocabSize, name.length * 7 + weightType.length);
    const target = randomTokens(4, vocabSize, name.length * 13 + 1);
    const scales = prompt.map((_, i) => (i % 3 === 1 ? 0.5 : 1));
    const runs = [
      { temperature: undefined, scales: undefined },
      { temperature: sharpening(nLayer, nHead), scales: undefined },
      { temperature: undefined, scales },
    ];
    const report: string[] = [];
    for (const run of runs) {
      gpu.setAttentionTemperature(run.temperature ?? 1);
      const got = await gpu.gradient(prompt, target, { embeddingScales: run.scales });
      const want = referenceGradient(reference, prompt, target, {
        attentionTemperature: run.temperature && Float64Array.from(run.temperature),
        embeddingScales: run.scales,
      });
      expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.loss)));
      expect(relativeError(got.logprobs, want.logprobs)).toBeLessThan(1e-4);
      const flat = new Float64Array(prompt.length * nEmbd);
      want.grad.forEach((row, i) => flat.set(row, i * nEmbd));
      const error = normError(got.grad, flat);
      expect(error).toBeLessThan(1e-3);
      let worstCosine = 1;
      for (let i = 0; i < prompt.length; i++)
        worstCosine = Math.min(worstCosine, cosine(got.grad.subarray(i * nEmbd, (i + 1) * nEmbd), want.grad[i]));
      expect(worstCosine).toBeGreaterThan(0.9999);
      report.push(`rel ${error.toExponential(2)} cos ${(1 - worstCosine).toExponential(1)}`);
    }
    console.log(`${name} ${weightType}${label} gradient: ${report.join(' | ')} (T=1 | sharpened | Soft Removal)`);
  } finally {
    gpu.setAttentionTemperature(1);
    gpu.dispose();
  }
}

describe('one-hot gradient, embedding factors in generation, bad input', () => {
  it("GCG's token gradient G = ∂L/∂e · Eᵀ over the suffix positions equals the reference's (Gemma 2: E unscaled)", async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyGemma2, weightType: 'Q8_0' });
    try {
      const { vocabSize, nEmbd } = gpu.config;
      const prompt = randomTokens(10, vocabSize, 41);
      const target = randomTokens(3, vocabSize, 42);
      const span = { start: 4, end: 9 };
      const got = await gpu.gradient(prompt, target, { oneHot: span });
      const want = referenceGradient(reference, prompt, target);
      const E = reference.tokenEmbedding.data;
      const expected = new Float64Array((span.end - span.start) * vocabSize);
      for (let i = span.start; i < span.end; i++)
        for (let t = 0; t < vocabSize; t++) {
          let dot = 0;
          for (let j = 0; j < nEmbd; j++) dot += want.grad[i][j] * E[t * nEmbd + j];
          expected[(i - span.start) * vocabSize + t] = dot;
        }
      expect(got.oneHot).toHaveLength(expected.length);
      expect(normError(got.oneHot!, expected)).toBeLessThan(1e-3);
    } finally {
      gpu.dispose();
    }
  });

  it('factors of 1 change nothing, bit for bit; factors of 0.5 give the reference forward with those factors; the cache never mixes them', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyQwen3, weightType: 'Q8_0' });
    try {
      const { vocabSize } = gpu.config;
      const prompt = randomTokens(12, vocabSize, 51);
      const target = randomTokens(2, vocabSize, 52);
      const ones = prompt.map(() => 1);
      const halves = prompt.map((_, i) => (i >= 5 && i < 8 ? 0.5 : 1));
      const options = { maxNewTokens: 3, logits: 'all-prompt', reuse: 'none' } as const;
      const plain = await gpu.generate(prompt, options);
      const unit = await gpu.generate(prompt, { ...options, embeddingScales: ones });
      expect(unit.generated).toEqual(plain.generated);
      unit.logits.forEach((row, i) => expect(Array.from(row)).toEqual(Array.from(plain.logits[i])));
      const g1 = await gpu.gradient(prompt, target);
      const g2 = await gpu.gradient(prompt, target, { embeddingScales: ones });
      expect(Array.from(g2.grad)).toEqual(Array.from(g1.grad));

      const scaled = await gpu.generate(prompt, { ...options, embeddingScales: halves });
      const want = referenceForward(reference, [...prompt, ...scaled.generated.slice(0, -1)], { embeddingScales: [...halves, 1, 1] });
      scaled.logits.forEach((row, i) => expect(relativeError(row, want.logits[i])).toBeLessThan(1e-4));
      expect(relativeError(scaled.logits[prompt.length - 1], plain.logits[prompt.length - 1])).toBeGreaterThan(1e-3);
      // The cache holds the scaled run: an unscaled prompt resumes only before the first scaled position.
      const next = await gpu.generate(prompt, { maxNewTokens: 1 });
      expect(next.reusedPrefix).toBe(5);
      expect(next.generated[0]).toBe(plain.generated[0]);
    } finally {
      gpu.dispose();
    }
  });

  it('bad requests get one sentence each', async () => {
    const { gpu } = await loadBoth(ctx, { ...presets.tinyLlama, weightType: 'F32' });
    try {
      const prompt = [5, 6, 7];
      await expect(gpu.gradient(prompt, [])).rejects.toThrow(/The target is empty/);
      await expect(gpu.gradient([], [5])).rejects.toThrow(/The prompt is empty/);
      await expect(gpu.gradient(prompt, [5], { embeddingScales: [1, 1] })).rejects.toThrow(/embeddingScales has 2 values for a prompt of 3 tokens/);
      await expect(gpu.gradient(prompt, [5], { embeddingScales: [1, NaN, 1] })).rejects.toThrow(/finite/);
      await expect(gpu.gradient(prompt, [5], { oneHot: { start: 2, end: 4 } })).rejects.toThrow(/one-hot span \[2, 4\)/);
      await expect(gpu.gradient(randomTokens(300, 320, 1), [5])).rejects.toThrow(/too long for a gradient/);
      await expect(gpu.generate(prompt, { maxNewTokens: 1, embeddingScales: [1] })).rejects.toThrow(/embeddingScales needs one finite number per prompt token/);
      // The model still works after refusing them.
      expect((await gpu.gradient(prompt, [5])).grad).toHaveLength(3 * gpu.config.nEmbd);
    } finally {
      gpu.dispose();
    }
  });
});
