// Pure data shaping for the panels: timeline series, token weights, head-grid values, response drift,
// CSV rows and export file names. No React, D3 or DOM here, so it is unit-tested in Node.

import { modelMean, perHeadMean, perLayerMean, type LayerHeadMatrix } from '../../analysis/mass';
import type { Trace, TraceRun, TraceSpan, TraceSpanKind, Verdict } from '../../lab/trace';

/** A layer index, or the mean over layers. */
export type LayerSelection = number | 'mean';
/** A head index, or the mean over heads. */
export type HeadSelection = number | 'mean';
/** The decisive query (last prompt token) or generated token g as the query. */
export type QuerySelection = 'last' | number;
export type { LayerHeadMatrix };

export type PanelName = 'timeline' | 'tokens' | 'grid' | 'matrix' | 'response' | 'tradeoff';

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const mean = (values: readonly number[]) => (values.length === 0 ? 0 : sum(values) / values.length);
/** Six decimals: enough for a table, and no 0.30000000000000004 in a CSV (as in trace-csv.ts). */
const round = (value: number) => Number(value.toFixed(6));

// ---------------------------------------------------------------------------------------------
// Means over a (nLayer, nHead) matrix

/** One cell, a layer mean, a head's mean over layers, or the model mean, by selection. */
export function selectedMass(matrix: LayerHeadMatrix, layer: LayerSelection, head: HeadSelection): number {
  if (layer === 'mean' && head === 'mean') return modelMean(matrix);
  if (layer === 'mean') return perHeadMean(matrix)[head as number];
  if (head === 'mean') return mean(matrix[layer]);
  return matrix[layer][head];
}

/**
 * The request mass at the decisive query, sink-adjusted when asked and the run has it; `adjusted`
 * says which one came back, so a panel can say when it fell back to the raw mass.
 */
export function runMassMatrix(run: TraceRun, sinkAdjusted: boolean): { matrix: LayerHeadMatrix; adjusted: boolean } {
  const adjusted = sinkAdjusted ? run.requestMass.lastPromptSinkAdjusted : undefined;
  return adjusted ? { matrix: adjusted, adjusted: true } : { matrix: run.requestMass.lastPrompt, adjusted: false };
}

// ---------------------------------------------------------------------------------------------
// Slipping timeline

export interface TimelineRunPoint {
  /** Model mean. */
  readonly mass: number;
  /** Mean over heads of each layer. */
  readonly layerMeans: readonly number[];
  readonly layerMin: number;
  readonly layerMax: number;
  /** The selected layer / head / cell, or null when the selection is the model mean. */
  readonly selected: number | null;
  readonly verdict: Verdict;
  /** Sink adjustment was asked for, but this run has no sink-adjusted masses: the raw mass is shown. */
  readonly fellBack: boolean;
}

export interface TimelinePoint {
  /** Index into trace.steps. */
  readonly index: number;
  /** The attack's step number. */
  readonly step: number;
  readonly label: string;
  readonly undefended: TimelineRunPoint;
  readonly defended: TimelineRunPoint | null;
  /** Defenses run side by side with the defended one (e.g. Token Highlighter beside sharpening), in the trace's order. */
  readonly compared: readonly { readonly kind: string; readonly label: string; readonly point: TimelineRunPoint }[];
  /** GCG: the target's loss at this step (null for other attacks). */
  readonly loss: number | null;
}

export interface TimelineOptions {
  readonly sinkAdjusted?: boolean;
  readonly layer?: LayerSelection;
  readonly head?: HeadSelection;
}

function timelineRunPoint(run: TraceRun, options: TimelineOptions): TimelineRunPoint {
  const { matrix, adjusted } = runMassMatrix(run, options.sinkAdjusted ?? false);
  const perLayer = Array.from(perLayerMean(matrix));
  const layer = options.layer ?? 'mean';
  const head = options.head ?? 'mean';
  return {
    mass: modelMean(matrix),
    layerMeans: perLayer,
    layerMin: Math.min(...perLayer),
    layerMax: Math.max(...perLayer),
    selected: layer === 'mean' && head === 'mean' ? null : selectedMass(matrix, layer, head),
    verdict: run.verdict,
    fellBack: (options.sinkAdjusted ?? false) && !adjusted,
  };
}

