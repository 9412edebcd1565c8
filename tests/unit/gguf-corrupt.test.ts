// Corrupt GGUF files that used to load and print NaN logits now fail in one typed sentence: a type
// changed so a tensor overlaps the next, unaligned offsets, counts past the file's end, impossible
// hyper-parameters, shapes that disagree with them; and NaN weights never reach the output.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { CorruptGgufError, NonFiniteOutputError, TruncatedGgufError, type SlipLabError } from '../../src/errors';
import { openGguf } from '../../src/gguf/reader';
import { blobSource } from '../../src/gguf/source';
import { GGMLType } from '../../src/gguf/types';
import { encodeGguf, type GgufModelSpec } from '../../src/gguf/writer';
import { mapHeader, type FieldKind } from '../fixtures/gguf-fields';
import { buildRandomModel, presets } from '../fixtures/models';
import { createTestContext } from '../support/gpu';
import { runCli } from '../support/cli';
import { expectClearError as expectSentence } from '../support/errors';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

const tiny = { ...presets.tinyLlama, weightType: 'Q4_0' } as const;
const gemma = { ...presets.tinyGemma2, weightType: 'Q8_0' } as const;
const source = (bytes: Uint8Array) => blobSource(new Blob([bytes as BlobPart]), 'model.gguf');
const load = (bytes: Uint8Array) => loadModel(ctx, source(bytes));

/** A copy of `spec`'s file with the field `kind` of `owner` (a metadata key or tensor name) set to `value`. */
function patched(spec: typeof tiny | typeof gemma, owner: string, kind: FieldKind, value: number | bigint): Uint8Array {
  const bytes = encodeGguf(buildRandomModel(spec)).bytes;
  const field = mapHeader(bytes).fields.find((f) => f.owner === owner && f.kind === kind);
  if (!field) throw new Error(`no ${kind} field of ${owner}`);
  const view = new DataView(bytes.buffer);
  if (kind === 'floatValue') view.setFloat32(field.at, Number(value), true);
  else if (field.width === 4) view.setUint32(field.at, Number(value), true);
  else view.setBigUint64(field.at, BigInt(value), true);
  return bytes;
}

/** Rejects with `type`: one sentence, no line break, ending in advice after its one semicolon. */
const expectClearError = (promise: Promise<unknown>, type: new (...args: never[]) => SlipLabError, mentions: RegExp) =>
  expectSentence(promise, type, mentions, /; [a-z][^;]*\.$/);

