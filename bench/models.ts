// The benches' models: random Q8_0 weights in real models' shapes, written once under .cache/bench/
// (every bench names the same spec the same way, so each reuses the others' files), and prompts.

import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { encodeGguf } from '../src/gguf/writer';
import { buildRandomModel, specHash, type RandomModelSpec } from '../tests/fixtures/models';

/** Real models' shapes with random Q8_0 weights (the numbers come from their config.json). */
export const SHAPES = {
  'qwen2.5-0.5b': {
    arch: 'qwen2', weightType: 'Q8_0', nLayer: 24, nEmbd: 896, nHead: 14, nHeadKv: 2, headDim: 64, nFf: 4864,
    vocabSize: 151936, contextLength: 4096, ropeTheta: 1000000, rmsEps: 1e-6, tied: true, seed: 101,
  },
  'smollm2-135m': {
    arch: 'llama', weightType: 'Q8_0', nLayer: 30, nEmbd: 576, nHead: 9, nHeadKv: 3, headDim: 64, nFf: 1536,
    vocabSize: 49152, contextLength: 4096, ropeTheta: 100000, rmsEps: 1e-5, tied: true, seed: 102,
  },
} as const satisfies Record<string, RandomModelSpec>;
export type ShapeName = keyof typeof SHAPES;

export const isShapeName = (name: string): name is ShapeName => Object.hasOwn(SHAPES, name);

/**
 * A one-layer model of the same architecture and weight type: it compiles
 * every pipeline the big model uses (pipelines are keyed by op, weight type and constants, never
 * by shape) in seconds, where a warm-up on the big model costs minutes on SwiftShader.
 */
export function warmUpTwin(spec: RandomModelSpec): RandomModelSpec {
  return { ...spec, nLayer: 1, nEmbd: 128, nHead: 2, nHeadKv: 1, headDim: 64, nFf: 128, vocabSize: 320, seed: spec.seed + 1000 };
}

const CACHE_DIR = fileURLToPath(new URL('../.cache/bench/', import.meta.url));

/**
 * The model's file under .cache/bench/, written on first use. The fixture writer builds the whole
 * file in memory (about 3× the file size at peak: ~1.6 GB for the 0.5B shape).
 */
export async function cachedModel(label: string, spec: RandomModelSpec, log: (line: string) => void = () => {}): Promise<string> {
  const path = `${CACHE_DIR}${label}-${spec.weightType}-${specHash(spec)}.gguf`;
  if (existsSync(path)) return path;
  const started = performance.now();
  const { bytes } = encodeGguf(buildRandomModel(spec));
  await mkdir(CACHE_DIR, { recursive: true });
  // Written aside and renamed, so an interrupted run never leaves a truncated model to reuse.
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  log(`  wrote ${path} (${(bytes.byteLength / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return path;
}

/** Seeded token ids in [3, vocab). */
export function seededTokens(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return 3 + (state % (vocab - 3));
  });
}
