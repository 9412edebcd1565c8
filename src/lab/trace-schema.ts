// The Trace file format (version 1): its zod schema, the limits a hostile file is held to, its
// types, and the shape checks zod cannot express field by field. Parsing lives in trace.ts.

import { promptSegmentKinds } from '../attacks/types';
import { SlipLabError } from '../errors';
import { z } from '../util/zod';
import { attackKinds, defenseKinds } from './kinds';

export const TRACE_VERSION = 1;

/**
 * The largest trace file read: 128 MB, checked before a byte is read. The largest trace the shipped
 * scenarios write is about 71 MB: the 10-shot ICA in Japanese (912 tokens at its last step with the
 * Llama 3 tokenizer) on SmolLM2 1.7B, the catalogue's widest model (24 layers × 32 heads), with a
 * defense (tests/fixtures/large-trace.ts builds it). Reading a trace holds it several times over
 * (text, parsed value, validated copy, the page's copy), so the cap leaves room for longer custom
 * demonstrations while keeping a laptop's tab far from its memory limit; a 200 MB file is refused
 * in one sentence instead of crashing the tab.
 */
export const TRACE_MAX_BYTES = 128e6;

/**
 * Deepest nesting read. A trace nests 7 levels (steps[i].defended.lastPromptRow[l][h][k]) plus a
 * few in attack and defense settings; anything deeper is hostile (see firstTooDeep).
 */
export const TRACE_MAX_DEPTH = 32;

/**
 * Upper bounds far beyond any real trace, so that a small hostile file cannot declare a shape that
 * makes the page draw millions of cells or chips.
 */
export const TRACE_LIMITS = {
  /** Layers and heads per layer: the largest open models have 126 layers and 128 heads. */
  layers: 256,
  heads: 256,
  /** Tokens of one prompt or response: a 128k context, the longest any model the lab runs has. */
  tokens: 131_072,
  /** Attack steps: the app offers at most 20, and eval's searches stop far earlier. */
  steps: 10_000,
  /** SmoothLLM copies of one step. */
  copies: 1_000,
  /** Defenses compared side by side with the defended run (there are three kinds of defense). */
  compared: 8,
  /** Characters of a label, an id or one token's text. */
  shortText: 1_000,
  /** Characters of a prompt, a response, a request or a chat template. */
  longText: 2_000_000,
} as const;

/** The file is not a Trace this build can read; the message names the first problem and what to do. */
export class TraceFormatError extends SlipLabError {}

/** Span kinds of DESIGN.md: half-open token ranges [start, end). */
export const traceSpanKinds = ['sink', 'system', 'template', 'request', 'attack', 'response'] as const;
export const verdicts = ['refused', 'complied'] as const;

const count = z.number().int().nonnegative();
const shortText = z.string().max(TRACE_LIMITS.shortText);
const longText = z.string().max(TRACE_LIMITS.longText);
/** A list with at most one entry per token of a context. */
const perToken = <T extends z.ZodType>(item: T) => z.array(item).max(TRACE_LIMITS.tokens);
/** (nLayer, nHead); the sizes are checked against settings.model in checkRun. */
const layerByHead = z.array(z.array(z.number()));
const verdict = z.enum(verdicts);

const spanSchema = z.object({
  kind: z.enum(traceSpanKinds),
  start: count,
  end: count,
  text: longText,
  /** The attack segment the span came from (`demo`, `suffix`, …), when it came from one. */
  segment: z.enum(promptSegmentKinds).optional(),
  /** Index of that segment in the step's segments. */
  segmentIndex: count.optional(),
});

const segmentSchema = z.object({
  kind: z.enum(promptSegmentKinds),
  text: longText,
  tokenIds: perToken(count).optional(),
});

const timingsSchema = z.looseObject({
  totalMs: z.number().nonnegative(),
  prefillMs: z.number().nonnegative().optional(),
  decodeMs: z.number().nonnegative().optional(),
});

/** One perturbed copy of a SmoothLLM run. */
const copySchema = z.object({ prompt: longText, response: longText, verdict });

/** What Token Highlighter found in a run's prompt (its defended run was computed with it). */
const highlighterSchema = z.object({
  /** Prompt positions of the user's message (request and attack tokens), ascending. */
  positions: perToken(count),
  /** ‖∂L/∂e_i‖₂ of each of those positions, L the affirmation's mean cross-entropy. */
  influence: perToken(z.number().nonnegative()),
  /** The highlighted positions, ascending: their embeddings were multiplied by `scale`. */
  scaled: perToken(count),
  /** β, Soft Removal's factor. */
  scale: z.number().min(0).max(1),
  /** L before Soft Removal. */
  loss: z.number(),
});