/** One point per attack step: the slipping curve, its layer range and verdicts, undefended and defended. */
export function timelineSeries(trace: Trace, options: TimelineOptions = {}): TimelinePoint[] {
  return trace.steps.map((step, index) => ({
    index,
    step: step.step,
    label: step.label,
    undefended: timelineRunPoint(step, options),
    defended: step.defended ? timelineRunPoint(step.defended, options) : null,
    compared: (step.compared ?? []).map((entry) => ({ kind: entry.kind, label: entry.label, point: timelineRunPoint(entry.run, options) })),
    loss: step.loss ?? null,
  }));
}

export const timelineColumns = ['step', 'label', 'mass', 'defended_mass', 'verdict', 'defended_verdict', 'loss'] as const;

export interface TimelineCsvRow {
  step: number;
  label: string;
  mass: number;
  defended_mass: number | '';
  verdict: Verdict;
  defended_verdict: Verdict | '';
  /** GCG's target loss; empty for other attacks. */
  loss: number | '';
}

export function timelineCsvRows(series: readonly TimelinePoint[]): TimelineCsvRow[] {
  return series.map((point) => ({
    step: point.step,
    label: point.label,
    mass: round(point.undefended.mass),
    defended_mass: point.defended ? round(point.defended.mass) : '',
    verdict: point.undefended.verdict,
    defended_verdict: point.defended?.verdict ?? '',
    loss: point.loss !== null ? round(point.loss) : '',
  }));
}

/**
 * The timeline's CSV with the side-by-side defenses too: per compared defense c (1-based),
 * `compared_c_defense`, `compared_c_mass`, `compared_c_verdict` after the usual columns.
 */
export function timelineCsvWithCompared(series: readonly TimelinePoint[]): { rows: Record<string, string | number>[]; columns: string[] } {
  const count = Math.max(0, ...series.map((point) => point.compared.length));
  const extra = Array.from({ length: count }, (_, c) => [`compared_${c + 1}_defense`, `compared_${c + 1}_mass`, `compared_${c + 1}_verdict`]).flat();
  const rows = timelineCsvRows(series).map((row, i): Record<string, string | number> => {
    const out: Record<string, string | number> = { ...row };
    for (let c = 0; c < count; c++) {
      const entry = series[i].compared[c];
      out[`compared_${c + 1}_defense`] = entry?.label ?? '';
      out[`compared_${c + 1}_mass`] = entry ? round(entry.point.mass) : '';
      out[`compared_${c + 1}_verdict`] = entry?.point.verdict ?? '';
    }
    return out;
  });
  return { rows, columns: [...timelineColumns, ...extra] };
}

// ---------------------------------------------------------------------------------------------
// Token strip

/** When spans share a token (a BPE merge across a boundary), the token is drawn in the first kind here. */
export const spanPriority: readonly TraceSpanKind[] = ['request', 'attack', 'system', 'template', 'sink', 'response'];

/** Index into `spans` of the span a token is drawn in, or -1 when it is in none. */
export function primarySpanIndex(spans: readonly TraceSpan[], tokenIndex: number): number {
  let best = -1;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    if (tokenIndex < span.start || tokenIndex >= span.end) continue;
    if (best < 0 || spanPriority.indexOf(span.kind) < spanPriority.indexOf(spans[best].kind)) best = i;
  }
  return best;
}

/**
 * The attention row (over keys) of the chosen query: the decisive query's row for one head, a
 * layer's mean over heads, a head's mean over layers or the mean over both; or generated token g's
 * row (already the mean over layers and heads in a Trace). Null when the run did not export it.
 */
export function attentionRow(run: TraceRun, layer: LayerSelection, head: HeadSelection, query: QuerySelection): number[] | null {
  if (query !== 'last') return run.generatedRows?.[query] ?? null;
  const rows = run.lastPromptRow;
  if (!rows || rows.length === 0) return null;
  const layers = layer === 'mean' ? rows : [rows[layer]];
  const picked = layers.flatMap((heads) => (head === 'mean' ? heads : [heads[head]]));
  const keys = Math.max(...picked.map((row) => row.length));
  return Array.from({ length: keys }, (_, k) => mean(picked.map((row) => row[k] ?? 0)));
}

export interface StripToken {
  /** Absolute position: prompt tokens first, then generated tokens. */
  readonly index: number;
  readonly text: string;
  readonly id: number;
  readonly part: 'prompt' | 'response';
  /** Index into run.spans, or -1 (response tokens and tokens outside every span). */
  readonly spanIndex: number;
  /** The span kind to draw (response tokens: 'response'), or null. */
  readonly spanKind: TraceSpanKind | null;
  /** Attention weight from the query, or null when this token is not a key of it (or not exported). */
  readonly weight: number | null;
  /** This token is the query whose attention is shown. */
  readonly isQuery: boolean;
  /** The response text is hidden (redaction of a compliant run). */
  readonly redacted: boolean;
  /**
   * Byte-level tokenizers split some characters (most kanji) over two or three tokens, and each of
   * those tokens' texts holds the whole character. The character is shown on the first of them;
   * `continues` is that character on the tokens after it (which show only what follows it).
   */
  readonly continues?: string;
  /** The next token continues this token's last character (drawn joined to it). */
  readonly continuedByNext?: boolean;
}

