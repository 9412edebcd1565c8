// Display text of token ids from GGUF vocabularies, and the page's prompt parsing and byte formatting.

import { describe, expect, it } from 'vitest';
import { parseTokenIds } from '../../src/ui/engineSession';
import { decodeTokens, tokenLabel, visibleText, vocabStyle } from '../../src/ui/tokenText';

const byteTokens = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
/** SentencePiece layout like the fixtures: 3 specials, 256 byte tokens, then words. */
const spm = ['<unk>', '<s>', '</s>', ...byteTokens, '▁hello', '▁world', 'ing'];
const word = (w: string) => spm.indexOf(w);
const byte = (b: number) => 3 + b;

describe('decodeTokens', () => {
  it('turns ▁ into spaces and joins byte tokens into UTF-8', () => {
    expect(vocabStyle(spm)).toBe('sentencepiece');
    expect(decodeTokens(spm, [word('▁hello'), word('▁world'), word('ing')])).toBe(' hello worlding');
    // "é" is 0xC3 0xA9 in UTF-8: two byte tokens make one character.
    expect(decodeTokens(spm, [byte(0x41), byte(0xc3), byte(0xa9)])).toBe('Aé');
    expect(decodeTokens(spm, [1, 999])).toBe('<s><999?>');
  });

  it('maps GPT-2 byte-level characters back to bytes', () => {
    const bpe = ['!', 'Ġthe', 'Ċ', 'Ã©', 'cat'];
    expect(vocabStyle(bpe)).toBe('byte-level');
    expect(decodeTokens(bpe, [1, 4, 2, 3])).toBe(' thecat\né');
  });
});

describe('tokenLabel', () => {
  it('keeps byte tokens and makes spaces visible', () => {
    expect(tokenLabel(spm, byte(0x2f))).toBe('<0x2F>');
    expect(tokenLabel(spm, word('▁hello'))).toBe('␣hello');
    expect(tokenLabel(undefined, 7)).toBe('#7');
    expect(visibleText('a\u0000\n')).toBe('a␀↵');
  });
});

describe('parseTokenIds', () => {
  it('accepts commas and spaces and rejects ids outside the vocabulary', () => {
    expect(parseTokenIds(' 1, 50 77,,100 ', 320)).toEqual({ ids: [1, 50, 77, 100] });
    expect(parseTokenIds('', 320)).toHaveProperty('error');
    expect(parseTokenIds('1,320', 320)).toEqual({ error: '“320” is not a token id of this model; use whole numbers from 0 to 319.' });
    expect(parseTokenIds('1.5', 320)).toHaveProperty('error');
  });
});
