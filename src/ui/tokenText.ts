// Display-only text for token ids from GGUF vocabulary strings (before a real tokenizer is loaded).

/** How the vocabulary spells bytes and spaces. */
export type VocabStyle = 'sentencepiece' | 'byte-level';

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/**
 * GPT-2's byte ↔ printable-character table: printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100 and up (so the space 0x20 becomes 'Ġ' and the newline 'Ċ').
 */
const byteOfChar: ReadonlyMap<string, number> = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCharCode(printable(b) ? b : 256 + next++), b);
  return map;
})();

const styles = new WeakMap<readonly string[], VocabStyle>();

/** Byte-level BPE (GPT-2, Qwen2, Llama 3) when a token begins with 'Ġ'; SentencePiece otherwise. */
export function vocabStyle(vocab: readonly string[]): VocabStyle {
  let style = styles.get(vocab);
  if (!style) {
    style = vocab.some((token) => token.startsWith('Ġ')) ? 'byte-level' : 'sentencepiece';
    styles.set(vocab, style);
  }
  return style;
}

function tokenBytes(token: string, style: VocabStyle): number[] {
  if (style === 'sentencepiece') {
    const byte = BYTE_TOKEN.exec(token);
    return byte ? [parseInt(byte[1], 16)] : [...utf8.encode(token.replaceAll('▁', ' '))];
  }
  const bytes: number[] = [];
  for (const char of token) {
    const byte = byteOfChar.get(char);
    if (byte !== undefined) bytes.push(byte);
    else bytes.push(...utf8.encode(char));
  }
  return bytes;
}

/** The text of a token sequence; ids outside the vocabulary read as `<id?>`. */
export function decodeTokens(vocab: readonly string[], ids: readonly number[]): string {
  const style = vocabStyle(vocab);
  const bytes: number[] = [];
  for (const id of ids) {
    const token = vocab[id];
    bytes.push(...(token === undefined ? utf8.encode(`<${id}?>`) : tokenBytes(token, style)));
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(new Uint8Array(bytes));
}

/** Shows control characters as their Unicode pictures (NUL → '␀'), keeping spaces, tabs and newlines. */
export function showControls(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => (c === '\u007f' ? '␡' : String.fromCharCode(0x2400 + c.charCodeAt(0))));
}

/** Also makes whitespace visible, for one-token labels: ' ' → '␣', '\n' → '↵', '\t' → '⇥'. */
export function visibleText(text: string): string {
  return showControls(text).replace(/[ \n\t]/g, (c) => (c === ' ' ? '␣' : c === '\n' ? '↵' : '⇥'));
}

/** A short label for one token in a table header: byte tokens stay `<0x41>`, others show their text. */
export function tokenLabel(vocab: readonly string[] | undefined, id: number): string {
  const token = vocab?.[id];
  if (token === undefined) return `#${id}`;
  if (vocabStyle(vocab!) === 'sentencepiece' && BYTE_TOKEN.test(token)) return token;
  return visibleText(decodeTokens(vocab!, [id]));
}
