// The whole GPU model against the float64 reference: logits at every prompt position, every
// attention probability of every layer, head and query, with T = 1 and with sharpening on some
// heads; the KV-cache decode path; span masses and the single-head map. Every preset runs with
// subgroups where the adapter has them; a representative subset again without.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResult, LoadedModel } from '../../src/engine/api';
import type { GpuContext } from '../../src/engine/gpu';
import { referenceForward, type ReferenceModel } from '../../src/reference/forward';
import { presets, presetWeightTypes, type PresetName } from '../fixtures/models';
import type { FixtureWeightType } from '../../src/gguf/quantize';
import { createTestContext } from '../support/gpu';
import { argmax, loadBoth, randomTokens, relativeError } from '../support/model';

/** Uses subgroups where the adapter has them (the production default). */
let ctx: GpuContext;
/** Never uses subgroups: matvec for decode steps, the tiled kernel for the prompt. */
let noSubgroups: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
  noSubgroups = await createTestContext({ subgroups: false });
});
afterAll(() => {
  ctx?.destroy();
  noSubgroups?.destroy();
});

const LOGIT_TOLERANCE = 1e-4;
const ATTENTION_TOLERANCE = 1e-5;

/** Sharpen heads 0 and 2 of layer 0 and every head of the last layer to T = 0.5. */
function sharpening(nLayer: number, nHead: number): Float32Array {
  const t = new Float32Array(nLayer * nHead).fill(1);
  t[0] = 0.5;
  t[2] = 0.5;
  t.fill(0.5, (nLayer - 1) * nHead);
  return t;
}

function row(result: GenerateResult, nHead: number, layer: number, slot: number, head: number): Float32Array {
  const rows = result.attention!.rows;
  const base = ((layer * rows.queries.length + slot) * nHead + head) * rows.keys;
  return rows.data.subarray(base, base + rows.keys);
}

function checkAgainstReference(gpu: LoadedModel, reference: ReferenceModel, tokens: number[], result: GenerateResult, temperature?: Float32Array) {
  const { nLayer, nHead } = gpu.config;
  const P = tokens.length;
  const N = result.generated.length;
  // Teacher-force the reference on everything the GPU saw as a query.
  const sequence = [...tokens, ...result.generated.slice(0, N - 1)];
  const want = referenceForward(reference, sequence, { attentionTemperature: temperature && Float64Array.from(temperature) });
  expect(result.logits.length).toBe(P + N - 1);
  let worstLogits = 0;
  for (let pos = 0; pos < sequence.length; pos++) worstLogits = Math.max(worstLogits, relativeError(result.logits[pos], want.logits[pos]));
  expect(worstLogits).toBeLessThanOrEqual(LOGIT_TOLERANCE);
  // Greedy decoding chose the GPU argmax at every step.
  result.generated.forEach((token, i) => expect(token).toBe(argmax(result.logits[P - 1 + i])));

  const rows = result.attention!.rows;
  expect(rows.queries).toEqual(sequence.map((_, q) => q));
  let worstAttention = 0;
  let worstSum = 0;
  for (let l = 0; l < nLayer; l++)
    for (let slot = 0; slot < sequence.length; slot++)
      for (let h = 0; h < nHead; h++) {
        const got = row(result, nHead, l, slot, h);
        const ref = want.attention[l][h][slot];
        for (let k = 0; k < rows.keys; k++) worstAttention = Math.max(worstAttention, Math.abs(got[k] - (ref[k] ?? 0)));
        worstSum = Math.max(worstSum, Math.abs(got.reduce((a, b) => a + b, 0) - 1));
      }
  expect(worstAttention).toBeLessThanOrEqual(ATTENTION_TOLERANCE);
  expect(worstSum).toBeLessThanOrEqual(1e-5);
  return { worstLogits, worstAttention };
}

/** The exported map of one head is exactly that head's exported rows over the prompt. */
function checkMap(gpu: LoadedModel, result: GenerateResult, map: { layer: number; head: number }) {
  const { nHead } = gpu.config;
  const attention = result.attention!;
  const P = result.prompt.length;
  expect(attention.map!.size).toBe(P);
  for (let q = 0; q < P; q++) {
    const want = row(result, nHead, map.layer, q, map.head).subarray(0, P);
    expect(Array.from(attention.map!.data.subarray(q * P, (q + 1) * P))).toEqual(Array.from(want));
  }
}

async function checkPreset(context: GpuContext, name: PresetName, weightType: FixtureWeightType) {
  const { gpu, reference } = await loadBoth(context, { ...presets[name], weightType });
  try {
    const { nLayer, nHead, vocabSize } = gpu.config;
    const tokens = randomTokens(13, vocabSize, name.length * 31 + weightType.length);
    const map = { layer: nLayer - 1, head: nHead - 1 };
    const options = { maxNewTokens: 4, logits: 'all-prompt', attention: { rows: 'all-prompt', map } } as const;
    const plain = await gpu.generate(tokens, options);
    const measuredPlain = checkAgainstReference(gpu, reference, tokens, plain);
    checkMap(gpu, plain, map);

    const temperature = sharpening(nLayer, nHead);
    gpu.setAttentionTemperature(temperature);
    const sharp = await gpu.generate(tokens, options);
    const measuredSharp = checkAgainstReference(gpu, reference, tokens, sharp, temperature);
    const kernels = context.caps.subgroups ? 'with subgroups' : 'without subgroups';
    console.log(`${name} ${weightType} ${kernels}: logits rel ${measuredPlain.worstLogits.toExponential(2)} / ${measuredSharp.worstLogits.toExponential(2)}, attention abs ${measuredPlain.worstAttention.toExponential(2)} / ${measuredSharp.worstAttention.toExponential(2)} (T=1 / sharpened)`);

    // Sharpening touches only the chosen heads: an untouched head of layer 0 is bit-identical.
    expect(Array.from(row(sharp, nHead, 0, 5, 1))).toEqual(Array.from(row(plain, nHead, 0, 5, 1)));
    expect(Array.from(row(sharp, nHead, 0, 5, 0))).not.toEqual(Array.from(row(plain, nHead, 0, 5, 0)));
    gpu.setAttentionTemperature(1);
    const again = await gpu.generate(tokens, options);
    expect(Array.from(again.logits[3])).toEqual(Array.from(plain.logits[3]));
  } finally {
    gpu.dispose();
  }
}