/** What one run of the model on one prompt produced: the fields an attack step and its defended run share. */
const runFields = {
  prompt: longText,
  tokens: perToken(count),
  tokenTexts: perToken(shortText).optional(),
  spans: perToken(spanSchema),
  requestMass: z.object({
    /** (nLayer, nHead): request mass at the last prompt token, the decisive query. */
    lastPrompt: layerByHead,
    lastPromptSinkAdjusted: layerByHead.optional(),
    /** (generated token, nLayer, nHead) */
    generated: perToken(layerByHead).optional(),
  }),
  /** (nLayer, nHead, keys): the last prompt token's attention row, for the token strip. */
  lastPromptRow: z.array(z.array(z.array(z.number()))).optional(),
  /**
   * (generated token, keys): each generated token's attention row (the query that predicted the
   * next token), mean over layers and heads; keys run over the prompt and the tokens generated
   * before it, so row g has tokens.length + g + 1 entries at most.
   */
  generatedRows: perToken(z.array(z.number())).optional(),
  /** The full (query, key) attention map over the prompt of one (layer, head), for the matrix panel. */
  map: z.object({ layer: count, head: count, data: z.array(z.array(z.number())) }).optional(),
  /** log p(refusal start) − log p(affirmation start) at the decisive query. */
  margin: z.number(),
  response: longText,
  generatedTokens: perToken(count).optional(),
  /** Each generated token decoded on its own, for display (same length as generatedTokens). */
  generatedTexts: perToken(shortText).optional(),
  verdict,
  /** SmoothLLM: every perturbed copy; `verdict` is then the majority vote. */
  copies: z.array(copySchema).max(TRACE_LIMITS.copies).optional(),
  /** Token Highlighter: the user's tokens, each one's influence, and those Soft Removal scaled. */
  highlighter: highlighterSchema.optional(),
  timings: timingsSchema,
};

const runSchema = z.object(runFields);

const stepSchema = z.object({
  step: count,
  label: shortText,
  /** The attack step's prompt segments, so a replay can re-run it on another model. */
  segments: perToken(segmentSchema).optional(),
  /** The attack's own objective at this step (suffix search: log p of the target). */
  score: z.number().optional(),
  /** GCG: the target's mean cross-entropy (nats per token) with this step's suffix. */
  loss: z.number().nonnegative().optional(),
  ...runFields,
  defended: runSchema.optional(),
  /** Other defenses, each on its own, run on this step to compare with the defended run (settings.compare). */
  compared: z.array(z.object({ kind: z.enum(defenseKinds), label: shortText, run: runSchema })).max(TRACE_LIMITS.compared).optional(),
});

/** `label` names the defense in summaries (e.g. "sharpening T=0.7 L8–15"); the kind is used otherwise. */
const defenseRecordSchema = z.object({ kind: z.enum(defenseKinds), label: shortText.optional(), settings: z.record(z.string(), z.unknown()) });

const settingsSchema = z.object({
  model: z.object({
    id: shortText.min(1),
    architecture: shortText.optional(),
    file: shortText.optional(),
    quantization: shortText.optional(),
    nLayer: z.number().int().positive().max(TRACE_LIMITS.layers),
    nHead: z.number().int().positive().max(TRACE_LIMITS.heads),
  }),
  tokenizer: z.object({ id: shortText.min(1), chatTemplate: longText.optional() }),
  attack: z.object({ kind: z.enum(attackKinds), settings: z.record(z.string(), z.unknown()) }),
  defense: defenseRecordSchema,
  /** Defenses run beside `defense` for comparison, each on its own (the steps' `compared` runs, in this order). */
  compare: z.array(defenseRecordSchema).max(TRACE_LIMITS.compared).optional(),
  generation: z.object({ maxNewTokens: count, sampling: z.record(z.string(), z.unknown()).optional() }).optional(),
  seeds: z.record(z.string(), z.number().int()),
  engine: z.looseObject({ backend: shortText.optional(), adapter: shortText.optional(), version: shortText.optional() }),
});

type Run = z.infer<typeof runSchema>;
type Settings = z.infer<typeof settingsSchema>;