/** What a chip shows: its text less the character it shares with the previous token. */
export function shownTokenText(token: Pick<StripToken, 'text' | 'continues'>): string {
  return token.continues ? token.text.slice(token.continues.length) : token.text;
}

/**
 * Per prompt token, the character it shares with the previous token, if any: walking the prompt,
 * a token whose text does not start where the previous one ended but one character earlier (the
 * previous token's last character) carries part of that character's bytes.
 */
export function sharedCharacters(prompt: string, texts: readonly string[]): (string | undefined)[] {
  let at = 0;
  return texts.map((text, i) => {
    const previous = i > 0 ? [...texts[i - 1]].pop() : undefined;
    if (prompt.startsWith(text, at) || !previous || !text.startsWith(previous) || !prompt.startsWith(text, at - previous.length)) {
      if (prompt.startsWith(text, at)) at += text.length;
      return undefined;
    }
    at += text.length - previous.length;
    return previous;
  });
}

export interface StripOptions {
  readonly layer: LayerSelection;
  readonly head: HeadSelection;
  readonly query: QuerySelection;
  /** Text of a generated token id, for runs without `generatedTexts`. */
  readonly decode?: (id: number) => string;
  /** Hide the response token texts of a compliant run. */
  readonly redacted?: boolean;
}

/** How many generated tokens the run has (ids, else attention rows, else mass matrices). */
export function generatedCount(run: TraceRun): number {
  return run.generatedTokens?.length ?? run.generatedRows?.length ?? run.requestMass.generated?.length ?? 0;
}

/** The generated token's display text: the trace's own text, else decoded, else `#id`, else `#g`. */
export function generatedTokenText(run: TraceRun, g: number, decode?: (id: number) => string): string {
  const text = run.generatedTexts?.[g];
  if (text !== undefined) return text;
  const id = run.generatedTokens?.[g];
  if (id === undefined) return `#${g}`;
  return decode ? decode(id) : `#${id}`;
}

/**
 * The chips of the strip: the prompt, and (when a generated token is the query) the response
 * tokens after it, each with its span and the query's attention weight.
 */
export function stripTokens(run: TraceRun, options: StripOptions): StripToken[] {
  const row = attentionRow(run, options.layer, options.head, options.query);
  const n = run.tokens.length;
  const lastQuery = options.query === 'last';
  const hide = (options.redacted ?? false) && run.verdict === 'complied';
  const shared = run.tokenTexts ? sharedCharacters(run.prompt, run.tokenTexts) : [];
  const tokens: StripToken[] = run.tokens.map((id, index) => {
    const spanIndex = primarySpanIndex(run.spans, index);
    return {
      index,
      id,
      text: run.tokenTexts?.[index] ?? `#${id}`,
      ...(shared[index] !== undefined ? { continues: shared[index] } : {}),
      ...(shared[index + 1] !== undefined ? { continuedByNext: true } : {}),
      part: 'prompt',
      spanIndex,
      spanKind: spanIndex >= 0 ? run.spans[spanIndex].kind : null,
      weight: row && index < row.length ? row[index] : null,
      isQuery: lastQuery && index === n - 1,
      redacted: false,
    };
  });
  if (!lastQuery) {
    const count = generatedCount(run);
    for (let g = 0; g < count; g++) {
      const index = n + g;
      tokens.push({
        index,
        id: run.generatedTokens?.[g] ?? -1,
        text: generatedTokenText(run, g, options.decode),
        part: 'response',
        spanIndex: -1,
        spanKind: 'response',
        weight: row && index < row.length ? row[index] : null,
        isQuery: g === options.query,
        redacted: hide,
      });
    }
  }
  return tokens;
}

/**
 * Top of the token colour scale: the largest weight on a non-sink token over every step (and
 * defended run) for this selection. One scale for the whole trace, so the request visibly cools
 * from step to step instead of being renormalised; the sink saturates, which is its point.
 */
