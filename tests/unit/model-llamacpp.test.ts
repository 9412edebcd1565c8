// The GPU model against llama.cpp (node-llama-cpp on the CPU) on the same GGUF files: over 16
// teacher-forced steps the next-token distributions agree within what llama.cpp's own
// approximations allow (f16 KV cache; 8-bit activations for quantized weights).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { pathSource } from '../../src/gguf/source-node';
import { presets, presetWeightTypes, randomModel, type PresetName } from '../fixtures/models';
import { disposeLlamaOracle, llamaNextTokenDistributions } from '../oracle/llamacpp';
import { createTestContext } from '../support/gpu';
import { argmax, randomTokens, softmax64 } from '../support/model';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  ctx?.destroy();
  await disposeLlamaOracle();
});

const STEPS = 16;
const cases = (Object.keys(presets) as PresetName[]).flatMap((name) => presetWeightTypes(name).map((type) => [name, type] as const));

describe.each(cases)('%s %s against llama.cpp', (name, weightType) => {
  it('same top token where llama.cpp is decisive, small total-variation distance', async () => {
    const path = await randomModel({ ...presets[name], weightType });
    const model = await loadModel(ctx, await pathSource(path));
    try {
      const tokens = randomTokens(STEPS, model.config.vocabSize, 1000 + name.length);
      const ours = (await model.generate(tokens, { maxNewTokens: 0, logits: 'all-prompt' })).logits.map(softmax64);
      const theirs = await llamaNextTokenDistributions(path, tokens);
      expect(ours.length).toBe(STEPS);
      let worstTv = 0;
      let meanTop = 0;
      let decisive = 0;
      for (let step = 0; step < STEPS; step++) {
        const p = ours[step];
        const q = theirs[step];
        let tv = 0;
        for (let i = 0; i < q.length; i++) tv += Math.abs(p[i] - q[i]);
        worstTv = Math.max(worstTv, tv / 2);
        const sorted = Array.from(q).sort((a, b) => b - a);
        meanTop += sorted[0] / STEPS;
        if (sorted[0] - sorted[1] > 0.05) {
          decisive++;
          expect({ step, top: argmax(p) }).toEqual({ step, top: argmax(q) });
        }
      }
      const limit = weightType === 'F32' || weightType === 'F16' ? 0.005 : 0.05;
      console.log(`${name} ${weightType}: worst TV ${worstTv.toFixed(5)} (limit ${limit}), llama.cpp mean top p ${meanTop.toFixed(3)}, ${decisive}/${STEPS} decisive steps`);
      expect(worstTv).toBeLessThanOrEqual(limit);
      expect(meanTop).toBeGreaterThan(0.5);
    } finally {
      model.dispose();
    }
  });
});
