// Reference forward pass on tiny models built from arrays: properties checked against independent sums.

import { describe, expect, it } from 'vitest';
import { llamaFeatures, type ModelConfig } from '../../src/engine/config';
import { EngineInputError } from '../../src/errors';
import { referenceForward, referenceModelFromTensors, referenceTensorShapes } from '../../src/reference/forward';
import { mulberry32 as rng } from '../../src/util/random';

const LLAMA: ModelConfig = {
  arch: 'llama', nLayer: 2, nEmbd: 8, nHead: 4, nHeadKv: 2, headDim: 2, nFf: 12, vocabSize: 11,
  contextLength: 64, rmsEps: 1e-5, ropeTheta: 10000, ropeThetaSliding: 10000, ropeStyle: 'normal',
  tiedEmbeddings: false, qkvBias: false, ropeFreqFactors: true, ...llamaFeatures(2, 2),
};
const QWEN2: ModelConfig = { ...LLAMA, ...llamaFeatures(2, 1), arch: 'qwen2', nLayer: 1, nHead: 6, nHeadKv: 2, ropeStyle: 'neox', ropeTheta: 1e6, ropeThetaSliding: 1e6, tiedEmbeddings: true, qkvBias: true, ropeFreqFactors: false };

/** Random tensors for every name the config needs; `zero` names are all zeros. */
function randomTensors(config: ModelConfig, seed: number, zero: (name: string) => boolean = () => false) {
  const next = rng(seed);
  const tensors = new Map<string, Float64Array>();
  for (const [name, dims] of referenceTensorShapes(config)) {
    const n = dims.reduce((a, b) => a * b, 1);
    const isNorm = name.endsWith('norm.weight') || name === 'rope_freqs.weight';
    tensors.set(name, Float64Array.from({ length: n }, () => (zero(name) ? 0 : isNorm ? 0.5 + next() : 2 * next() - 1)));
  }
  return tensors;
}

// Independent helpers: plain loops, not the ops under test.
const row = (data: Float64Array, r: number, cols: number) => Array.from(data.subarray(r * cols, (r + 1) * cols));
function normalize(x: number[], w: Float64Array, eps: number): number[] {
  const meanSquare = x.reduce((s, v) => s + v * v, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(meanSquare + eps)) * w[i]);
}
function times(w: Float64Array, rows: number, x: number[]): number[] {
  return Array.from({ length: rows }, (_, r) => x.reduce((s, v, c) => s + w[r * x.length + c] * v, 0));
}

