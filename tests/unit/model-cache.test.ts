// KV-cache prefix reuse across calls, and teacher-forced log-probabilities, against the float64
// reference: reusing a cached prefix must give the same answers as computing from scratch.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheReuse } from '../../src/engine/api';
import type { GpuContext } from '../../src/engine/gpu';
import { planChunks } from '../../src/engine/generate';
import { referenceForward } from '../../src/reference/forward';
import { presets } from '../fixtures/models';
import { createTestContext } from '../support/gpu';
import { loadBoth, randomTokens, relativeError } from '../support/model';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

function logSoftmax(logits: Float64Array): Float64Array {
  const max = Math.max(...logits);
  const log = Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
  return logits.map((v) => v - max - log);
}

describe('prefill chunk planning', () => {
  it('covers the range in chunks of at most `chunk`, the last holding the requested tail', () => {
    expect(planChunks(0, 300, 128, 0)).toEqual([[0, 128], [128, 256], [256, 300]]);
    expect(planChunks(0, 257, 128, 5)).toEqual([[0, 128], [128, 252], [252, 257]]);
    expect(planChunks(40, 41, 128, 1)).toEqual([[40, 41]]);
    expect(planChunks(10, 20, 128, 0)).toEqual([[10, 20]]);
    expect(planChunks(0, 256, 128, 128)).toEqual([[0, 128], [128, 256]]);
  });
});

describe('KV-cache prefix reuse', () => {
  it('a prompt extending or diverging from the previous one matches the reference; new temperatures, a reset or reuse: none start afresh', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyQwen2, weightType: 'Q8_0' });
    try {
      const { vocabSize, nLayer, nHead } = gpu.config;
      const base = randomTokens(20, vocabSize, 1);
      const check = async (prompt: number[], reused: number, temperature?: Float32Array, reuse?: CacheReuse) => {
        const result = await gpu.generate(prompt, { maxNewTokens: 3, attention: { rows: 'last-and-generated' }, reuse });
        expect(result.reusedPrefix).toBe(reused);
        const sequence = [...prompt, ...result.generated.slice(0, 2)];
        const want = referenceForward(reference, sequence, { attentionTemperature: temperature && Float64Array.from(temperature) });
        result.logits.forEach((l, i) => expect(relativeError(l, want.logits[prompt.length - 1 + i])).toBeLessThanOrEqual(1e-4));
        const rows = result.attention!.rows;
        for (let l = 0; l < nLayer; l++)
          for (let h = 0; h < nHead; h++) {
            const got = rows.data.subarray(((l * rows.queries.length) * nHead + h) * rows.keys, ((l * rows.queries.length) * nHead + h + 1) * rows.keys);
            const ref = want.attention[l][h][prompt.length - 1];
            for (let k = 0; k < rows.keys; k++) expect(Math.abs(got[k] - ref[k])).toBeLessThanOrEqual(1e-5);
          }
      };
      await check(base, 0);
      await check([...base, 7, 8, 9], 20); // extends the cached prompt
      await check([...base.slice(0, 12), 100, 101], 12); // diverges at position 12
      await check([...base.slice(0, 12), 100, 101], 13); // same prompt: all but the last token
      const sharp = new Float32Array(nLayer * nHead).fill(0.5);
      gpu.setAttentionTemperature(sharp);
      await check([...base.slice(0, 12), 100, 101], 0, sharp); // a new temperature voids the cache
      gpu.setAttentionTemperature(sharp.slice());
      await check([...base.slice(0, 12), 100, 101], 13, sharp); // the same temperatures keep it
      gpu.resetCache();
      await check([...base.slice(0, 12), 100, 101], 0, sharp); // an explicit reset empties it
      await check([...base.slice(0, 12), 100, 101], 0, sharp, 'none'); // and so does a call that asks for no reuse
    } finally {
      gpu.dispose();
    }
  });

  it('logprobs of a continuation equal the reference log-softmax, before and after other calls', async () => {
    const { gpu, reference } = await loadBoth(ctx, { ...presets.tinyGemma2, weightType: 'Q4_0' });
    try {
      const prefix = randomTokens(15, gpu.config.vocabSize, 2);
      const continuation = [40, 41, 42, 43];
      const want = referenceForward(reference, [...prefix, ...continuation]).logits;
      const expected = continuation.map((token, i) => logSoftmax(want[prefix.length - 1 + i])[token]);
      for (let round = 0; round < 2; round++) {
        const got = await gpu.logprobs(prefix, continuation, { reuse: round === 0 ? 'prefix' : 'none' });
        got.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected[i]))));
        await gpu.generate([...prefix.slice(0, 9), 3], { maxNewTokens: 2 });
      }
      expect(await gpu.logprobs(prefix, [])).toHaveLength(0);
    } finally {
      gpu.dispose();
    }
  });
});
