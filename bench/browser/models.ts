// The browser bench's models: random Q8_0 weights in real models' shapes, written once under
// .cache/bench/ with the same names bench/engine.ts gives them, so either bench reuses the other's files.

import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { openGguf } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';
import { encodeGguf } from '../../src/gguf/writer';
import { buildRandomModel, specHash, type RandomModelSpec } from '../../tests/fixtures/models';

/** Real models' shapes with random Q8_0 weights (a copy of bench/engine.ts's SHAPES: same specs, same files). */
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
 * A one-layer model of the same architecture and weight type (as bench/engine.ts's): it compiles
 * every pipeline the big model uses (pipelines are keyed by op, weight type and constants, never
 * by shape) in seconds, where a warm-up on the big model costs minutes on SwiftShader.
 */
export function warmUpTwin(spec: RandomModelSpec): RandomModelSpec {
  return { ...spec, nLayer: 1, nEmbd: 128, nHead: 2, nHeadKv: 1, headDim: 64, nFf: 128, vocabSize: 320, seed: spec.seed + 1000 };
}

const CACHE_DIR = fileURLToPath(new URL('../../.cache/bench/', import.meta.url));

/**
 * The model's file under .cache/bench/, written on first use. The fixture writer builds the whole
 * file in memory (about 3× the file size at peak: ~1.6 GB for the 0.5B shape).
 */
export async function cachedModel(label: string, spec: RandomModelSpec, log: (line: string) => void): Promise<string> {
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

export interface BenchPrompt {
  readonly ids: readonly number[];
  /** The same prompt as text, for the peer (wllama takes text only). */
  readonly text: string;
}

/**
 * Seeded random whole-word tokens (`▁abc`) of the model's vocabulary, and their text ("abc …").
 * SentencePiece gives each word back as one token (every prefix of a fixture word is a token too,
 * so the merges build it up); the peer checks that its prompt came out the same length.
 */
export async function wordPrompt(path: string, count: number, seed: number): Promise<BenchPrompt> {
  const source = await pathSource(path);
  const tokens = (await openGguf(source)).metadata['tokenizer.ggml.tokens'];
  await source.close?.();
  if (!Array.isArray(tokens)) throw new Error(`${path} has no tokenizer.ggml.tokens; delete it and run the bench again to rewrite it.`);
  const isWord = (id: number) => /^\u2581[a-z]+$/.test(String(tokens[id]));
  const ids: number[] = [];
  let state = seed >>> 0;
  for (let tries = 0; ids.length < count; tries++) {
    if (tries > 1000 * count) throw new Error(`${path} has too few whole-word tokens for a ${count}-token prompt.`);
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const id = state % tokens.length;
    if (isWord(id)) ids.push(id);
  }
  return { ids, text: ids.map((id) => String(tokens[id]).slice(1)).join(' ') };
}
