// Loading a reference model from a GGUF built in memory (own tiny writer), compared with the same arrays.

import { describe, expect, it } from 'vitest';
import { llamaFeatures, type ModelConfig } from '../../src/engine/config';
import { TruncatedGgufError } from '../../src/errors';
import { openGguf } from '../../src/gguf/reader';
import { blobSource } from '../../src/gguf/source';
import { GGMLType } from '../../src/gguf/types';
import { loadReferenceModel, referenceForward, referenceModelFromTensors, referenceTensorShapes } from '../../src/reference/forward';

type Meta = [key: string, kind: 'u32' | 'f32' | 'string', value: number | string];
interface Tensor { name: string; type: GGMLType; dims: readonly number[]; bytes: Uint8Array }

/** GGUF v3, alignment 32: header, metadata, tensor infos, padded data. */
function writeGguf(meta: Meta[], tensors: Tensor[]): Uint8Array {
  const parts: number[] = [];
  const u8 = (...b: number[]) => parts.push(...b);
  const u32 = (v: number) => u8(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  const u64 = (v: number) => (u32(v), u32(0));
  const str = (s: string) => { const b = new TextEncoder().encode(s); u64(b.length); u8(...b); };
  const pad = () => { while (parts.length % 32) u8(0); };
  u8(...new TextEncoder().encode('GGUF')); u32(3); u64(tensors.length); u64(meta.length);
  for (const [key, kind, value] of meta) {
    str(key);
    if (kind === 'string') { u32(8); str(value as string); }
    else if (kind === 'u32') { u32(4); u32(value as number); }
    else { u32(6); u8(...new Uint8Array(new Float32Array([value as number]).buffer)); }
  }
  let offset = 0;
  for (const t of tensors) {
    str(t.name); u32(t.dims.length); t.dims.forEach(u64); u32(t.type); u64(offset);
    offset += Math.ceil(t.bytes.length / 32) * 32;
  }
  pad();
  for (const t of tensors) { u8(...t.bytes); pad(); }
  return Uint8Array.from(parts);
}

/** Values exactly representable in each encoding, with their bytes. */
function encode(type: GGMLType, n: number, next: () => number): { values: Float64Array; bytes: Uint8Array } {
  const values = new Float64Array(n);
  if (type === GGMLType.F32) {
    values.forEach((_, i) => (values[i] = Math.round((next() * 2 - 1) * 64) / 64));
    return { values, bytes: new Uint8Array(new Float32Array(values).buffer) };
  }
  if (type === GGMLType.F16) { // picks among 0.5, 1, 1.5, 2
    const bits = [0x3800, 0x3c00, 0x3e00, 0x4000];
    const bytes = new Uint8Array(2 * n);
    for (let i = 0; i < n; i++) { const k = Math.floor(next() * 4); values[i] = 0.5 * (k + 1); new DataView(bytes.buffer).setUint16(2 * i, bits[k], true); }
    return { values, bytes };
  }
  const isQ8 = type === GGMLType.Q8_0;
  const blockBytes = isQ8 ? 34 : 18;
  const bytes = new Uint8Array((n / 32) * blockBytes);
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < n / 32; b++) {
    view.setUint16(b * blockBytes, isQ8 ? 0x2400 : 0x2c00, true); // d = 2^-6 (Q8_0) or 2^-4 (Q4_0)
    for (let j = 0; j < (isQ8 ? 32 : 16); j++) {
      if (isQ8) { const q = Math.floor(next() * 255) - 127; view.setInt8(b * 34 + 2 + j, q); values[32 * b + j] = q / 64; }
      else {
        const lo = Math.floor(next() * 16), hi = Math.floor(next() * 16);
        bytes[b * 18 + 2 + j] = lo | (hi << 4);
        values[32 * b + j] = (lo - 8) / 16;
        values[32 * b + j + 16] = (hi - 8) / 16;
      }
    }
  }
  return { values, bytes };
}

