// The Trace file format (version 1): its zod schema, parsing with one-sentence errors, and serialising.

import { z } from 'zod';
import { promptSegmentKinds } from '../attacks/types';
import { SlipLabError } from '../errors';
import { describeIssue } from '../util/describe-issue';
import { attackKinds, defenseKinds } from './kinds';

export const TRACE_VERSION = 1;

/** The file is not a Trace this build can read; the message names the first problem and what to do. */
export class TraceFormatError extends SlipLabError {}

/** Span kinds of DESIGN.md: half-open token ranges [start, end). */
export const traceSpanKinds = ['sink', 'system', 'template', 'request', 'attack', 'response'] as const;
export const verdicts = ['refused', 'complied'] as const;

const count = z.number().int().nonnegative();
/** (nLayer, nHead) */
const layerByHead = z.array(z.array(z.number()));
const verdict = z.enum(verdicts);

const spanSchema = z.object({
  kind: z.enum(traceSpanKinds),
  start: count,
  end: count,
  text: z.string(),
  /** The attack segment the span came from (`demo`, `suffix`, …), when it came from one. */
  segment: z.enum(promptSegmentKinds).optional(),
  /** Index of that segment in the step's segments. */
  segmentIndex: count.optional(),
});

const segmentSchema = z.object({
  kind: z.enum(promptSegmentKinds),
  text: z.string(),
  tokenIds: z.array(count).optional(),
});

const timingsSchema = z.looseObject({
  totalMs: z.number().nonnegative(),
  prefillMs: z.number().nonnegative().optional(),
  decodeMs: z.number().nonnegative().optional(),
});

/** One perturbed copy of a SmoothLLM run. */
const copySchema = z.object({ prompt: z.string(), response: z.string(), verdict });

/** What one run of the model on one prompt produced: the fields an attack step and its defended run share. */
const runFields = {
  prompt: z.string(),
  tokens: z.array(count),
  tokenTexts: z.array(z.string()).optional(),
  spans: z.array(spanSchema),
  requestMass: z.object({
    /** (nLayer, nHead): request mass at the last prompt token, the decisive query. */
    lastPrompt: layerByHead,
    lastPromptSinkAdjusted: layerByHead.optional(),
    /** (generated token, nLayer, nHead) */
    generated: z.array(layerByHead).optional(),
  }),
  /** (nLayer, nHead, keys): the last prompt token's attention row, for the token strip. */
  lastPromptRow: z.array(z.array(z.array(z.number()))).optional(),
  /**
   * (generated token, keys): each generated token's attention row (the query that predicted the
   * next token), mean over layers and heads; keys run over the prompt and the tokens generated
   * before it, so row g has tokens.length + g + 1 entries at most.
   */
  generatedRows: z.array(z.array(z.number())).optional(),
  /** The full (query, key) attention map over the prompt of one (layer, head), for the matrix panel. */
  map: z.object({ layer: count, head: count, data: z.array(z.array(z.number())) }).optional(),
  /** log p(refusal start) − log p(affirmation start) at the decisive query. */
  margin: z.number(),
  response: z.string(),
  generatedTokens: z.array(count).optional(),
  /** Each generated token decoded on its own, for display (same length as generatedTokens). */
  generatedTexts: z.array(z.string()).optional(),
  verdict,
  /** SmoothLLM: every perturbed copy; `verdict` is then the majority vote. */
  copies: z.array(copySchema).optional(),
  timings: timingsSchema,
};

const runSchema = z.object(runFields);

const stepSchema = z.object({
  step: count,
  label: z.string(),
  /** The attack step's prompt segments, so a replay can re-run it on another model. */
  segments: z.array(segmentSchema).optional(),
  /** The attack's own objective at this step (suffix search: log p of the target). */
  score: z.number().optional(),
  ...runFields,
  defended: runSchema.optional(),
});

