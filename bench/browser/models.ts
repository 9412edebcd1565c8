// The browser bench's word prompts (its models come from bench/models.ts, shared with the other benches).

import { openGguf } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';

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
