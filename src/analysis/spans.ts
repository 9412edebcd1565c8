// Token spans: which part of the prompt (or response) a run of tokens belongs to.

/** DESIGN.md's span kinds. */
export type SpanKind = 'sink' | 'system' | 'template' | 'request' | 'attack' | 'response';

/** Half-open token range [start, end). */
export interface TokenRange {
  readonly start: number;
  readonly end: number;
}

export interface Span extends TokenRange {
  readonly kind: SpanKind;
  /** The text the span stands for (a segment's text, or the decoded tokens for template/sink). */
  readonly text: string;
}

export const spanLength = (range: TokenRange): number => Math.max(0, range.end - range.start);

/** The ranges of every span of `kind`, in order. */
export function rangesOfKind(spans: readonly Span[], kind: SpanKind): TokenRange[] {
  return spans.filter((s) => s.kind === kind).map(({ start, end }) => ({ start, end }));
}

/**
 * 1 for each key position in [0, length) inside any of `ranges`, else 0. Overlapping ranges
 * count once, so a mass summed through the mask never counts a token twice.
 */
export function rangeMask(ranges: readonly TokenRange[], length: number): Uint8Array {
  const mask = new Uint8Array(length);
  for (const { start, end } of ranges) mask.fill(1, Math.max(0, start), Math.min(length, end));
  return mask;
}

/** The span of `count` generated tokens after a prompt of `promptLength`. */
export function responseSpan(promptLength: number, count: number, text: string): Span {
  return { kind: 'response', start: promptLength, end: promptLength + count, text };
}