const cases = (Object.keys(presets) as PresetName[]).flatMap((name) => presetWeightTypes(name).map((type) => [name, type] as const));

describe.each(cases)('%s %s against the float64 reference', (name, weightType) => {
  it('prefill logits and attention, greedy decode through the KV cache, with T = 1 and T = 0.5 on some heads', () =>
    checkPreset(ctx, name, weightType));
});

/**
 * Without subgroups only the matrix kernels change (matvec for decode, the tiled kernel for the
 * 13-token prompt), and kernels-linear runs them for every weight type. This subset covers what
 * the matrices feed in a whole model (biases, GeGLU and soft-caps, odd shapes with F16 fallback
 * rows) while a fresh device compiles its pipelines only a few times.
 */
const WITHOUT_SUBGROUPS: ReadonlyArray<readonly [PresetName, FixtureWeightType]> = [
  ['tinyQwen2', 'Q8_0'],
  ['tinyGemma2', 'F16'],
  ['awkward', 'Q4_0'],
];

describe.each(WITHOUT_SUBGROUPS)('%s %s without subgroups against the float64 reference', (name, weightType) => {
  it('prefill logits and attention, greedy decode through matvec, with T = 1 and T = 0.5 on some heads', ({ skip }) => {
    skip(!ctx.caps.subgroups, 'this adapter has no subgroups, so every preset above already ran without them');
    return checkPreset(noSubgroups, name, weightType);
  });
});

describe('long prompts', () => {
  it('a prompt longer than one prefill chunk (140 tokens) matches the reference across the chunk boundary', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyQwen2, weightType: 'Q8_0' });
    try {
      const tokens = randomTokens(140, gpu.config.vocabSize, 77);
      const map = { layer: 1, head: 2 };
      const result = await gpu.generate(tokens, { maxNewTokens: 2, logits: 'all-prompt', attention: { rows: 'all-prompt', map } });
      checkAgainstReference(gpu, reference, tokens, result);
      checkMap(gpu, result, map);
    } finally {
      gpu.dispose();
    }
  });

  it('default export: the last prompt token and each generated step, rows padded with zeros', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.awkward, weightType: 'Q4_0' });
    try {
      const tokens = randomTokens(9, gpu.config.vocabSize, 5);
      const result = await gpu.generate(tokens, { maxNewTokens: 3, attention: {} });
      expect(result.logits.length).toBe(3);
      const rows = result.attention!.rows;
      expect(rows.queries).toEqual([8, 9, 10]);
      expect(rows.keys).toBe(11);
      const want = referenceForward(reference, [...tokens, ...result.generated.slice(0, 2)]);
      const { nLayer, nHead } = gpu.config;
      for (let l = 0; l < nLayer; l++)
        for (let s = 0; s < 3; s++)
          for (let h = 0; h < nHead; h++) {
            const got = row(result, nHead, l, s, h);
            const ref = want.attention[l][h][rows.queries[s]];
            for (let k = 0; k < rows.keys; k++) expect(Math.abs(got[k] - ref[k])).toBeLessThanOrEqual(ATTENTION_TOLERANCE);
          }
      result.logits.forEach((logits, i) => expect(relativeError(logits, want.logits[8 + i])).toBeLessThanOrEqual(LOGIT_TOLERANCE));
    } finally {
      gpu.dispose();
    }
  });
});

describe('Gemma 2 features are exercised by its fixture', () => {
  it('sliding-window layers zero keys older than the window; soft-capping changes the result', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyGemma2, weightType: 'F32' });
    try {
      const { nHead, slidingWindow, slidingLayers } = gpu.config;
      expect(slidingLayers).toEqual([true, false, true]);
      const tokens = randomTokens(12, gpu.config.vocabSize, 3);
      const result = await gpu.generate(tokens, { maxNewTokens: 1, attention: { rows: 'all-prompt' } });
      const last = tokens.length - 1;
      const oldKeys = (layer: number) => Array.from(row(result, nHead, layer, last, 0).subarray(0, last + 1 - slidingWindow));
      expect(oldKeys(0).every((p) => p === 0)).toBe(true);
      expect(oldKeys(1).some((p) => p > 1e-3)).toBe(true);
      const uncapped = referenceForward({ ...reference, config: { ...reference.config, attnSoftcap: 0, finalSoftcap: 0 } }, tokens);
      const capped = referenceForward(reference, tokens);
      expect(relativeError(uncapped.logits[last], capped.logits[last])).toBeGreaterThan(0.05);
    } finally {
      gpu.dispose();
    }
  });
});
