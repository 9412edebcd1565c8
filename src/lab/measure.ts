// One measured run: a built prompt through the model, reduced to what a Trace records (request
// mass at the decisive query and each generated token, attention rows, the refusal margin, the
// response and its verdict), and one head's full map on its own.

import { judgeResponse } from '../analysis/judge';
import { refusalMargin } from '../analysis/margin';
import { massFromRows, sinkAdjusted, toNested, type LayerHeadValues } from '../analysis/mass';
import { rangesOfKind } from '../analysis/spans';
import type { CacheReuse, GenerateResult } from '../engine/api';
import { EngineInputError } from '../errors';
import { openerTokenIds } from '../tokenizer/openers';
import type { BuiltPrompt } from '../tokenizer/prompt';
import type { ChatTokenizer } from '../tokenizer/tokenizer';
import type { Lab } from './scenario';
import type { TraceRun } from './trace';

/**
 * Longest prompt whose full map a trace records (P² numbers per step); longer prompts get theirs
 * on demand (computeMap), which keeps a long in-context attack's trace to a few megabytes.
 */
export const MAX_MAP_TOKENS = 384;

/** Attention probabilities and maps are stored to 6 decimals: 1e-6 is far below what a chart shows. */
const round6 = (value: number) => Math.round(value * 1e6) / 1e6;

export type HeadRef = { readonly layer: number; readonly head: number };

/** Throws the AbortError a cancelled run ends with. */
export function checkSignal(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DOMException('The run was cancelled.', 'AbortError');
}

export interface MeasureOptions {
  readonly maxNewTokens: number;
  /** Record this head's full map (prompts up to MAX_MAP_TOKENS). */
  readonly map?: HeadRef;
  /** Default 'none': the run does not depend on what the model computed before. */
  readonly reuse?: CacheReuse;
  readonly signal?: AbortSignal;
  /** Per prompt position, a factor on its embedding row (Token Highlighter's Soft Removal); absent = all 1. */
  readonly embeddingScales?: readonly number[];
}

/**
 * One greedy run of the model on a built prompt at the temperatures currently set, measured the
 * way DESIGN.md defines: request mass at the decisive query (the last prompt token) and at each
 * generated token, the refusal margin at the decisive query, the response and its verdict.
 */