export const traceSchema = z
  .object({
    version: z.literal(TRACE_VERSION),
    createdAt: shortText.optional(),
    request: z.object({
      id: shortText.optional(),
      category: shortText.optional(),
      text: longText,
      language: z.enum(['en', 'ja']).optional(),
    }),
    settings: settingsSchema,
    steps: z.array(stepSchema).max(TRACE_LIMITS.steps),
  })
  .superRefine((trace, ctx) => {
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    trace.steps.forEach((step, i) => {
      if (i > 0 && step.step <= trace.steps[i - 1].step) {
        fail(['steps', i, 'step'], `must be greater than the step before it (${trace.steps[i - 1].step})`);
      }
      checkRun(step, ['steps', i], trace.settings, fail);
      if (step.defended) checkRun(step.defended, ['steps', i, 'defended'], trace.settings, fail);
      step.compared?.forEach((entry, c) => checkRun(entry.run, ['steps', i, 'compared', c, 'run'], trace.settings, fail));
    });
  });

export type Trace = z.infer<typeof traceSchema>;
export type TraceStep = Trace['steps'][number];
export type TraceRun = Run;
export type TraceSpan = z.infer<typeof spanSchema>;
export type TraceSpanKind = (typeof traceSpanKinds)[number];
export type TraceSettings = Settings;
export type Verdict = (typeof verdicts)[number];

type Fail = (path: (string | number)[], message: string) => void;

/** Shape checks zod cannot express field by field: spans inside the prompt, matrices (nLayer, nHead). */
function checkRun(run: Run, at: (string | number)[], settings: Settings, fail: Fail): void {
  const { nLayer, nHead } = settings.model;
  run.spans.forEach((span, j) => {
    if (span.end < span.start) fail([...at, 'spans', j, 'end'], `must not be smaller than start (${span.start})`);
    else if (span.end > run.tokens.length) fail([...at, 'spans', j, 'end'], `must be at most the prompt length (${run.tokens.length} tokens)`);
  });
  if (run.tokenTexts && run.tokenTexts.length !== run.tokens.length) {
    fail([...at, 'tokenTexts'], `must have one entry per token (${run.tokens.length})`);
  }
  const checkMatrix = (matrix: number[][], path: (string | number)[]) => {
    if (matrix.length !== nLayer) return fail(path, `must have ${nLayer} rows, one per layer (settings.model.nLayer)`);
    const bad = matrix.findIndex((row) => row.length !== nHead);
    if (bad >= 0) fail([...path, bad], `must have ${nHead} entries, one per head (settings.model.nHead)`);
  };
  checkMatrix(run.requestMass.lastPrompt, [...at, 'requestMass', 'lastPrompt']);
  if (run.requestMass.lastPromptSinkAdjusted) {
    checkMatrix(run.requestMass.lastPromptSinkAdjusted, [...at, 'requestMass', 'lastPromptSinkAdjusted']);
  }
  run.requestMass.generated?.forEach((matrix, g) => checkMatrix(matrix, [...at, 'requestMass', 'generated', g]));
  if (run.lastPromptRow) {
    const path = [...at, 'lastPromptRow'];
    checkMatrix(run.lastPromptRow.map((layer) => layer.map(() => 0)), path);
    run.lastPromptRow.forEach((layer, l) =>
      layer.forEach((keys, h) => {
        if (keys.length > run.tokens.length) fail([...path, l, h], `must have at most one entry per prompt token (${run.tokens.length})`);
      }),
    );
  }
  run.generatedRows?.forEach((keys, g) => {
    if (keys.length > run.tokens.length + g + 1) fail([...at, 'generatedRows', g], `must have at most ${run.tokens.length + g + 1} entries (prompt plus earlier generated tokens)`);
  });
  if (run.highlighter) {
    const { positions, influence, scaled } = run.highlighter;
    const path = [...at, 'highlighter'];
    if (influence.length !== positions.length) fail([...path, 'influence'], `must have one entry per position (${positions.length})`);
    const bad = positions.findIndex((p, i) => p >= run.tokens.length || (i > 0 && p <= positions[i - 1]));
    if (bad >= 0) fail([...path, 'positions', bad], `must be ascending prompt positions below the prompt length (${run.tokens.length})`);
    const known = new Set(positions);
    const stray = scaled.findIndex((p) => !known.has(p));
    if (stray >= 0) fail([...path, 'scaled', stray], 'must be one of the user-token positions');
  }
  if (run.map) {
    const { layer, head, data } = run.map;
    if (layer >= nLayer) fail([...at, 'map', 'layer'], `must be below the layer count (${nLayer})`);
    if (head >= nHead) fail([...at, 'map', 'head'], `must be below the head count (${nHead})`);
    if (data.length !== run.tokens.length) fail([...at, 'map', 'data'], `must have one row per prompt token (${run.tokens.length})`);
    const bad = data.findIndex((row) => row.length !== run.tokens.length);
    if (bad >= 0 && data.length === run.tokens.length) fail([...at, 'map', 'data', bad], `must have one entry per prompt token (${run.tokens.length})`);
  }
}