function build(config: ModelConfig, typeOf: (name: string) => GGMLType) {
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const arrays = new Map<string, Float64Array>();
  const tensors: Tensor[] = [];
  for (const [name, dims] of referenceTensorShapes(config)) {
    const { values, bytes } = encode(typeOf(name), dims.reduce((a, b) => a * b, 1), next);
    arrays.set(name, values);
    tensors.push({ name, type: typeOf(name), dims, bytes });
  }
  const a = config.arch;
  const meta: Meta[] = [
    ['general.architecture', 'string', a], [`${a}.block_count`, 'u32', config.nLayer], [`${a}.context_length`, 'u32', config.contextLength],
    [`${a}.embedding_length`, 'u32', config.nEmbd], [`${a}.feed_forward_length`, 'u32', config.nFf],
    [`${a}.attention.head_count`, 'u32', config.nHead], [`${a}.attention.head_count_kv`, 'u32', config.nHeadKv],
    [`${a}.attention.layer_norm_rms_epsilon`, 'f32', config.rmsEps], [`${a}.rope.freq_base`, 'f32', config.ropeTheta],
  ];
  return { arrays, bytes: writeGguf(meta, tensors) };
}

const base = { nLayer: 2, nEmbd: 32, nHead: 4, nHeadKv: 2, headDim: 8, nFf: 64, vocabSize: 9, contextLength: 128, rmsEps: 2 ** -16, ...llamaFeatures(8, 2) };
const LLAMA: ModelConfig = { ...base, arch: 'llama', ropeTheta: 10000, ropeThetaSliding: 10000, ropeStyle: 'normal', tiedEmbeddings: false, qkvBias: false, ropeFreqFactors: true };
const QWEN2: ModelConfig = { ...base, arch: 'qwen2', ropeTheta: 1000000, ropeThetaSliding: 1000000, ropeStyle: 'neox', tiedEmbeddings: true, qkvBias: true, ropeFreqFactors: false };

const mixedTypes = (name: string) =>
  name === 'token_embd.weight' ? GGMLType.Q8_0
  : name.endsWith('ffn_up.weight') || name.endsWith('attn_k.weight') ? GGMLType.Q4_0
  : name.endsWith('norm.weight') || name === 'rope_freqs.weight' ? GGMLType.F16 // positive: 0.5 … 2
  : GGMLType.F32;

describe('loadReferenceModel', () => {
  it.each([['llama', LLAMA], ['qwen2', QWEN2]] as const)('reads a %s GGUF (F32/F16/Q8_0/Q4_0) into the same model as its arrays', async (_, config) => {
    const { arrays, bytes } = build(config, mixedTypes);
    const file = await openGguf(blobSource(new Blob([bytes as BlobPart]), 'tiny.gguf'));
    const loaded = await loadReferenceModel(file);
    expect(loaded.config).toEqual(config);
    const direct = referenceModelFromTensors(config, arrays);
    const tokens = [0, 8, 3, 3, 5];
    const fromFile = referenceForward(loaded, tokens);
    const fromArrays = referenceForward(direct, tokens);
    expect(fromFile.logits).toEqual(fromArrays.logits);
    expect(fromFile.attention).toEqual(fromArrays.attention);
    expect(fromFile.logits.every((l) => l.every(Number.isFinite))).toBe(true);
    expect(fromFile.logits[4].some((v) => v !== 0)).toBe(true);
  });

  it('refuses a tensor whose dims disagree with the metadata', async () => {
    const { bytes } = build({ ...LLAMA, nFf: 32 }, () => GGMLType.F32);
    const text = new TextDecoder('latin1').decode(bytes);
    // Claim a larger FFN in metadata than the tensors have: patch the u32 after the key.
    const at = text.indexOf('llama.feed_forward_length') + 'llama.feed_forward_length'.length + 4;
    new DataView(bytes.buffer).setUint32(at, 64, true);
    const file = await openGguf(blobSource(new Blob([bytes as BlobPart]), 'bad.gguf'));
    await expect(loadReferenceModel(file)).rejects.toThrow(TruncatedGgufError);
    await expect(loadReferenceModel(file)).rejects.toThrow(/blk\.0\.ffn_gate\.weight .* dims \[32, 32\] .* \[32, 64\]/);
  });
});