export async function measureRun(lab: Lab, prompt: BuiltPrompt, options: MeasureOptions): Promise<TraceRun> {
  const { model, tokenizer } = lab;
  const { nLayer, nHead } = model.config;
  if (prompt.tokens.length + options.maxNewTokens > model.config.contextLength) {
    throw new EngineInputError(
      `The prompt (${prompt.tokens.length} tokens) plus ${options.maxNewTokens} response tokens exceed the model's context of ${model.config.contextLength}; use fewer attack steps or a shorter request.`,
    );
  }
  const started = performance.now();
  const map = prompt.tokens.length <= MAX_MAP_TOKENS ? options.map : undefined;
  const result: GenerateResult = await model.generate(prompt.tokens, {
    maxNewTokens: options.maxNewTokens,
    sampling: { kind: 'greedy' },
    stopTokens: tokenizer.stopTokenIds,
    logits: 'generated',
    attention: { rows: 'last-and-generated', map },
    reuse: options.reuse ?? 'none',
    signal: options.signal,
    ...(options.embeddingScales ? { embeddingScales: options.embeddingScales } : {}),
  });
  const totalMs = performance.now() - started;
  const rows = result.attention!.rows;
  const layout = { nLayer, nHead };
  const P = prompt.tokens.length;
  const request = rangesOfKind(prompt.spans, 'request');
  const sink = rangesOfKind(prompt.spans, 'sink');
  // Slot 0 is the last prompt token; slot s ≥ 1 is generated token s − 1 as a query. Slots past
  // an early stop were never computed.
  const slots = Math.max(1, Math.min(rows.queries.length, result.generated.length));
  const massAt = (slot: number): LayerHeadValues => massFromRows(rows, layout, request, slot);
  const lastPrompt = massAt(0);

  const rowAt = (layer: number, slot: number, head: number) => {
    const base = ((layer * rows.queries.length + slot) * nHead + head) * rows.keys;
    return rows.data.subarray(base, base + rows.keys);
  };
  const lastPromptRow = Array.from({ length: nLayer }, (_, l) =>
    Array.from({ length: nHead }, (_, h) => Array.from(rowAt(l, 0, h).subarray(0, P), round6)),
  );
  const generatedRows: number[][] = [];
  for (let slot = 1; slot < slots; slot++) {
    const keys = P + slot; // the prompt and the generated tokens up to and including this query
    const mean = new Float64Array(keys);
    for (let l = 0; l < nLayer; l++) for (let h = 0; h < nHead; h++) rowAt(l, slot, h).subarray(0, keys).forEach((p, k) => (mean[k] += p));
    generatedRows.push(Array.from(mean, (sum) => round6(sum / (nLayer * nHead))));
  }

  const stops = new Set(tokenizer.stopTokenIds);
  const response = tokenizer.decode(
    result.generated.filter((t) => !stops.has(t)),
    { skipSpecialTokens: true },
  );
  const openers = openerTokenIds(tokenizer, prompt);
  const { start, end } = prompt.tokenChars;
  return {
    prompt: prompt.text,
    tokens: [...prompt.tokens],
    tokenTexts: prompt.tokens.map((_, i) => prompt.text.slice(start[i], end[i])),
    spans: prompt.spans.map(({ kind, start: s, end: e, text, segment, segmentIndex }) => ({
      kind,
      start: s,
      end: e,
      text,
      ...(segment !== undefined ? { segment, segmentIndex } : {}),
    })),
    requestMass: {
      lastPrompt: toNested(lastPrompt),
      lastPromptSinkAdjusted: toNested(sinkAdjusted(lastPrompt, massFromRows(rows, layout, sink, 0))),
      generated: Array.from({ length: slots - 1 }, (_, g) => toNested(massAt(g + 1))),
    },
    lastPromptRow,
    generatedRows,
    ...(result.attention?.map ? { map: mapRecord(result.attention.map, P) } : {}),
    margin: refusalMargin(result.logits[0], openers.refusal, openers.affirmation),
    response,
    generatedTokens: [...result.generated],
    generatedTexts: tokenPieces(tokenizer, result.generated),
    verdict: judgeResponse(response),
    timings: { totalMs },
  };
}

function mapRecord(map: { layer: number; head: number; data: Float32Array }, P: number): NonNullable<TraceRun['map']> {
  return { layer: map.layer, head: map.head, data: Array.from({ length: P }, (_, q) => Array.from(map.data.subarray(q * P, (q + 1) * P), round6)) };
}

/**
 * One head's (query × key) map over `tokens` at the temperatures currently set (and the run's
 * embedding scales, if any): a prefill, no generation.
 */
export async function headMap(
  lab: Lab,
  tokens: readonly number[],
  head: HeadRef,
  signal?: AbortSignal,
  embeddingScales?: readonly number[],
): Promise<NonNullable<TraceRun['map']>> {
  const result = await lab.model.generate(tokens, {
    maxNewTokens: 0,
    logits: 'none',
    attention: { rows: 'last-and-generated', map: head },
    signal,
    ...(embeddingScales ? { embeddingScales } : {}),
  });
  return mapRecord(result.attention!.map!, tokens.length);
}

/**
 * The text each generated token adds, decoded in context: a character split over several
 * byte-level tokens (common in Japanese) lands on the token that completes it, instead of showing
 * as U+FFFD on each piece.
 */
function tokenPieces(tokenizer: ChatTokenizer, ids: readonly number[]): string[] {
  const pieces: string[] = [];
  let before = '';
  for (let i = 0; i < ids.length; i++) {
    const text = tokenizer.decode(ids.slice(0, i + 1));
    // Until a split character completes, the decoded text ends in U+FFFD: hold that part back.
    const stable = text.endsWith('\uFFFD') && i < ids.length - 1 ? text.replace(/\uFFFD+$/, '') : text;
    pieces.push(stable.startsWith(before) ? stable.slice(before.length) : stable);
    before = stable.startsWith(before) ? stable : before;
  }
  return pieces;
}
