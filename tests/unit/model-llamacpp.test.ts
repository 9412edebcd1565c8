// The GPU model against llama.cpp (node-llama-cpp on the CPU) on the same GGUF files, over 16
// teacher-forced steps.
//
// llama.cpp's CPU backend rounds activations on the way for every non-F32 weight type (to 8 bits
// in 32-blocks for Q4_0…Q8_0, to Q8_K 256-blocks for K-quants, to F16/BF16 for those), and which
// kernel does it depends on the processor (AVX2, AVX-512, VNNI, AMX, NEON). So:
// - the exact check runs llama.cpp on the F32-decoded twin of each file (the same weights, no
//   activation rounding): our decoding and arithmetic against llama.cpp's, at TV ≤ 0.005, with the
//   same top token wherever llama.cpp's leads by 0.05;
// - the direct check on the quantized file is a sanity check of our block decoding against
//   llama.cpp's, with a limit above what llama.cpp's own rounding moves it. `npx tsx
//   bench/llamacpp-spread.ts` prints that spread (llama.cpp on the file against llama.cpp on its
//   twin); measured 2026-12 on an AVX-512/VNNI AMD EPYC, worst over the fixtures: F16 0.003,
//   BF16 0.017, Q4_0…Q8_0 0.089 (tinyGemma3 Q4_0; the others up to 0.046), K-quants 0.077;
//   another machine saw 0.057 on Q4_1 directly. The limits are about twice that: 0.05 for 16-bit
//   floats, 0.2 for 4–8-bit types. A decoding bug (a wrong nibble order, scale or offset) moves
//   the distributions far past them.
// The float64 reference (model-reference.test.ts) stays the exact judge of our arithmetic.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { pathSource } from '../../src/gguf/source-node';
import { presets, presetWeightTypes, randomModel, randomModelDequantized, type PresetName } from '../fixtures/models';
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
/** Direct comparison limits (see the header): about twice llama.cpp's measured own spread. */
const DIRECT_LIMIT = { float16: 0.05, quantized: 0.2 } as const;
const EXACT_LIMIT = 0.005;

interface Agreement {
  worstTv: number;
  meanTop: number;
  decisive: number;
}

/** Worst TV over the steps; the top tokens must agree wherever llama.cpp's top leads by `decisiveGap`. */
function agreement(ours: Float64Array[], theirs: Float64Array[], decisiveGap: number): Agreement {
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
    if (sorted[0] - sorted[1] > decisiveGap) {
      decisive++;
      expect({ step, top: argmax(p) }).toEqual({ step, top: argmax(q) });
    }
  }
  return { worstTv, meanTop, decisive };
}

const cases = (Object.keys(presets) as PresetName[]).flatMap((name) => presetWeightTypes(name).map((type) => [name, type] as const));

describe.each(cases)('%s %s against llama.cpp', (name, weightType) => {
  it('matches llama.cpp on the F32-decoded twin, and stays near it on the file itself', async () => {
    const spec = { ...presets[name], weightType };
    const path = await randomModel(spec);
    const model = await loadModel(ctx, await pathSource(path));
    try {
      const tokens = randomTokens(STEPS, model.config.vocabSize, 1000 + name.length);
      const ours = (await model.generate(tokens, { maxNewTokens: 0, logits: 'all-prompt' })).logits.map(softmax64);
      expect(ours.length).toBe(STEPS);
      // F32 files need no twin: llama.cpp rounds nothing for them.
      const twinPath = weightType === 'F32' ? path : await randomModelDequantized(spec);
      const exact = agreement(ours, await llamaNextTokenDistributions(twinPath, tokens), 0.05);
      let line = `${name} ${weightType}: against llama.cpp on F32 weights worst TV ${exact.worstTv.toFixed(5)} (limit ${EXACT_LIMIT}), ${exact.decisive}/${STEPS} decisive steps`;
      expect(exact.worstTv).toBeLessThanOrEqual(EXACT_LIMIT);
      expect(exact.meanTop).toBeGreaterThan(0.5);
      if (weightType !== 'F32') {
        const limit = weightType === 'F16' || weightType === 'BF16' ? DIRECT_LIMIT.float16 : DIRECT_LIMIT.quantized;
        // Where llama.cpp's top token leads by more than twice the limit, its rounding cannot flip it.
        const direct = agreement(ours, await llamaNextTokenDistributions(path, tokens), 2 * limit);
        line += `; on the ${weightType} file itself worst TV ${direct.worstTv.toFixed(5)} (limit ${limit})`;
        expect(direct.worstTv).toBeLessThanOrEqual(limit);
      }
      console.log(line);
    } finally {
      model.dispose();
    }
  });
});