export function tokenWeightMax(trace: Trace, layer: LayerSelection, head: HeadSelection, query: QuerySelection): number {
  let max = 0;
  const visit = (run: TraceRun) => {
    const row = attentionRow(run, layer, head, query);
    if (!row) return;
    row.forEach((w, k) => {
      const kind = k < run.tokens.length ? run.spans[primarySpanIndex(run.spans, k)]?.kind : 'response';
      if (kind !== 'sink' && w > max) max = w;
    });
  };
  for (const step of trace.steps) {
    visit(step);
    if (step.defended) visit(step.defended);
  }
  return max > 0 ? max : 1;
}

/** Sum of the query's weights on each span kind (a token counts once, in its drawn span). */
export function weightBySpanKind(tokens: readonly StripToken[]): Partial<Record<TraceSpanKind, number>> {
  const out: Partial<Record<TraceSpanKind, number>> = {};
  for (const token of tokens) {
    if (token.spanKind === null || token.weight === null) continue;
    out[token.spanKind] = (out[token.spanKind] ?? 0) + token.weight;
  }
  return out;
}

export interface TextPart {
  readonly text: string;
  /** A visible stand-in for whitespace or a control character, drawn dimmed. */
  readonly marker: boolean;
}

const whitespaceMarks: Record<string, string> = { ' ': '·', '\n': '↵', '\t': '⇥', '\r': '␍' };

/**
 * A token's text with its whitespace made visible: ' how' → [·][how], '\n' → [↵]. Other control
 * characters become their Unicode pictures (NUL → ␀). Runs of plain text stay together.
 */
export function tokenTextParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const mark = whitespaceMarks[char] ?? (code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '␡' : null);
    const last = parts[parts.length - 1];
    if (mark !== null) parts.push({ text: mark, marker: true });
    else if (last && !last.marker) parts[parts.length - 1] = { text: last.text + char, marker: false };
    else parts.push({ text: char, marker: false });
  }
  return parts.length > 0 ? parts : [{ text: '∅', marker: true }];
}

/** A newline in the token: the strip starts a new line after it, like the prompt does. */
export const endsLine = (text: string): boolean => text.includes('\n');

/** What the strip lays out, in order: a span's label tag, a token chip, or a line break. */
export type StripItem =
  | { readonly type: 'label'; readonly kind: TraceSpanKind; readonly spanIndex: number; readonly key: string }
  | { readonly type: 'chip'; readonly token: StripToken; readonly groupStart: boolean; readonly groupEnd: boolean; readonly key: string }
  | { readonly type: 'break'; readonly key: string };

/** Tokens in the same drawn span form one outlined group; the response is one group. */
const groupOf = (token: StripToken) => (token.part === 'response' ? 'response' : `span${token.spanIndex}`);

/**
 * The strip's layout items: each span group opens with a label tag (tokens in no span get none),
 * its chips know whether they open or close the outline, and a token with a newline ends its line.
 */
export function stripItems(tokens: readonly StripToken[]): StripItem[] {
  const items: StripItem[] = [];
  const breaksAfter = (token: StripToken) => endsLine(token.text) && !token.redacted;
  tokens.forEach((token, i) => {
    const group = groupOf(token);
    const opens = i === 0 || groupOf(tokens[i - 1]) !== group;
    const closes = i === tokens.length - 1 || groupOf(tokens[i + 1]) !== group;
    if (opens && token.spanKind !== null) items.push({ type: 'label', kind: token.spanKind, spanIndex: token.spanIndex, key: `label${token.index}` });
    // A group that a newline splits is closed at the line's end and reopened on the next line.
    const groupStart = opens || (i > 0 && breaksAfter(tokens[i - 1]));
    const groupEnd = closes || breaksAfter(token);
    items.push({ type: 'chip', token, groupStart, groupEnd, key: `token${token.index}` });
    if (breaksAfter(token)) items.push({ type: 'break', key: `break${token.index}` });
  });
  return items;
}

export const tokenColumns = ['index', 'token', 'span', 'weight'] as const;

export interface TokenCsvRow {
  index: number;
  token: string;
  span: string;
  weight: number | '';
}

export function tokenCsvRows(tokens: readonly StripToken[]): TokenCsvRow[] {
  return tokens.map((token) => ({
    index: token.index,
    token: token.redacted ? '[redacted]' : token.text,
    span: token.spanKind ?? '',
    weight: token.weight === null ? '' : round(token.weight),
  }));
}

// ---------------------------------------------------------------------------------------------
// Head grid

