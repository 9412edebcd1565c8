// The "Check this computer" self-test on Dawn: a healthy adapter passes with errors far below the
// limits, a corrupted upload fails with one sentence, and the loaded model's decode step is timed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { pathSource } from '../../src/gguf/source-node';
import { ATTENTION_TOLERANCE, LOGIT_TOLERANCE, runSelfTest } from '../../src/selftest/selftest';
import { presets, randomModel } from '../fixtures/models';
import { createTestContext } from '../support/gpu';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

describe('self-test', () => {
  it('passes on a healthy adapter and times a decode step of the loaded model', async () => {
    const model = await loadModel(ctx, await pathSource(await randomModel({ ...presets.tinyLlama, weightType: 'Q8_0' })));
    try {
      const result = await runSelfTest(ctx, { model, name: 'tiny llama' });
      expect(result.passed).toBe(true);
      expect(result.reason).toBeUndefined();
      expect(result.checks.map((c) => c.label)).toEqual(['qwen2 Q8_0', 'llama Q4_K']);
      // Far below the limits: a healthy f32 engine is ~1e-6 off the float64 reference.
      expect(result.worstLogitError).toBeLessThan(LOGIT_TOLERANCE / 100);
      expect(result.worstAttentionError).toBeLessThan(ATTENTION_TOLERANCE / 10);
      expect(result.decodeMs).toBeGreaterThan(0);
      expect(result.decodeModel).toBe('tiny llama');
      expect(result.adapter.description).toBe(ctx.adapter.description);
    } finally {
      model.dispose();
    }
  }, 180_000);

  it('fails with one sentence when the GPU corrupts what it is given', async () => {
    // A faulty device: every weight upload past the first 64 bytes gets one flipped byte.
    const queue = ctx.device.queue;
    const original = queue.writeBuffer.bind(queue);
    queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number) => {
      if (ArrayBuffer.isView(data) && data.byteLength > 4096) {
        const copy = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
        copy[100] ^= 0x40;
        return original(buffer, offset, copy, dataOffset, size);
      }
      return original(buffer, offset, data, dataOffset, size);
    }) as typeof queue.writeBuffer;
    try {
      const result = await runSelfTest(ctx);
      expect(result.passed).toBe(false);
      expect(result.reason).toMatch(/^This GPU computed .+ differently from the reference \(worst logit error .+\); update the graphics driver or use another browser or computer before presenting\.$/);
      expect(result.decodeMs).toBeUndefined();
    } finally {
      queue.writeBuffer = original;
    }
  }, 180_000);
});