const settingsSchema = z.object({
  model: z.object({
    id: z.string().min(1),
    architecture: z.string().optional(),
    file: z.string().optional(),
    quantization: z.string().optional(),
    nLayer: z.number().int().positive(),
    nHead: z.number().int().positive(),
  }),
  tokenizer: z.object({ id: z.string().min(1), chatTemplate: z.string().optional() }),
  attack: z.object({ kind: z.enum(attackKinds), settings: z.record(z.string(), z.unknown()) }),
  /** `label` names the defense in summaries (e.g. "sharpening T=0.7 L8–15"); the kind is used otherwise. */
  defense: z.object({ kind: z.enum(defenseKinds), label: z.string().optional(), settings: z.record(z.string(), z.unknown()) }),
  generation: z.object({ maxNewTokens: count, sampling: z.record(z.string(), z.unknown()).optional() }).optional(),
  seeds: z.record(z.string(), z.number().int()),
  engine: z.looseObject({ backend: z.string().optional(), adapter: z.string().optional(), version: z.string().optional() }),
});

type Run = z.infer<typeof runSchema>;
type Settings = z.infer<typeof settingsSchema>;

export const traceSchema = z
  .object({
    version: z.literal(TRACE_VERSION),
    createdAt: z.string().optional(),
    request: z.object({
      id: z.string().optional(),
      category: z.string().optional(),
      text: z.string(),
      language: z.enum(['en', 'ja']).optional(),
    }),
    settings: settingsSchema,
    steps: z.array(stepSchema),
  })
  .superRefine((trace, ctx) => {
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    trace.steps.forEach((step, i) => {
      if (i > 0 && step.step <= trace.steps[i - 1].step) {
        fail(['steps', i, 'step'], `must be greater than the step before it (${trace.steps[i - 1].step})`);
      }
      checkRun(step, ['steps', i], trace.settings, fail);
      if (step.defended) checkRun(step.defended, ['steps', i, 'defended'], trace.settings, fail);
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
  if (run.map) {
    const { layer, head, data } = run.map;
    if (layer >= nLayer) fail([...at, 'map', 'layer'], `must be below the layer count (${nLayer})`);
    if (head >= nHead) fail([...at, 'map', 'head'], `must be below the head count (${nHead})`);
    if (data.length !== run.tokens.length) fail([...at, 'map', 'data'], `must have one row per prompt token (${run.tokens.length})`);
    const bad = data.findIndex((row) => row.length !== run.tokens.length);
    if (bad >= 0 && data.length === run.tokens.length) fail([...at, 'map', 'data', bad], `must have one entry per prompt token (${run.tokens.length})`);
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Reads a Trace from JSON text, or throws a TraceFormatError naming the first problem. */
export function parseTrace(jsonText: string): Trace {
  let data: unknown;
  try {
    data = JSON.parse(jsonText);
  } catch (error) {
    throw new TraceFormatError(
      `This file is not valid JSON (${oneLine((error as Error).message)}); choose a trace .json file written by Attention Slip Lab.`,
      { cause: error },
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !('version' in data)) {
    throw new TraceFormatError(
      'This file is not an Attention Slip Lab trace (it is not a JSON object with a "version" field); choose a trace .json file written by the lab or the CLI.',
    );
  }
  const version = (data as { version: unknown }).version;
  if (version !== TRACE_VERSION) {
    throw new TraceFormatError(
      `This trace has version ${JSON.stringify(version)}, but this build reads version ${TRACE_VERSION}; open it with the build that wrote it or export the trace again.`,
    );
  }
  const result = traceSchema.safeParse(data);
  if (!result.success) {
    throw new TraceFormatError(
      `This trace file is invalid: ${describeIssue(result.error.issues[0], data)}; fix that field or export the trace again from Attention Slip Lab.`,
    );
  }
  return result.data;
}

/**
 * The Trace as JSON text. It is validated first, so a trace that could not be read back (a NaN
 * margin, a span past the prompt) fails here, where the bug is, and not at replay.
 */
export function serializeTrace(trace: Trace, options: { pretty?: boolean } = {}): string {
  const result = traceSchema.safeParse(trace);
  if (!result.success) {
    throw new TraceFormatError(
      `Cannot save this trace because ${describeIssue(result.error.issues[0], trace)}; this is a bug in whatever built the trace, so report it with the settings used.`,
    );
  }
  return JSON.stringify(result.data, null, options.pretty ? 2 : undefined);
}

export { summaryRows, summaryCsv, summaryColumns, type SummaryRow } from './trace-csv';
