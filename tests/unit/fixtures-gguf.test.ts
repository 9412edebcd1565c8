// Our GGUF writer and random models read back through the app's reader and config unchanged.

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromGguf } from '../../src/engine/config';
import { openGguf, type GgufFile } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';
import { GGMLType, tensorByteSize } from '../../src/gguf/types';
import { bool, f32, f32Array, i32, i32Array, str, strArray, u32, writeGguf } from '../../src/gguf/writer';
import {
  buildRandomModel,
  presets,
  presetWeightTypes,
  randomModel,
  specHash,
  tensorPlan,
  tensorValues,
  type PresetName,
  type RandomModelSpec,
} from '../fixtures/models';
import { encodeTensor } from '../../src/gguf/quantize';

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'gguf-writer-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function open(path: string): Promise<GgufFile> {
  return openGguf(await pathSource(path));
}

describe('writeGguf', () => {
  it('writes every metadata type and aligned tensors the reader finds at the same offsets', async () => {
    const path = join(directory, 'hand.gguf');
    const tensors = [
      { name: 'odd', type: GGMLType.F32, dims: [3], data: new Uint8Array(new Float32Array([1, 2, 3]).buffer) },
      { name: 'half', type: GGMLType.F16, dims: [5, 1], data: new Uint8Array(10).fill(7) },
      { name: 'q8', type: GGMLType.Q8_0, dims: [32, 2], data: new Uint8Array(68).fill(9) },
    ];
    const layout = await writeGguf(path, {
      metadata: [
        ['general.architecture', str('llama')],
        ['general.alignment', u32(32)],
        ['test.u32', u32(4000000000)],
        ['test.i32', i32(-7)],
        ['test.f32', f32(0.25)],
        ['test.true', bool(true)],
        ['test.false', bool(false)],
        ['test.string', str('héllo ▁')],
        ['test.strings', strArray(['a', '', 'ü'])],
        ['test.f32s', f32Array([1.5, -2])],
        ['test.i32s', i32Array([-1, 2, 3])],
      ],
      tensors,
    });
    const file = await open(path);
    const m = file.metadata;
    expect(m['test.u32']).toBe(4000000000);
    expect(m['test.i32']).toBe(-7);
    expect(m['test.f32']).toBe(0.25);
    expect(m['test.true']).toBe(true);
    expect(m['test.false']).toBe(false);
    expect(m['test.string']).toBe('héllo ▁');
    expect(m['test.strings']).toEqual(['a', '', 'ü']);
    expect(m['test.f32s']).toEqual([1.5, -2]);
    expect(m['test.i32s']).toEqual([-1, 2, 3]);
    expect(layout.dataStart % 32).toBe(0);
    for (const [i, t] of tensors.entries()) {
      const info = file.tensors.get(t.name)!;
      expect(info).toMatchObject({ type: t.type, dims: t.dims, offset: layout.tensors[i].offset, byteSize: t.data.length });
      expect(info.offset % 32).toBe(0);
      expect(await file.source.read(info.offset, info.byteSize)).toEqual(t.data);
    }
    await file.source.close?.();
  });

  it('refuses tensor data of the wrong length', async () => {
    await expect(
      writeGguf(join(directory, 'bad.gguf'), { metadata: [], tensors: [{ name: 'x', type: GGMLType.Q4_0, dims: [32], data: new Uint8Array(17) }] }),
    ).rejects.toThrow(/needs 18 bytes but got 17/);
  });
});

const cases = (Object.keys(presets) as PresetName[]).flatMap((name) =>
  presetWeightTypes(name).map((weightType) => ({ name, weightType, spec: { ...presets[name], weightType } as RandomModelSpec })),
);