describe('the two corruptions that printed NaN logits', () => {
  it('a tensor retyped Q4_0 → Q5_1 overlaps the next one, in the engine and in the CLI', async () => {
    const bytes = patched(tiny, 'blk.0.attn_q.weight', 'tensorType', GGMLType.Q5_1);
    const sentence = /^model\.gguf is corrupt: tensors blk\.0\.attn_q\.weight and blk\.0\.attn_k\.weight overlap \(.*\); download the file again\.$/;
    await expectClearError(load(bytes), CorruptGgufError, sentence);

    const scratch = await mkdtemp(join(tmpdir(), 'gguf-corrupt-'));
    try {
      const path = join(scratch, 'model.gguf');
      await writeFile(path, bytes);
      const run = await runCli(['forward', '--model', path, '--tokens', '1,2,3'], true);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderrLines).toEqual([expect.stringMatching(/is corrupt: tensors blk\.0\.attn_q\.weight and blk\.0\.attn_k\.weight overlap .*; download the file again\.$/)]);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it.each([1, 255])('a tensor offset of %i, unaligned to 32, is refused', async (offset) => {
    await expectClearError(
      load(patched(tiny, 'blk.0.attn_k.weight', 'tensorOffset', offset)),
      CorruptGgufError,
      new RegExp(`tensor blk\\.0\\.attn_k\\.weight starts at byte ${offset} of the data section, not a multiple of the file's alignment of 32`),
    );
  });

  it('an aligned offset that leaves a gap, or a shrunken type, is refused too', async () => {
    await expectClearError(load(patched(tiny, 'blk.0.attn_k.weight', 'tensorOffset', 2 ** 20)), CorruptGgufError, /but the sizes of the tensors before it put it at byte/);
    // An F16 norm takes half the bytes, so the next tensor no longer starts where it ends.
    await expectClearError(load(patched(tiny, 'blk.0.attn_norm.weight', 'tensorType', GGMLType.F16)), CorruptGgufError, /tensor blk\.0\.attn_q\.weight starts at byte/);
  });
});

describe('header fields beyond the file', () => {
  it.each([
    ['the tensor count', 'header', 'tensorCount', 2n ** 63n],
    ['the metadata count', 'header', 'metadataCount', 2n ** 40n],
    ['a key length', 'key 3', 'keyLength', 2n ** 60n],
    ['a string length', 'general.name', 'stringLength', 2n ** 64n - 1n],
    ['an array length', 'tokenizer.ggml.tokens', 'arrayLength', 2n ** 50n],
    ['a tensor name length', 'tensor 0', 'tensorNameLength', 2n ** 62n],
  ] as const)('%s of 2^k is refused at once, before anything is allocated', async (_, owner, kind, value) => {
    const started = performance.now();
    await expectClearError(openGguf(source(patched(tiny, owner, kind, value))), TruncatedGgufError, /cut short or corrupt \(.*more than the file has/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses impossible shapes and layouts', async () => {
    const open = (bytes: Uint8Array) => openGguf(source(bytes));
    await expectClearError(open(patched(tiny, 'general.alignment', 'intValue', 48)), CorruptGgufError, /general\.alignment is 48, not a power of two/);
    await expectClearError(open(patched(tiny, 'output.weight', 'nDims', 5)), CorruptGgufError, /tensor output\.weight has 5 dimensions where GGUF allows 1 to 4/);
    await expectClearError(open(patched(tiny, 'output.weight', 'dim', 0)), CorruptGgufError, /tensor output\.weight has the impossible shape \[0, 320\]/);
    // Same-length names: rename blk.1.ffn_up.weight to blk.0.ffn_up.weight in place.
    const bytes = encodeGguf(buildRandomModel(tiny)).bytes;
    const nameEnd = mapHeader(bytes).fields.find((f) => f.kind === 'nDims' && f.owner === 'blk.1.ffn_up.weight')!.at;
    bytes[nameEnd - 'blk.1.ffn_up.weight'.length + 4] = '0'.charCodeAt(0);
    await expectClearError(open(bytes), CorruptGgufError, /the tensor name blk\.0\.ffn_up\.weight appears twice/);
  });
});

describe('hyper-parameters no model has', () => {
  it.each([
    ['llama.attention.layer_norm_rms_epsilon', NaN, 'floatValue', /RMSNorm epsilon is NaN/],
    ['llama.attention.layer_norm_rms_epsilon', 0.5, 'floatValue', /RMSNorm epsilon is 0\.5, not a small positive number/],
    ['llama.attention.layer_norm_rms_epsilon', -1e-5, 'floatValue', /RMSNorm epsilon is -0\.0000/],
    ['llama.rope.freq_base', Infinity, 'floatValue', /RoPE base is Infinity, not a finite positive number/],
    ['llama.rope.freq_base', -1, 'floatValue', /RoPE base is -1/],
    ['llama.attention.head_count_kv', 0, 'intValue', /key-value head count is 0/],
    ['llama.attention.head_count_kv', 3, 'intValue', /head count 4 is not a multiple of the key-value head count 3/],
    ['llama.block_count', 0, 'intValue', /block count is 0, not a whole number from 1 to 512/],
    ['llama.block_count', 2 ** 31, 'intValue', /block count is 2147483648/],
    ['llama.context_length', 0, 'intValue', /context length is 0/],
    ['llama.rope.dimension_count', 8, 'intValue', /llama\.rope\.dimension_count is 8 but the head dimension is 16/],
  ] as const)('%s = %s', async (key, value, kind, mentions) => {
    await expectClearError(load(patched(tiny, key, kind, value)), CorruptGgufError, mentions);
  });

  it.each([
    ['gemma2.attn_logit_softcapping', -1, /attention soft-cap is -1, not a finite number of 0 or more/],
    ['gemma2.final_logit_softcapping', NaN, /final logit soft-cap is NaN/],
  ] as const)('%s = %s', async (key, value, mentions) => {
    await expectClearError(load(patched(gemma, key, 'floatValue', value)), CorruptGgufError, mentions);
  });

  it('a shape that disagrees with the hyper-parameters names the tensor and both shapes', async () => {
    await expectClearError(
      load(patched(tiny, 'llama.feed_forward_length', 'intValue', 256)),
      CorruptGgufError,
      /tensor blk\.0\.ffn_gate\.weight has dims \[64, 128\] but the model's hyper-parameters give it \[64, 256\]/,
    );
  });
});

describe('non-finite numbers never reach the output', () => {
  /** The tiny model with one weight of `tensor` (an F32 vector) set to NaN. */
  function withNaN(tensor: string): Uint8Array {
    const spec = buildRandomModel(tiny);
    const tensors = spec.tensors.map((t) => {
      if (t.name !== tensor) return t;
      const values = new Float32Array(t.data.slice().buffer);
      values[3] = NaN;
      return { ...t, data: new Uint8Array(values.buffer) };
    });
    return encodeGguf({ ...spec, tensors } satisfies GgufModelSpec).bytes;
  }
  const nonFinite = /^The model produced non-finite numbers \(NaN or infinity\); the file is probably corrupt, so download it again\.$/;

  it('in returned logits, in a sampled token nobody read the logits of, in log-probabilities and in attention', async () => {
    const model = await load(withNaN('output_norm.weight'));
    await expectClearError(model.generate([1, 2, 3], { maxNewTokens: 1, logits: 'generated' }), NonFiniteOutputError, nonFinite);
    await expectClearError(model.generate([1, 2, 3], { maxNewTokens: 3, logits: 'none' }), NonFiniteOutputError, nonFinite);
    await expectClearError(model.logprobs([1, 2], [3, 4]), NonFiniteOutputError, nonFinite);
    model.dispose();

    const early = await load(withNaN('blk.0.attn_norm.weight'));
    await expectClearError(early.generate([1, 2, 3], { maxNewTokens: 2, logits: 'none' }), NonFiniteOutputError, nonFinite);
    await expectClearError(early.generate([1, 2, 3], { maxNewTokens: 0, logits: 'none', attention: { rows: 'all-prompt' } }), NonFiniteOutputError, nonFinite);
    early.dispose();

    const good = await load(encodeGguf(buildRandomModel(tiny)).bytes);
    expect((await good.generate([1, 2, 3], { maxNewTokens: 2, logits: 'none' })).generated).toHaveLength(2);
    good.dispose();
  });
});