describe('referenceForward on tiny models', () => {
  it('with zero attention-output and FFN-down weights, logits = output · norm(embedding) of each token', () => {
    const config = LLAMA;
    const tensors = randomTensors(config, 1, (n) => n.endsWith('attn_output.weight') || n.endsWith('ffn_down.weight'));
    const tokens = [3, 0, 10, 3];
    const { logits } = referenceForward(referenceModelFromTensors(config, tensors), tokens);
    tokens.forEach((t, pos) => {
      const y = normalize(row(tensors.get('token_embd.weight')!, t, config.nEmbd), tensors.get('output_norm.weight')!, config.rmsEps);
      const expected = times(tensors.get('output.weight')!, config.vocabSize, y);
      expect(logits[pos].length).toBe(config.vocabSize);
      expected.forEach((e, v) => expect(logits[pos][v]).toBeCloseTo(e, 12));
    });
  });

  it('qwen2 with zero query weights attends uniformly; logits match a hand-written pass with biases and GQA', () => {
    const config = QWEN2;
    const tensors = randomTensors(config, 2, (n) => /attn_q\.(weight|bias)$/.test(n) || n.endsWith('ffn_down.weight'));
    const tokens = [5, 1, 7];
    const { logits, attention } = referenceForward(referenceModelFromTensors(config, tensors), tokens);
    attention[0].forEach((head) => head.forEach((r, q) => r.forEach((p, k) => expect(p).toBeCloseTo(k <= q ? 1 / (q + 1) : 0, 14))));

    const t = (name: string) => tensors.get(name)!;
    const { nEmbd, headDim, nHead, nHeadKv, rmsEps } = config;
    const kvDim = nHeadKv * headDim;
    const x0 = tokens.map((tok) => row(t('token_embd.weight'), tok, nEmbd));
    const values = x0.map((x) => times(t('blk.0.attn_v.weight'), kvDim, normalize(x, t('blk.0.attn_norm.weight'), rmsEps)).map((v, i) => v + t('blk.0.attn_v.bias')[i]));
    tokens.forEach((_, q) => {
      const attended: number[] = [];
      for (let h = 0; h < nHead; h++) {
        const kvHead = Math.floor(h / (nHead / nHeadKv));
        for (let d = 0; d < headDim; d++) {
          let mean = 0;
          for (let k = 0; k <= q; k++) mean += values[k][kvHead * headDim + d] / (q + 1);
          attended.push(mean);
        }
      }
      const x1 = times(t('blk.0.attn_output.weight'), nEmbd, attended).map((v, i) => v + x0[q][i]);
      const expected = times(t('token_embd.weight'), config.vocabSize, normalize(x1, t('output_norm.weight'), rmsEps));
      expected.forEach((e, v) => expect(logits[q][v]).toBeCloseTo(e, 12));
    });
  });

  it('is causal: changing a later token leaves earlier logits and attention unchanged', () => {
    const model = referenceModelFromTensors(LLAMA, randomTensors(LLAMA, 3));
    const a = referenceForward(model, [1, 2, 3, 4]);
    const b = referenceForward(model, [1, 2, 9, 4]);
    expect(a.logits[1]).toEqual(b.logits[1]);
    expect(a.attention[1][3][1]).toEqual(b.attention[1][3][1]);
    expect(a.logits[2]).not.toEqual(b.logits[2]);
    expect(a.logits[0]).toEqual(referenceForward(model, [1]).logits[0]);
  });

  it('returns [layer][head][query] rows of prompt length and the hidden stream when asked', () => {
    const model = referenceModelFromTensors(LLAMA, randomTensors(LLAMA, 4));
    const { attention, hidden, logits } = referenceForward(model, [0, 1, 2, 3, 4], { captureHidden: true });
    expect(attention.length).toBe(LLAMA.nLayer);
    expect(attention[0].length).toBe(LLAMA.nHead);
    expect(attention[1][3].length).toBe(5);
    for (const layer of attention)
      for (const head of layer)
        head.forEach((r, q) => {
          expect(r.length).toBe(5);
          expect(r.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
          expect(Array.from(r.subarray(q + 1)).every((p) => p === 0)).toBe(true);
        });
    expect(logits.length).toBe(5);
    expect(hidden!.length).toBe(LLAMA.nLayer + 1);
    expect(Array.from(hidden![0][2])).toEqual(row(model.tokenEmbedding.data, 2, LLAMA.nEmbd));
    expect(referenceForward(model, [0, 1]).hidden).toBeUndefined();
  });

  it('attention temperature below 1 sharpens every layer-0 row; T = 1 equals no temperature', () => {
    const model = referenceModelFromTensors(LLAMA, randomTensors(LLAMA, 5));
    const tokens = [4, 8, 1, 6, 2, 9];
    const plain = referenceForward(model, tokens);
    const ones = referenceForward(model, tokens, { attentionTemperature: new Float64Array(LLAMA.nLayer * LLAMA.nHead).fill(1) });
    expect(ones.logits).toEqual(plain.logits);
    const sharp = referenceForward(model, tokens, { attentionTemperature: new Float64Array(LLAMA.nLayer * LLAMA.nHead).fill(0.5) });
    const entropy = (r: Float64Array) => -r.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
    plain.attention[0].forEach((head, h) =>
      head.forEach((r, q) => {
        if (q === 0) return;
        expect(Math.max(...sharp.attention[0][h][q])).toBeGreaterThan(Math.max(...r));
        expect(entropy(sharp.attention[0][h][q])).toBeLessThan(entropy(r));
      }),
    );
  });

  it('applies each (layer, head) temperature to its own head only', () => {
    const model = referenceModelFromTensors(LLAMA, randomTensors(LLAMA, 6));
    const tokens = [1, 2, 3];
    const temperature = new Float64Array(LLAMA.nLayer * LLAMA.nHead).fill(1);
    temperature[1] = 0.25; // layer 0, head 1
    const plain = referenceForward(model, tokens);
    const one = referenceForward(model, tokens, { attentionTemperature: temperature });
    expect(one.attention[0][0]).toEqual(plain.attention[0][0]);
    expect(one.attention[0][1][2]).not.toEqual(plain.attention[0][1][2]);
  });

  it('rejects bad input with clear errors', () => {
    const model = referenceModelFromTensors(LLAMA, randomTensors(LLAMA, 7));
    expect(() => referenceForward(model, [])).toThrow(EngineInputError);
    expect(() => referenceForward(model, [11])).toThrow(/outside the vocabulary/);
    expect(() => referenceForward(model, [1], { attentionTemperature: new Float64Array(3) })).toThrow(/nLayer × nHead = 8/);
    const missing = randomTensors(LLAMA, 7);
    missing.delete('blk.1.ffn_up.weight');
    expect(() => referenceModelFromTensors(LLAMA, missing)).toThrow(/blk\.1\.ffn_up\.weight is missing/);
  });
});