describe('randomModel', () => {
  it.each(cases)('$name $weightType reads back with the shapes, types, metadata and bytes it was built with', async ({ spec }) => {
    const gemma = spec.arch === 'gemma2' || spec.arch === 'gemma3';
    const path = await randomModel(spec);
    expect((await stat(path)).size).toBeLessThan(4 * 1024 * 1024);
    const file = await open(path);
    const config = configFromGguf(file);
    expect(config).toMatchObject({
      arch: spec.arch,
      nLayer: spec.nLayer,
      nEmbd: spec.nEmbd,
      nHead: spec.nHead,
      nHeadKv: spec.nHeadKv,
      headDim: spec.headDim,
      nFf: spec.nFf,
      vocabSize: spec.vocabSize,
      contextLength: spec.contextLength,
      ropeStyle: spec.arch === 'llama' ? 'normal' : 'neox',
      tiedEmbeddings: spec.tied,
      qkvBias: spec.arch === 'qwen2',
      ropeFreqFactors: spec.ropeFreqs ?? false,
      qkNorm: spec.arch === 'qwen3' || spec.arch === 'gemma3',
      postNorms: gemma,
      ffnActivation: gemma ? 'gelu_tanh' : 'silu',
      attnSoftcap: spec.attnSoftcap ?? 0,
      finalSoftcap: spec.finalSoftcap ?? 0,
      slidingWindow: spec.slidingWindow ?? 0,
      embeddingScale: gemma ? Math.sqrt(spec.nEmbd) : 1,
    });
    expect(config.rmsEps).toBeCloseTo(spec.rmsEps, 12);
    expect(config.ropeTheta).toBe(spec.ropeTheta);
    // Gemma 3: five sliding layers (RoPE base 10 000), then a global one (the file's base).
    expect(config.ropeThetaSliding).toBe(spec.arch === 'gemma3' ? 10000 : spec.ropeTheta);
    const pattern = (l: number) => (spec.arch === 'gemma3' ? l % 6 !== 5 : spec.arch === 'gemma2' && l % 2 === 0);
    expect(config.slidingLayers).toEqual(Array.from({ length: spec.nLayer }, (_, l) => pattern(l)));

    const m = file.metadata;
    expect(m['general.alignment']).toBe(32);
    expect(m[`${spec.arch}.rope.dimension_count`]).toBe(spec.headDim);
    expect(m[`${spec.arch}.attention.value_length`]).toBe(spec.headDim);
    expect(m['tokenizer.ggml.model']).toBe('llama');
    const tokens = m['tokenizer.ggml.tokens'] as string[];
    expect(tokens.length).toBe(spec.vocabSize);
    expect(new Set(tokens).size).toBe(spec.vocabSize);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(tokens[258]).toBe('<0xFF>');
    expect((m['tokenizer.ggml.token_type'] as number[]).slice(0, 5)).toEqual([2, 3, 3, 6, 6]);
    expect(m['tokenizer.ggml.add_bos_token']).toBe(false);

    const plan = tensorPlan(spec);
    expect([...file.tensors.keys()]).toEqual(plan.map((t) => t.name));
    for (const planned of plan) {
      const info = file.tensors.get(planned.name)!;
      expect(info.dims).toEqual(planned.dims);
      expect(info.type).toBe(planned.type);
      expect(info.offset % 32).toBe(0);
      expect(info.byteSize).toBe(tensorByteSize(info.type, planned.dims.reduce((a, b) => a * b, 1)));
    }
    // First and last tensor hold exactly the encoded random values.
    for (const planned of [plan[0], plan[plan.length - 1]]) {
      const info = file.tensors.get(planned.name)!;
      expect(await file.source.read(info.offset, info.byteSize)).toEqual(encodeTensor(planned.type, tensorValues(spec, planned)));
    }
    await file.source.close?.();
  });

  it('keeps norms and biases in F32 and falls back to F16 only for rows no block divides', () => {
    const plan = tensorPlan({ ...presets.awkward, weightType: 'Q4_0' });
    const typeOf = (name: string) => plan.find((t) => t.name === name)!.type;
    expect(typeOf('blk.0.attn_norm.weight')).toBe(GGMLType.F32);
    expect(typeOf('blk.0.attn_q.weight')).toBe(GGMLType.Q4_0);
    expect(typeOf('blk.0.attn_output.weight')).toBe(GGMLType.F16); // rows of 6·24 = 144
    expect(typeOf('blk.0.ffn_down.weight')).toBe(GGMLType.Q4_0); // rows of 160
    const qwen = tensorPlan({ ...presets.tinyQwen2, weightType: 'Q8_0' });
    expect(qwen.filter((t) => t.name.endsWith('.bias')).every((t) => t.type === GGMLType.F32)).toBe(true);
    expect(qwen.some((t) => t.name === 'output.weight')).toBe(false);
  });

  it('caches by spec: the same spec reuses the file, another seed or type does not', async () => {
    const spec: RandomModelSpec = { ...presets.tinyLlama, weightType: 'Q8_0' };
    const first = await randomModel(spec);
    const before = (await stat(first)).mtimeMs;
    expect(await randomModel({ ...spec })).toBe(first);
    expect((await stat(first)).mtimeMs).toBe(before);
    expect(specHash({ ...spec, seed: 99 })).not.toBe(specHash(spec));
    expect(specHash({ ...spec, weightType: 'Q4_0' })).not.toBe(specHash(spec));
    expect(specHash({ ...spec, ropeFreqs: false })).toBe(specHash(spec));
  });

  it('draws the same weights for a seed whatever the weight type', () => {
    const a = buildRandomModel({ ...presets.tinyLlama, weightType: 'F32' });
    const b = buildRandomModel({ ...presets.tinyLlama, weightType: 'F16' });
    const norm = (spec: typeof a) => spec.tensors.find((t) => t.name === 'blk.1.ffn_norm.weight')!.data;
    expect(norm(a)).toEqual(norm(b));
  });

  it('explains specs llama.cpp would reject', () => {
    expect(() => tensorPlan({ ...presets.tinyQwen2, weightType: 'F32', nEmbd: 64 })).toThrow(/nHead·headDim = nEmbd/);
    expect(() => tensorPlan({ ...presets.tinyLlama, weightType: 'F32', vocabSize: 100 })).toThrow(/at least 259/);
    expect(() => tensorPlan({ ...presets.tinyLlama, weightType: 'F32', nHeadKv: 3 })).toThrow(/multiple of nHeadKv/);
  });
});
