// Prompt anatomy: segments (system, request, attack pieces) rendered through the model's chat
// template, tokenized, and mapped to half-open token spans.
//
// Span rule: a token belongs to every segment whose characters it overlaps. A token that BPE
// merged across a segment boundary (request "…lo" + suffix "cks…" → " locks") is in both spans,
// so the spans of neighbouring segments can share one token; a segment never loses its edge
// characters. Tokens that overlap no segment form `template` spans (chat-format tokens and any
// default system prompt the template inserts); token 0 is always the `sink` span, alone.

import type { Span, SpanKind } from '../analysis/spans';
import { decodesSuffixesExactly, tokenCharRanges, type TokenCharRanges } from './offsets';
import { TokenizerLoadError, type ChatMessage, type ChatTemplateOptions, type ChatTokenizer } from './tokenizer';

/**
 * What a piece of the prompt is (the same kinds as src/attacks/types.ts). Everything but system
 * and request is something an attack added: its span kind is `attack`.
 */
export type SegmentKind = 'system' | 'request' | 'demo' | 'wrapper-before' | 'wrapper-after' | 'suffix' | 'custom';

export interface PromptSegment {
  readonly kind: SegmentKind;
  readonly text: string;
  /**
   * Exact token ids chosen by an attack (suffix search). They are spliced in as they are: the
   * text before and after is encoded separately, and the rendered text uses their decoding.
   */
  readonly tokenIds?: readonly number[];
}

export interface PromptSpan extends Span {
  /** The segment this span stands for (absent for sink and template spans). */
  readonly segment?: SegmentKind;
  /** Index of that segment in the builder's input. */
  readonly segmentIndex?: number;
}

export interface BuiltPrompt {
  /** The chat template's output. */
  readonly text: string;
  readonly tokens: readonly number[];
  /** Every span, ordered by start (sink, template and segment spans). */
  readonly spans: readonly PromptSpan[];
  /** The span of each input segment, in input order. */
  readonly segmentSpans: readonly PromptSpan[];
  /** Character range of each input segment inside `text` (after any trimming by the template). */
  readonly segmentChars: readonly { readonly start: number; readonly end: number }[];
  readonly tokenChars: TokenCharRanges;
  /** The template would not take a system message, so the system text was put first in the user's turn. */
  readonly systemMergedIntoUser: boolean;
}

/** The chat template rewrote or dropped message text, so segments cannot be located in its output. */
export class PromptLayoutError extends TokenizerLoadError {}

export function spanKindOf(kind: SegmentKind): SpanKind {
  return kind === 'system' || kind === 'request' ? kind : 'attack';
}

// Private-use characters mark where each segment lands in a trial rendering.
const MARK_OPEN = '\uE000';
const MARK_CLOSE = '\uE001';
const MARK_PATTERN = /\uE000(\d+)\uE001/g;
/** What joins system text to the user's turn when a template refuses system messages (Gemma's own choice). */
const SYSTEM_JOINER = '\n\n';

interface Part {
  readonly segment?: number;
  readonly literal?: string;
}

/** Messages as lists of parts: segment references and literal joiners. */
function layout(segments: readonly PromptSegment[], mergeSystem: boolean): { role: ChatMessage['role']; parts: Part[] }[] {
  const system: Part[] = [];
  const user: Part[] = [];
  segments.forEach((s, i) => (s.kind === 'system' ? system : user).push({ segment: i }));
  if (system.length === 0) return [{ role: 'user', parts: user }];
  if (mergeSystem) return [{ role: 'user', parts: [...system, { literal: SYSTEM_JOINER }, ...user] }];
  return [
    { role: 'system', parts: system },
    { role: 'user', parts: user },
  ];
}

function render(tokenizer: ChatTokenizer, messages: ReturnType<typeof layout>, textOf: (i: number) => string, options: ChatTemplateOptions): string {
  return tokenizer.applyChatTemplate(
    messages.map((m) => ({ role: m.role, content: m.parts.map((p) => (p.segment === undefined ? p.literal! : textOf(p.segment))).join('') })),
    options,
  );
}

function variants(text: string): string[] {
  return [...new Set([text, text.trimEnd(), text.trimStart(), text.trim()])];
}

