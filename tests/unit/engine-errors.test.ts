// Bad input gets one clear, typed error and the engine stays usable: broken or truncated GGUF
// files, unsupported architectures and weight types, device limits, a lost device, bad requests.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeviceLimitError,
  DeviceLostError,
  EngineInputError,
  NotGgufError,
  TruncatedGgufError,
  UnsupportedArchitectureError,
  UnsupportedWeightTypeError,
} from '../../src/errors';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { blobSource } from '../../src/gguf/source';
import { GGMLType } from '../../src/gguf/types';
import { encodeGguf, str, type GgufModelSpec } from '../../src/gguf/writer';
import { buildRandomModel, presets } from '../fixtures/models';
import { createTestContext, randomArray } from '../support/gpu';
import { expectClearError } from '../support/errors';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

const tiny = { ...presets.tinyLlama, weightType: 'Q8_0' } as const;
const goodBytes = () => encodeGguf(buildRandomModel(tiny)).bytes;
const load = (bytes: Uint8Array, context = ctx) => loadModel(context, blobSource(new Blob([bytes as BlobPart]), 'model.gguf'));

async function stillWorks() {
  const model = await load(goodBytes());
  const result = await model.generate([1, 2, 3], { maxNewTokens: 2 });
  expect(result.generated).toHaveLength(2);
  model.dispose();
}

function withTensor(spec: GgufModelSpec, name: string, replace: (t: GgufModelSpec['tensors'][number]) => GgufModelSpec['tensors'][number]): GgufModelSpec {
  return { ...spec, tensors: spec.tensors.map((t) => (t.name === name ? replace(t) : t)) };
}

describe('broken files', () => {
  it('random bytes are not a GGUF file', async () => {
    const bytes = new Uint8Array(randomArray(1000, 1).buffer);
    await expectClearError(load(bytes), NotGgufError, /not a GGUF file/);
    await stillWorks();
  });

  it('a file cut in half is reported as truncated, naming the missing tensor', async () => {
    const bytes = goodBytes();
    await expectClearError(load(bytes.subarray(0, bytes.length >> 1)), TruncatedGgufError, /truncated: tensor \S+/);
  });

  it('a file cut inside its header is reported as cut short', async () => {
    await expectClearError(load(goodBytes().subarray(0, 300)), TruncatedGgufError, /cut short|truncated/);
    await expectClearError(load(goodBytes().subarray(0, 10)), TruncatedGgufError, /too short/);
  });

  it('an unknown GGUF version is rejected', async () => {
    const bytes = goodBytes().slice();
    new DataView(bytes.buffer).setUint32(4, 99, true);
    await expectClearError(load(bytes), NotGgufError, /version/);
  });
});

describe('unsupported models', () => {
  it('names an unsupported architecture and lists the supported ones', async () => {
    const spec = buildRandomModel(tiny);
    const metadata = spec.metadata.map(([k, v]) => (k === 'general.architecture' ? ([k, str('mamba')] as const) : ([k, v] as const)));
    await expectClearError(load(encodeGguf({ ...spec, metadata }).bytes), UnsupportedArchitectureError, /"mamba".*llama, qwen2/);
    await stillWorks();
  });

  it('names a weight type the kernels cannot run (Q3_K) and the tensor', async () => {
    const spec = buildRandomModel({ ...tiny, nEmbd: 256, nHead: 4, headDim: 64 });
    const broken = withTensor(spec, 'blk.1.ffn_gate.weight', (t) => ({
      ...t,
      type: GGMLType.Q3_K,
      data: new Uint8Array((t.dims[0] * t.dims[1] / 256) * 110),
    }));
    await expectClearError(load(encodeGguf(broken).bytes), UnsupportedWeightTypeError, /blk\.1\.ffn_gate\.weight.*Q3_K/);
  });

  it('names an unknown weight type id', async () => {
    const bytes = goodBytes().slice();
    // Tensor info: name (u64 length + bytes), n_dims u32, n_dims × u64, then the type u32.
    const name = new TextEncoder().encode('output_norm.weight');
    const at = bytes.findIndex((_, i) => name.every((b, j) => bytes[i + j] === b));
    const view = new DataView(bytes.buffer);
    const nDims = view.getUint32(at + name.length, true);
    view.setUint32(at + name.length + 4 + 8 * nDims, 77, true);
    await expectClearError(load(bytes), UnsupportedWeightTypeError, /output_norm\.weight.*type 77/);
  });
});

describe('device limits', () => {
  /** The same device, pretending its buffers can hold at most `bytes`. */
  const limited = (bytes: number): GpuContext =>
    Object.create(ctx, { caps: { value: { ...ctx.caps, maxBufferSize: bytes, maxStorageBufferBindingSize: bytes } } });

  it('a tensor over the binding limit is split across buffers and the model still runs identically', async () => {
    const full = await load(goodBytes());
    const want = await full.generate([5, 6, 7, 8], { maxNewTokens: 3, logits: 'generated' });
    full.dispose();
    // token_embd is 320 rows of 72 packed bytes: 4 KiB bindings force 6 parts.
    const split = await load(goodBytes(), limited(4096));
    const got = await split.generate([5, 6, 7, 8], { maxNewTokens: 3, logits: 'generated' });
    split.dispose();
    expect(got.generated).toEqual(want.generated);
    expect(Array.from(got.logits[2])).toEqual(Array.from(want.logits[2]));
  });

  it('a row larger than the device allows names the limit', async () => {
    await expectClearError(load(goodBytes(), limited(64)), DeviceLimitError, /binding limit of 64 bytes/);
  });
});

describe('requests the model cannot honour', () => {
  it('rejects empty prompts, unknown token ids, over-long prompts and bad temperatures, and keeps working', async () => {
    const model = await load(goodBytes());
    await expectClearError(model.generate([], { maxNewTokens: 1 }), EngineInputError, /empty/);
    await expectClearError(model.generate([1, 320], { maxNewTokens: 1 }), EngineInputError, /Token id 320.*vocabulary of 320/);
    await expectClearError(model.generate([1, 2], { maxNewTokens: 300 }), EngineInputError, /context of 256/);
    await expectClearError(model.generate([1, 2], { maxNewTokens: 1, attention: { map: { layer: 9, head: 0 } } }), EngineInputError, /layer 9/);
    expect(() => model.setAttentionTemperature(0)).toThrow(EngineInputError);
    expect(() => model.setAttentionTemperature(new Float32Array(3))).toThrow(/needs 8 values/);
    expect((await model.generate([1, 2], { maxNewTokens: 1 })).generated).toHaveLength(1);
    model.dispose();
  });

  it('a cancelled generation stops with an AbortError', async () => {
    const model = await load(goodBytes());
    const controller = new AbortController();
    const steps: number[] = [];
    const run = model.generate([1, 2, 3], { maxNewTokens: 50, signal: controller.signal, onToken: (_, i) => (steps.push(i), i === 2 && controller.abort()) });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([0, 1, 2]);
    model.dispose();
  });
});

describe('device loss', () => {
  it('an unexpected loss is a DeviceLostError telling the user to reload', async () => {
    const own = await createTestContext();
    const model = await load(goodBytes(), own);
    own.device.destroy(); // not through own.destroy(): the engine did not ask for it
    await own.lost;
    await expectClearError(model.generate([1, 2], { maxNewTokens: 1 }), DeviceLostError, /device was lost.*reload/);
  });

  it('an intended teardown is not reported as a loss', async () => {
    const own = await createTestContext();
    own.destroy();
    expect((await own.lost).intended).toBe(true);
    expect(() => own.assertAlive()).not.toThrow();
  });
});
