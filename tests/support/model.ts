// Test support: load a fixture model on the GPU and in the float64 reference, and compare them.

import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import type { LoadedModel } from '../../src/engine/api';
import { openGguf } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';
import { loadReferenceModel, type ReferenceModel } from '../../src/reference/forward';
import { randomModel, type RandomModelSpec } from '../fixtures/models';

export async function loadBoth(ctx: GpuContext, spec: RandomModelSpec): Promise<{ path: string; gpu: LoadedModel; reference: ReferenceModel }> {
  const path = await randomModel(spec);
  const gpu = await loadModel(ctx, await pathSource(path));
  const source = await pathSource(path);
  try {
    return { path, gpu, reference: await loadReferenceModel(await openGguf(source)) };
  } finally {
    await source.close?.();
  }
}

/** Seeded token ids in [3, vocab) (skipping the control tokens of the fixture vocabulary). */
export function randomTokens(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return 3 + (state % (vocab - 3));
  });
}

/** max|a − b| / max|b| */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Number.isNaN(a[i]) ? Infinity : Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return diff / ref;
}

export function softmax64(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = Float64Array.from(logits as ArrayLike<number>, (v) => Math.exp(v - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