export interface GridValues {
  readonly matrix: LayerHeadMatrix;
  readonly layerMeans: readonly number[];
  readonly headMeans: readonly number[];
  readonly model: number;
  readonly adjusted: boolean;
}

export function gridValues(run: TraceRun, sinkAdjusted = false): GridValues {
  const { matrix, adjusted } = runMassMatrix(run, sinkAdjusted);
  return { matrix, layerMeans: Array.from(perLayerMean(matrix)), headMeans: Array.from(perHeadMean(matrix)), model: modelMean(matrix), adjusted };
}

/** The largest cell over every step and defended run: one colour scale for the whole trace. */
export function gridMax(trace: Trace, sinkAdjusted = false): number {
  let max = 0;
  for (const step of trace.steps)
    for (const run of step.defended ? [step, step.defended] : [step])
      for (const row of runMassMatrix(run, sinkAdjusted).matrix) for (const value of row) max = Math.max(max, value);
  return max > 0 ? max : 1;
}

export const gridColumns = ['layer', 'head', 'mass'] as const;

export function gridCsvRows(matrix: LayerHeadMatrix): { layer: number; head: number; mass: number }[] {
  return matrix.flatMap((row, layer) => row.map((mass, head) => ({ layer, head, mass: round(mass) })));
}

// ---------------------------------------------------------------------------------------------
// Attention matrix

export type MapStatus = 'ready' | 'missing' | 'other-head' | 'no-head';

/** Whether the run's stored map is the selected head's: the matrix panel shows it only then. */
export function mapStatus(run: TraceRun, layer: LayerSelection, head: HeadSelection): MapStatus {
  if (layer === 'mean' || head === 'mean') return 'no-head';
  if (!run.map) return 'missing';
  return run.map.layer === layer && run.map.head === head ? 'ready' : 'other-head';
}

export const matrixColumns = ['query', 'key', 'p'] as const;

/** One row per (query, key) of the map, causal zeros included. */
export function matrixCsvRows(data: readonly (readonly number[])[]): { query: number; key: number; p: number }[] {
  return data.flatMap((row, query) => row.map((p, key) => ({ query, key, p: round(p) })));
}

// ---------------------------------------------------------------------------------------------
// Response

export interface DriftPoint {
  /** Generated token index g. */
  readonly index: number;
  /** Model mean of requestMass.generated[g]. */
  readonly mass: number;
}

/** Request mass (model mean) with each generated token as the query: does attention drift further? */
export function driftSeries(run: TraceRun): DriftPoint[] {
  return (run.requestMass.generated ?? []).map((matrix, index) => ({ index, mass: modelMean(matrix) }));
}

export const responseColumns = ['generated_index', 'token', 'mass'] as const;

export function responseCsvRows(
  run: TraceRun,
  options: { decode?: (id: number) => string; redacted?: boolean } = {},
): { generated_index: number; token: string; mass: number | '' }[] {
  const drift = driftSeries(run);
  const hide = (options.redacted ?? false) && run.verdict === 'complied';
  const count = Math.max(generatedCount(run), drift.length);
  return Array.from({ length: count }, (_, g) => ({
    generated_index: g,
    token: hide ? '[redacted]' : generatedTokenText(run, g, options.decode),
    mass: drift[g] ? round(drift[g].mass) : '',
  }));
}

/** SmoothLLM's vote: how many perturbed copies refused, or null without copies. */
export function copyVote(run: TraceRun): { refused: number; total: number } | null {
  if (!run.copies || run.copies.length === 0) return null;
  return { refused: run.copies.filter((copy) => copy.verdict === 'refused').length, total: run.copies.length };
}

// ---------------------------------------------------------------------------------------------
// Where a run sits in its trace

/** The attack step number of `run` (a step or its defended run) and whether it is the defended one. */
export function runLocation(trace: Trace, run: TraceRun): { index: number; step: number; defended: boolean } {
  const index = trace.steps.findIndex((step) => step === run || step.defended === run);
  if (index < 0) return { index: 0, step: trace.steps[0]?.step ?? 0, defended: false };
  return { index, step: trace.steps[index].step, defended: trace.steps[index] !== run };
}

// ---------------------------------------------------------------------------------------------
// Export names

/** `slip-lab-grid-step3.svg`, `slip-lab-tokens-step3-defended.csv`. */
export function exportFileName(panel: PanelName, step: number, extension: 'svg' | 'png' | 'csv', variant?: string): string {
  const safeVariant = variant ? `-${variant.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}` : '';
  return `slip-lab-${panel}-step${step}${safeVariant}.${extension}`;
}
