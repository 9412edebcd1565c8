// The tokens an adversarial suffix may use: short printable-ASCII pieces, as in the random-search
// attack (which samples from the tokenizer's vocabulary but never from special tokens).

import type { ChatTokenizer } from '../tokenizer/tokenizer';

const cache = new WeakMap<ChatTokenizer, Map<number, readonly number[]>>();

/** Printable ASCII, at least one visible character, at most 8 characters (a leading space is fine). */
const PLAIN = /^ ?[!-~]{1,8}$/;

/**
 * Ids below `modelVocab` that are not special and decode on their own to a short printable-ASCII
 * piece. Decoding every id takes a moment on a 150k vocabulary, so the list is kept per tokenizer.
 */
export function suffixVocabulary(tokenizer: ChatTokenizer, modelVocab: number): readonly number[] {
  let byVocab = cache.get(tokenizer);
  if (!byVocab) cache.set(tokenizer, (byVocab = new Map()));
  let ids = byVocab.get(modelVocab);
  if (!ids) {
    const found: number[] = [];
    const limit = Math.min(modelVocab, tokenizer.vocabSize);
    for (let id = 0; id < limit; id++) {
      if (tokenizer.specialTokenIds.has(id)) continue;
      if (PLAIN.test(tokenizer.decode([id]))) found.push(id);
    }
    ids = found;
    byVocab.set(modelVocab, ids);
  }
  return ids;
}

/**
 * GCG's allowed tokens (nanoGCG's not_allowed_ids inverted): the suffix vocabulary without the
 * tokens that end a turn (eos and the template's end-of-turn tokens are special already; this
 * also holds for a tokenizer that does not flag them).
 */
export function gcgVocabulary(tokenizer: ChatTokenizer, modelVocab: number): readonly number[] {
  const stops = new Set(tokenizer.stopTokenIds);
  return suffixVocabulary(tokenizer, modelVocab).filter((id) => !stops.has(id));
}