/**
 * Finds each segment in `rendered`, given the template text between segments (from the marked
 * rendering). A template may trim a message, so each segment may appear with its edge whitespace
 * removed; the first consistent choice wins.
 */
function locateSegments(rendered: string, literals: readonly string[], texts: readonly string[]): { start: number; end: number }[] | undefined {
  const found: { start: number; end: number }[] = [];
  const failed = new Set<string>();
  const match = (k: number, pos: number): boolean => {
    if (!rendered.startsWith(literals[k], pos)) return false;
    const at = pos + literals[k].length;
    if (k === texts.length) return at === rendered.length;
    const key = `${k}:${at}`;
    if (failed.has(key)) return false;
    for (const v of variants(texts[k])) {
      if (!rendered.startsWith(v, at)) continue;
      found[k] = { start: at, end: at + v.length };
      if (match(k + 1, at + v.length)) return true;
    }
    failed.add(key);
    return false;
  };
  return match(0, 0) ? found : undefined;
}

const exactSuffixDecoding = new WeakMap<ChatTokenizer, boolean>();

/** Renders `segments` through the tokenizer's chat template and maps every segment to its tokens. */
export function buildPrompt(tokenizer: ChatTokenizer, segments: readonly PromptSegment[], options: ChatTemplateOptions = {}): BuiltPrompt {
  const texts = segments.map((s) => {
    // Qwen's tokenizer normalises to NFC; doing it here keeps the decoded text equal to ours.
    const text = s.tokenIds ? tokenizer.decode(s.tokenIds) : s.text.normalize('NFC');
    if (text.includes(MARK_OPEN) || text.includes(MARK_CLOSE))
      throw new PromptLayoutError('Prompt text may not contain the private-use characters U+E000 or U+E001.');
    return text;
  });
  const marked = (i: number) => `${MARK_OPEN}${i}${MARK_CLOSE}`;

  let systemMergedIntoUser = false;
  let messages = layout(segments, false);
  let markedText: string;
  try {
    markedText = render(tokenizer, messages, marked, options);
  } catch (e) {
    if (!segments.some((s) => s.kind === 'system')) throw templateError(e);
    // e.g. Gemma 2: "System role not supported".
    systemMergedIntoUser = true;
    messages = layout(segments, true);
    try {
      markedText = render(tokenizer, messages, marked, options);
    } catch (again) {
      throw templateError(again);
    }
  }

  const order: number[] = [];
  const literals: string[] = [];
  let last = 0;
  for (const m of markedText.matchAll(MARK_PATTERN)) {
    literals.push(markedText.slice(last, m.index));
    order.push(Number(m[1]));
    last = m.index! + m[0].length;
  }
  literals.push(markedText.slice(last));
  const expected = messages.flatMap((m) => m.parts.filter((p) => p.segment !== undefined).map((p) => p.segment!));
  if (order.join(',') !== expected.join(','))
    throw new PromptLayoutError(`The chat template of ${tokenizer.source} repeats or drops message text, so prompt segments cannot be located.`);

  const text = render(tokenizer, messages, (i) => texts[i], options);
  const located = locateSegments(text, literals, order.map((i) => texts[i]));
  if (!located) throw new PromptLayoutError(`The chat template of ${tokenizer.source} rewrites message text, so prompt segments cannot be located.`);
  const segmentChars: { start: number; end: number }[] = [];
  order.forEach((segmentIndex, k) => (segmentChars[segmentIndex] = located[k]));

  const { tokens, tokenChars } = encodeWithFixedIds(tokenizer, text, segments, segmentChars, texts);
  const spans = assignSpans(tokenizer, segments, tokens, text, segmentChars, tokenChars);
  return { text, tokens, ...spans, segmentChars, tokenChars, systemMergedIntoUser };
}

/**
 * Encodes `text`, splicing in the exact ids of segments that carry them: the text between such
 * segments is encoded piece by piece (BPE never merges across a fixed-id segment, as in GCG).
 */
