// The first token of each refusal / affirmation opener as the assistant would write it right
// after a given prompt: the token sets of the refusal margin.

import { AFFIRMATION_OPENERS, REFUSAL_OPENERS } from '../analysis/margin';
import type { ChatTokenizer } from './tokenizer';

export interface OpenerTokens {
  readonly refusal: readonly number[];
  readonly affirmation: readonly number[];
}

/**
 * Encodes prompt + phrase and takes the first token after the prompt's own tokens (so merges with
 * the template's last characters are honoured); if the prompt's tokens are not a prefix of that
 * encoding, falls back to the phrase's first token on its own. Ids common to both sets are
 * dropped.
 */
export function openerTokenIds(
  tokenizer: ChatTokenizer,
  prompt: { readonly text: string; readonly tokens: readonly number[] },
  refusalPhrases: readonly string[] = REFUSAL_OPENERS,
  affirmationPhrases: readonly string[] = AFFIRMATION_OPENERS,
): OpenerTokens {
  const first = (phrase: string): number | undefined => {
    const ids = tokenizer.encode(prompt.text + phrase);
    const isPrefix = ids.length > prompt.tokens.length && prompt.tokens.every((t, i) => ids[i] === t);
    return isPrefix ? ids[prompt.tokens.length] : tokenizer.encode(phrase)[0];
  };
  const collect = (phrases: readonly string[]) => new Set(phrases.map(first).filter((id): id is number => id !== undefined));
  const refusal = collect(refusalPhrases);
  const affirmation = collect(affirmationPhrases);
  return {
    refusal: [...refusal].filter((id) => !affirmation.has(id)),
    affirmation: [...affirmation].filter((id) => !refusal.has(id)),
  };
}
