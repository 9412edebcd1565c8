// Character range of every token inside the text it was encoded from, recovered by decoding
// growing prefixes (transformers.js reports no offsets).

/** Half-open character ranges [start, end) of each token, (nTokens). */
export interface TokenCharRanges {
  readonly start: Int32Array;
  readonly end: Int32Array;
}

export type Decode = (ids: readonly number[]) => string;

/** The tokens do not decode back to the text: offsets cannot be recovered. */
export class TokenOffsetError extends Error {}

function commonPrefixLength(a: string, b: string, bOffset: number): number {
  const n = Math.min(a.length, b.length - bOffset);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(bOffset + i)) i++;
  return i;
}

/**
 * Let e(i) be how many characters of `text` the decoded prefix ids[0..i] reproduces exactly.
 * Token i covers [e(i−1), e(i)); when its bytes end inside a character (a multi-byte character
 * split between byte-level tokens, decoded as U+FFFD), it also covers that character: both
 * tokens holding part of a character's bytes cover it.
 *
 * Decoding every prefix from token 0 costs O(n²); decoding from the last token that ended on a
 * clean character boundary is O(n) and gives the same answer for decoders that do not strip a
 * leading space (byte-level BPE, Gemma's SentencePiece). `windowed` is tried first when the
 * caller knows the decoder qualifies; a result that does not cover the whole text is recomputed
 * from full prefixes.
 */
export function tokenCharRanges(ids: readonly number[], text: string, decode: Decode, windowed = true): TokenCharRanges {
  if (windowed) {
    const ranges = scan(ids, text, decode, true);
    if (ranges) return ranges;
  }
  const ranges = scan(ids, text, decode, false);
  if (!ranges)
    throw new TokenOffsetError('The tokens do not decode back to the prompt text, so token spans cannot be located (a normaliser changed the text?).');
  return ranges;
}

function scan(ids: readonly number[], text: string, decode: Decode, windowed: boolean): TokenCharRanges | undefined {
  const n = ids.length;
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  let anchorToken = 0; // decode from here …
  let anchorChar = 0; // … which starts at this character of `text`
  let covered = 0; // e(i−1)
  for (let i = 0; i < n; i++) {
    const piece = decode(ids.slice(anchorToken, i + 1));
    const match = commonPrefixLength(piece, text, anchorChar);
    const reached = Math.max(covered, anchorChar + match);
    const partialTail = anchorChar + piece.length > reached;
    start[i] = covered;
    end[i] = Math.min(text.length, reached + (partialTail ? 1 : 0));
    covered = reached;
    if (windowed && !partialTail && match === piece.length) {
      anchorToken = i + 1;
      anchorChar = reached;
    }
  }
  return covered === text.length ? { start, end } : undefined;
}

/**
 * True when decoding a suffix of a token sequence gives the matching suffix of the text, so the
 * windowed scan is exact. Probed once per tokenizer on a plain phrase.
 */
export function decodesSuffixesExactly(encode: (text: string) => number[], decode: Decode): boolean {
  const probe = 'a b cd. Ef';
  const ids = encode(probe);
  if (ids.length < 2 || decode(ids) !== probe) return false;
  for (let cut = 1; cut < ids.length; cut++) {
    const head = decode(ids.slice(0, cut));
    if (!probe.startsWith(head) || decode(ids.slice(cut)) !== probe.slice(head.length)) return false;
  }
  return true;
}