function encodeWithFixedIds(
  tokenizer: ChatTokenizer,
  text: string,
  segments: readonly PromptSegment[],
  segmentChars: readonly { start: number; end: number }[],
  texts: readonly string[],
): { tokens: number[]; tokenChars: TokenCharRanges } {
  let windowed = exactSuffixDecoding.get(tokenizer);
  if (windowed === undefined) {
    windowed = decodesSuffixesExactly((t) => tokenizer.encode(t), (ids) => tokenizer.decode(ids));
    exactSuffixDecoding.set(tokenizer, windowed);
  }
  const decode = (ids: readonly number[]) => tokenizer.decode(ids);
  const fixed = segments
    .map((segment, index) => ({ ids: segment.tokenIds, ...segmentChars[index], index }))
    .filter((f) => f.ids !== undefined && f.ids.length > 0)
    .sort((x, y) => x.start - y.start);
  const pieces: { ids: readonly number[]; from: number; to: number }[] = [];
  let at = 0;
  for (const f of fixed) {
    if (f.end - f.start !== texts[f.index].length)
      throw new PromptLayoutError(`The chat template trimmed the edge of a segment given as token ids (segment ${f.index}); keep whitespace out of its ends.`);
    pieces.push({ ids: tokenizer.encode(text.slice(at, f.start)), from: at, to: f.start }, { ids: f.ids!, from: f.start, to: f.end });
    at = f.end;
  }
  pieces.push({ ids: tokenizer.encode(text.slice(at)), from: at, to: text.length });
  const tokens: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (const piece of pieces) {
    const ranges = tokenCharRanges(piece.ids, text.slice(piece.from, piece.to), decode, windowed);
    tokens.push(...piece.ids);
    ranges.start.forEach((v) => starts.push(piece.from + v));
    ranges.end.forEach((v) => ends.push(piece.from + v));
  }
  return { tokens, tokenChars: { start: Int32Array.from(starts), end: Int32Array.from(ends) } };
}

function templateError(e: unknown): PromptLayoutError {
  return new PromptLayoutError(`The chat template failed to render (${(e as Error).message}).`, { cause: e });
}

function assignSpans(
  tokenizer: ChatTokenizer,
  segments: readonly PromptSegment[],
  tokens: readonly number[],
  text: string,
  segmentChars: readonly { start: number; end: number }[],
  chars: TokenCharRanges,
): { spans: PromptSpan[]; segmentSpans: PromptSpan[] } {
  const n = tokens.length;
  const covered = new Uint8Array(n);
  const segmentSpans = segments.map((segment, index): PromptSpan => {
    const { start: a, end: b } = segmentChars[index];
    // Tokens are in text order, so the overlapping ones are contiguous.
    let first = 0;
    while (first < n && chars.end[first] <= a) first++;
    let end = first;
    while (end < n && chars.start[end] < b && b > a) end++;
    // Token 0 is the sink alone.
    const start = Math.max(first, Math.min(1, n));
    end = Math.max(start, end);
    covered.fill(1, start, end);
    return { kind: spanKindOf(segment.kind), start, end, text: text.slice(a, b), segment: segment.kind, segmentIndex: index };
  });
  const spans: PromptSpan[] = [];
  if (n > 0) spans.push({ kind: 'sink', start: 0, end: 1, text: tokenizer.decode([tokens[0]]) });
  for (let t = 1; t < n; ) {
    if (covered[t]) {
      t++;
      continue;
    }
    let end = t;
    while (end < n && !covered[end]) end++;
    spans.push({ kind: 'template', start: t, end, text: tokenizer.decode(tokens.slice(t, end)) });
    t = end;
  }
  spans.push(...segmentSpans);
  spans.sort((x, y) => x.start - y.start || x.end - y.end);
  return { spans, segmentSpans };
}

/**
 * The ids of `text` as it follows the prompt (the start of the assistant's turn): prompt + text
 * encoded together, keeping what follows the prompt's tokens, so a merge of the text's first
 * characters with the template's last ones is honoured; encoded on its own when the prompt's
 * tokens are not a prefix of that (a suffix spliced in by id).
 */
export function idsAfterPrompt(tokenizer: ChatTokenizer, prompt: Pick<BuiltPrompt, 'text' | 'tokens'>, text: string): number[] {
  const ids = tokenizer.encode(prompt.text + text);
  const isPrefix = ids.length > prompt.tokens.length && prompt.tokens.every((t, i) => ids[i] === t);
  return isPrefix ? ids.slice(prompt.tokens.length) : tokenizer.encode(text);
}
