// The lab runner: a scenario (request, attack, defense, seeds) run on a loaded model → a Trace.
// Everything the app animates and the evaluator summarises comes out of here; it is the same code
// in the browser worker and in the Node CLI.

import { judgeResponse } from '../analysis/judge';
import { refusalMargin } from '../analysis/margin';
import { massFromRows, sinkAdjusted, toNested, type LayerHeadValues } from '../analysis/mass';
import { topHeads } from '../analysis/slipping';
import { rangesOfKind } from '../analysis/spans';
import { suffixAttackStep, suffixSearch, type SuffixSearchOptions } from '../attacks/suffix-search';
import type { AttackStep, PromptSegment } from '../attacks/types';
import { majorityVote, smoothStepCopies, type PerturbationKind } from '../defenses/smoothllm';
import { sharpeningTemperatures, type SharpeningConfig } from '../defenses/sharpening';
import type { GenerateResult, LoadedModel } from '../engine/api';
import { EngineInputError } from '../engine/errors';
import { openerTokenIds } from '../tokenizer/openers';
import { buildPrompt, type BuiltPrompt } from '../tokenizer/prompt';
import type { ChatTokenizer } from '../tokenizer/tokenizer';
import { suffixVocabulary } from './suffix-vocabulary';
import { TRACE_VERSION, traceSchema, type Trace, type TraceRun, type TraceSettings, type TraceStep } from './trace';

/** What the runner needs: the model on the GPU, its tokenizer, and names for the Trace. */
export interface Lab {
  readonly model: LoadedModel;
  readonly tokenizer: ChatTokenizer;
  readonly modelInfo: { readonly id: string; readonly file?: string; readonly quantization?: string };
  readonly tokenizerId: string;
  readonly engineInfo?: { readonly backend?: string; readonly adapter?: string; readonly version?: string };
}

export interface SmoothSettings {
  /** N copies (default 10). */
  readonly n?: number;
  /** Percentage of characters perturbed (default 10). */
  readonly q?: number;
  /** Default 'swap'. */
  readonly perturbation?: PerturbationKind;
}

export type DefenseSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'sharpening'; readonly sharpening: SharpeningConfig }
  | { readonly kind: 'smoothllm'; readonly smooth: SmoothSettings }
  | { readonly kind: 'sharpening+smoothllm'; readonly sharpening: SharpeningConfig; readonly smooth: SmoothSettings };

export interface SuffixAttackSpec {
  readonly kind: 'suffix';
  /** The affirmative opening whose log-probability the search maximises ("Sure, here is …"). */
  readonly target: string;
  /** Candidates scored in all (the iteration budget). */
  readonly iterations: number;
  /** Accepted improvements to keep (the step budget). */
  readonly maxSteps: number;
  /** Suffix length in tokens (default 20). */
  readonly suffixLength?: number;
  /** Candidates proposed per iteration; the best one competes with the current suffix (default 1, as in the paper). */
  readonly candidatesPerIteration?: number;
  /** Token ids the suffix may use (default: short printable-ASCII tokens of the tokenizer). */
  readonly vocabulary?: readonly number[];
}

export type AttackSpec =
  | { readonly kind: 'none' }
  /** A trajectory already written out (ICA, ladder, custom): one AttackStep per step. */
  | { readonly kind: 'ica' | 'ladder' | 'custom'; readonly steps: readonly AttackStep[]; readonly settings?: Record<string, unknown> }
  | SuffixAttackSpec;

export interface Scenario {
  readonly request: { readonly id?: string; readonly category?: string; readonly text: string; readonly language?: 'en' | 'ja' };
  readonly attack: AttackSpec;
  readonly defense: DefenseSpec;
  /** Greedy tokens generated per run (the response the judge reads). */
  readonly maxNewTokens: number;
  readonly seeds: { readonly attack: number; readonly defense: number };
  /** System prompt for every step (ICA, ladder and custom steps carry their own). */
  readonly system?: string;
  /**
   * The head whose full (query × key) map is recorded at every step: a fixed one, or 'top' (the
   * default): the head with the most request mass on the first step, the strongest "safety head".
   * `false` records none.
   */
  readonly mapHead?: { readonly layer: number; readonly head: number } | 'top' | false;
  /** A label for the defense in summaries; default e.g. "sharpening T=0.7 L2–5". */
  readonly defenseLabel?: string;
}

export type LabPhase = 'search' | 'attack' | 'defense';

export interface LabProgress {
  readonly phase: LabPhase;
  /** Attack step being run (search: accepted steps so far). */
  readonly step: number;
  /** Steps in the trajectory, when known (a suffix search knows only its budget). */
  readonly steps?: number;
  /** Suffix search: iterations used of the budget. */
  readonly iteration?: number;
  readonly iterations?: number;
  /** SmoothLLM: the copy being run, 1-based, of `copies`. */
  readonly copy?: number;
  readonly copies?: number;
  /** Best target log-probability so far (suffix search). */
  readonly score?: number;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: LabProgress) => void;
  /** Each finished step, in order, with the trace so far (valid as it stands). */
  readonly onStep?: (step: TraceStep, trace: Trace) => void;
}

/**
 * Longest prompt whose full map a trace records (P² numbers per step); longer prompts get theirs
 * on demand (computeMap), which keeps a long in-context attack's trace to a few megabytes.
 */
export const MAX_MAP_TOKENS = 384;

/** Attention probabilities and maps are stored to 6 decimals: 1e-6 is far below what a chart shows. */
const round6 = (value: number) => Math.round(value * 1e6) / 1e6;

const now = () => performance.now();

function cancelled(): DOMException {
  return new DOMException('The run was cancelled.', 'AbortError');
}

function checkSignal(signal?: AbortSignal): void {
  if (signal?.aborted) throw cancelled();
}

/** Default label of a defense, as it appears in summary.csv and the app's legend. */
export function defenseLabel(defense: DefenseSpec): string {
  const sharpen = (s: SharpeningConfig) =>
    `sharpening T=${s.temperature} L${s.layers[0]}–${s.layers[1]}${s.heads ? ` H${s.heads.join(',')}` : ''}`;
  const smooth = (s: SmoothSettings) => `smoothllm N=${s.n ?? 10} q=${s.q ?? 10} ${s.perturbation ?? 'swap'}`;
  switch (defense.kind) {
    case 'none':
      return 'none';
    case 'sharpening':
      return sharpen(defense.sharpening);
    case 'smoothllm':
      return smooth(defense.smooth);
    case 'sharpening+smoothllm':
      return `${sharpen(defense.sharpening)} + ${smooth(defense.smooth)}`;
  }
}

function defenseSettings(defense: DefenseSpec): Record<string, unknown> {
  const { kind: _kind, ...rest } = defense;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

function attackSettings(attack: AttackSpec): Record<string, unknown> {
  switch (attack.kind) {
    case 'none':
      return {};
    case 'suffix': {
      const { kind: _kind, vocabulary, ...rest } = attack;
      return { ...rest, ...(vocabulary ? { vocabularySize: vocabulary.length } : {}) };
    }
    default:
      return { ...(attack.settings ?? {}), steps: attack.steps.length };
  }
}

/**
 * One greedy run of the model on a built prompt, measured the way DESIGN.md defines: request
 * mass at the decisive query (the last prompt token) and at each generated token, the refusal
 * margin at the decisive query, the response and its verdict.
 */
export async function measureRun(
  lab: Lab,
  prompt: BuiltPrompt,
  options: { readonly maxNewTokens: number; readonly map?: { readonly layer: number; readonly head: number }; readonly signal?: AbortSignal },
): Promise<TraceRun> {
  const { model, tokenizer } = lab;
  const { nLayer, nHead } = model.config;
  if (prompt.tokens.length + options.maxNewTokens > model.config.contextLength) {
    throw new EngineInputError(
      `The prompt (${prompt.tokens.length} tokens) plus ${options.maxNewTokens} response tokens exceed the model's context of ${model.config.contextLength}; use fewer attack steps or a shorter request.`,
    );
  }
  const started = now();
  const map = prompt.tokens.length <= MAX_MAP_TOKENS ? options.map : undefined;
  const result: GenerateResult = await model.generate(prompt.tokens, {
    maxNewTokens: options.maxNewTokens,
    sampling: { kind: 'greedy' },
    stopTokens: tokenizer.stopTokenIds,
    logits: 'generated',
    attention: { rows: 'last-and-generated', map },
    signal: options.signal,
  });
  const totalMs = now() - started;
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
    ...(result.attention?.map
      ? {
          map: {
            layer: result.attention.map.layer,
            head: result.attention.map.head,
            data: Array.from({ length: P }, (_, q) => Array.from(result.attention!.map!.data.subarray(q * P, (q + 1) * P), round6)),
          },
        }
      : {}),
    margin: refusalMargin(result.logits[0], openers.refusal, openers.affirmation),
    response,
    generatedTokens: [...result.generated],
    generatedTexts: tokenPieces(tokenizer, result.generated),
    verdict: judgeResponse(response),
    timings: { totalMs },
  };
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

function promptFor(lab: Lab, step: AttackStep): BuiltPrompt {
  return buildPrompt(lab.tokenizer, step.segments);
}

/** The (nLayer × nHead) temperatures of a defense: its sharpening, or all 1. */
function defenseTemperatures(lab: Lab, defense: DefenseSpec): Float32Array {
  const grid = { nLayer: lab.model.config.nLayer, nHead: lab.model.config.nHead };
  return defense.kind === 'sharpening' || defense.kind === 'sharpening+smoothllm'
    ? sharpeningTemperatures(defense.sharpening, grid)
    : new Float32Array(grid.nLayer * grid.nHead).fill(1);
}

/**
 * The defended run of one attack step. Sharpening: the same prompt with the defense's
 * temperatures. SmoothLLM: N perturbed copies (seeded by the defense seed and the step), each
 * judged; the verdict is the majority vote and the run recorded in full is the first copy that
 * agrees with the vote (the response SmoothLLM would return). Temperatures are set by the caller.
 */
async function defendedRun(
  lab: Lab,
  step: AttackStep,
  defense: Exclude<DefenseSpec, { kind: 'none' }>,
  options: { maxNewTokens: number; seed: number; map?: { layer: number; head: number }; signal?: AbortSignal; onCopy?: (copy: number, copies: number) => void },
): Promise<TraceRun> {
  if (defense.kind === 'sharpening') return measureRun(lab, promptFor(lab, step), options);
  const { n = 10, q = 10, perturbation = 'swap' } = defense.smooth;
  const copies = smoothStepCopies(step, { n, q, kind: perturbation, seed: options.seed });
  const runs: TraceRun[] = [];
  for (const [i, copy] of copies.entries()) {
    checkSignal(options.signal);
    options.onCopy?.(i + 1, copies.length);
    // No map per copy: only the copy SmoothLLM answers with gets one, below.
    runs.push(await measureRun(lab, promptFor(lab, copy), { ...options, map: undefined }));
  }
  const vote = majorityVote(runs.map((run) => run.verdict));
  const chosen = runs[vote.consistent[0]];
  const map = options.map && chosen.tokens.length <= MAX_MAP_TOKENS ? await headMap(lab, chosen.tokens, options.map, options.signal) : undefined;
  return {
    ...chosen,
    ...(map ? { map } : {}),
    verdict: vote.jailbroken ? 'complied' : 'refused',
    copies: runs.map((run) => ({ prompt: run.prompt, response: run.response, verdict: run.verdict })),
    timings: { totalMs: runs.reduce((sum, run) => sum + run.timings.totalMs, 0) },
  };
}

/** A step's seed for SmoothLLM: distinct per step, fixed by the defense seed. */
const stepSeed = (seed: number, step: number) => (seed + Math.imul(step + 1, 0x9e3779b1)) >>> 0;

function traceHeader(lab: Lab, scenario: Scenario): Omit<Trace, 'steps'> {
  const { config } = lab.model;
  const settings: TraceSettings = {
    model: {
      id: lab.modelInfo.id,
      architecture: config.arch,
      ...(lab.modelInfo.file ? { file: lab.modelInfo.file } : {}),
      ...(lab.modelInfo.quantization ? { quantization: lab.modelInfo.quantization } : {}),
      nLayer: config.nLayer,
      nHead: config.nHead,
    },
    tokenizer: { id: lab.tokenizerId },
    attack: { kind: scenario.attack.kind, settings: attackSettings(scenario.attack) },
    defense: {
      kind: scenario.defense.kind,
      ...(scenario.defense.kind !== 'none' ? { label: scenario.defenseLabel ?? defenseLabel(scenario.defense) } : {}),
      settings: defenseSettings(scenario.defense),
    },
    generation: { maxNewTokens: scenario.maxNewTokens, sampling: { kind: 'greedy' } },
    seeds: { attack: scenario.seeds.attack, defense: scenario.seeds.defense },
    engine: { ...(lab.engineInfo ?? {}) },
  };
  return {
    version: TRACE_VERSION,
    createdAt: new Date().toISOString(),
    request: {
      ...(scenario.request.id ? { id: scenario.request.id } : {}),
      ...(scenario.request.category ? { category: scenario.request.category } : {}),
      text: scenario.request.text,
      ...(scenario.request.language ? { language: scenario.request.language } : {}),
    },
    settings,
  };
}

function checkScenario(lab: Lab, scenario: Scenario): void {
  if (!Number.isInteger(scenario.maxNewTokens) || scenario.maxNewTokens < 1) {
    throw new EngineInputError(`The response length must be a whole number of tokens of 1 or more, not ${scenario.maxNewTokens}; the refusal judge needs a response to read.`);
  }
  if (scenario.request.text.trim() === '') throw new EngineInputError('The request is empty; type the request to test.');
  const head = scenario.mapHead;
  if (head && head !== 'top') {
    const { nLayer, nHead } = lab.model.config;
    if (!(head.layer >= 0 && head.layer < nLayer && head.head >= 0 && head.head < nHead)) {
      throw new EngineInputError(`There is no layer ${head.layer} head ${head.head} in this model; pick a layer below ${nLayer} and a head below ${nHead}.`);
    }
  }
  // Fails early on a bad layer range or head subset, before any step runs.
  defenseTemperatures(lab, scenario.defense);
}

/**
 * Attack steps one at a time: a written-out trajectory as it is, or the suffix search, which
 * yields the plain request (step 0), then its initial suffix and every accepted improvement.
 */
async function* attackSteps(
  lab: Lab,
  scenario: Scenario,
  options: RunOptions,
): AsyncGenerator<{ attack: AttackStep; score?: number }> {
  const { attack, request, system } = scenario;
  const plain: AttackStep = {
    step: 0,
    label: 'no attack',
    segments: [...(system ? [{ kind: 'system', text: system } as PromptSegment] : []), { kind: 'request', text: request.text }],
  };
  if (attack.kind === 'none') {
    yield { attack: plain };
    return;
  }
  if (attack.kind !== 'suffix') {
    for (const step of attack.steps) yield { attack: step };
    return;
  }
  const { tokenizer, model } = lab;
  const vocabulary = attack.vocabulary ?? suffixVocabulary(tokenizer, model.config.vocabSize);
  const targetIdsAfter = (prompt: BuiltPrompt): number[] => {
    // Encode prompt + target and keep what follows the prompt's tokens, so a merge of the
    // target's first characters with the template's last ones is honoured.
    const ids = tokenizer.encode(prompt.text + attack.target);
    const isPrefix = ids.length > prompt.tokens.length && prompt.tokens.every((t, i) => ids[i] === t);
    return isPrefix ? ids.slice(prompt.tokens.length) : tokenizer.encode(attack.target);
  };
  const stepFor = (suffix: readonly number[], step: number) =>
    suffixAttackStep(request.text, { step, iteration: 0, suffix: [...suffix], score: 0 }, tokenizer.decode(suffix), { system });
  const plainPrompt = promptFor(lab, plain);
  // Everything after the user message (the template's tail) is the same for every suffix, so the
  // target's ids after the prompt are too: fixed once, every candidate is scored on the same ids.
  const targetIds = targetIdsAfter(plainPrompt);
  const score = async (suffix: readonly number[], signal?: AbortSignal) => {
    const prompt = promptFor(lab, stepFor(suffix, 0));
    const logprobs = await model.logprobs(prompt.tokens, targetIds, signal);
    return logprobs.reduce((a, b) => a + b, 0);
  };
  const plainScore = (await model.logprobs(plainPrompt.tokens, targetIds, options.signal)).reduce((a, b) => a + b, 0);
  yield { attack: plain, score: plainScore };

  const searchOptions: SuffixSearchOptions = {
    vocabulary,
    seed: scenario.seeds.attack,
    iterations: attack.iterations,
    maxSteps: attack.maxSteps,
    suffixLength: attack.suffixLength ?? 20,
    candidatesPerIteration: attack.candidatesPerIteration ?? 1,
    signal: options.signal,
    onIteration: (iteration, best) =>
      options.onProgress?.({ phase: 'search', step: 0, iteration, iterations: attack.iterations, score: best }),
  };
  for await (const found of suffixSearch(score, searchOptions)) {
    const step = suffixAttackStep(request.text, found, tokenizer.decode(found.suffix), { system });
    yield { attack: { ...step, step: found.step + 1 }, score: found.score };
  }
}

/**
 * Runs a scenario to a Trace: every attack step undefended (temperature 1 everywhere) and, with a
 * defense, defended. Deterministic for the seeds (greedy decoding; seeded search and
 * perturbations). Cancelling the signal rejects with an AbortError; `onStep` has seen every step
 * finished before that.
 */
export async function runScenario(lab: Lab, scenario: Scenario, options: RunOptions = {}): Promise<Trace> {
  // Every step starts from an empty KV cache (setting temperatures clears it): a prefix reused from
  // whatever ran before would change the float rounding, and a seed must give the same trace.
  checkScenario(lab, scenario);
  const { model } = lab;
  const { signal, onProgress } = options;
  const ones = defenseTemperatures(lab, { kind: 'none' });
  const defended = scenario.defense.kind === 'none' ? undefined : scenario.defense;
  const temperatures = defended ? defenseTemperatures(lab, defended) : ones;
  const trace: Trace = { ...traceHeader(lab, scenario), steps: [] };
  const known = scenario.attack.kind === 'none' ? 1 : scenario.attack.kind === 'suffix' ? undefined : scenario.attack.steps.length;
  let map = scenario.mapHead === false ? undefined : scenario.mapHead === 'top' || scenario.mapHead === undefined ? undefined : scenario.mapHead;
  const pickTop = scenario.mapHead === undefined || scenario.mapHead === 'top';

  try {
    let index = 0;
    for await (const { attack, score } of attackSteps(lab, scenario, options)) {
      checkSignal(signal);
      onProgress?.({ phase: 'attack', step: index, steps: known });
      const prompt = promptFor(lab, attack);
      model.setAttentionTemperature(ones);
      let run = await measureRun(lab, prompt, { maxNewTokens: scenario.maxNewTokens, map, signal });
      if (pickTop && !map) {
        // The strongest safety head on the first step is the head whose map every step records.
        const [top] = topHeads(fromNested(run.requestMass.lastPrompt), 1);
        map = { layer: top.layer, head: top.head };
        run = await measureRun(lab, prompt, { maxNewTokens: scenario.maxNewTokens, map, signal });
      }
      let defendedRecord: TraceRun | undefined;
      if (defended) {
        checkSignal(signal);
        onProgress?.({ phase: 'defense', step: index, steps: known });
        model.setAttentionTemperature(temperatures);
        defendedRecord = await defendedRun(lab, attack, defended, {
          maxNewTokens: scenario.maxNewTokens,
          seed: stepSeed(scenario.seeds.defense, attack.step),
          map,
          signal,
          onCopy: (copy, copies) => onProgress?.({ phase: 'defense', step: index, steps: known, copy, copies }),
        });
        // The attack (a suffix search resumes after this) always sees the undefended model.
        model.setAttentionTemperature(ones);
      }
      const record: TraceStep = {
        step: attack.step,
        label: attack.label,
        segments: attack.segments.map((s) => ({ kind: s.kind, text: s.text, ...(s.tokenIds ? { tokenIds: [...s.tokenIds] } : {}) })),
        ...(score !== undefined ? { score } : {}),
        ...run,
        ...(defendedRecord ? { defended: defendedRecord } : {}),
      };
      trace.steps.push(record);
      options.onStep?.(record, trace);
      index++;
    }
  } finally {
    model.setAttentionTemperature(ones);
  }
  return traceSchema.parse(trace);
}

/**
 * The same trace with its defended runs re-run under another defense (the app's temperature
 * slider): the undefended runs are kept, each step's prompt is rebuilt from its recorded
 * segments. `none` removes the defended runs.
 */
export async function rerunDefense(lab: Lab, trace: Trace, defense: DefenseSpec, options: RunOptions & { seed?: number; label?: string; maxNewTokens?: number } = {}): Promise<Trace> {
  const { model } = lab;
  const ones = defenseTemperatures(lab, { kind: 'none' });
  const temperatures = defenseTemperatures(lab, defense);
  const seed = options.seed ?? trace.settings.seeds.defense ?? 0;
  const maxNewTokens = options.maxNewTokens ?? trace.settings.generation?.maxNewTokens ?? 32;
  const steps: TraceStep[] = [];
  const header: Trace = {
    ...trace,
    settings: {
      ...trace.settings,
      defense: {
        kind: defense.kind,
        ...(defense.kind !== 'none' ? { label: options.label ?? defenseLabel(defense) } : {}),
        settings: defenseSettings(defense),
      },
      seeds: { ...trace.settings.seeds, defense: seed },
    },
    steps,
  };
  try {
    for (const [index, step] of trace.steps.entries()) {
      checkSignal(options.signal);
      const { defended: _old, ...undefended } = step;
      if (defense.kind === 'none') {
        steps.push(undefended);
        continue;
      }
      if (!step.segments) throw new EngineInputError(`Step ${step.step} of this trace has no recorded prompt segments, so it cannot be re-run; run the scenario again.`);
      options.onProgress?.({ phase: 'defense', step: index, steps: trace.steps.length });
      model.setAttentionTemperature(temperatures);
      const attack: AttackStep = { step: step.step, label: step.label, segments: step.segments };
      const map = step.map ? { layer: step.map.layer, head: step.map.head } : undefined;
      const defendedRecord = await defendedRun(lab, attack, defense, {
        maxNewTokens,
        seed: stepSeed(seed, step.step),
        map,
        signal: options.signal,
        onCopy: (copy, copies) => options.onProgress?.({ phase: 'defense', step: index, steps: trace.steps.length, copy, copies }),
      });
      const record = { ...undefended, defended: defendedRecord };
      steps.push(record);
      options.onStep?.(record, header);
    }
  } finally {
    model.setAttentionTemperature(ones);
  }
  return traceSchema.parse(header);
}

function fromNested(matrix: readonly (readonly number[])[]): LayerHeadValues {
  const nLayer = matrix.length;
  const nHead = matrix[0]?.length ?? 0;
  return { nLayer, nHead, values: Float64Array.from(matrix.flat()) };
}

/** One head's (query × key) map over `tokens` at the temperatures currently set. */
async function headMap(
  lab: Lab,
  tokens: readonly number[],
  head: { readonly layer: number; readonly head: number },
  signal?: AbortSignal,
): Promise<NonNullable<TraceRun['map']>> {
  const result = await lab.model.generate(tokens, { maxNewTokens: 0, logits: 'none', attention: { rows: 'last-and-generated', map: head }, signal });
  const P = tokens.length;
  const data = result.attention!.map!.data;
  return { layer: head.layer, head: head.head, data: Array.from({ length: P }, (_, q) => Array.from(data.subarray(q * P, (q + 1) * P), round6)) };
}

/**
 * The full (query × key) attention map of one head over a run's prompt tokens, under the given
 * defense's temperatures (the app's matrix panel asks for heads the trace did not record).
 */
export async function computeMap(
  lab: Lab,
  tokens: readonly number[],
  head: { readonly layer: number; readonly head: number },
  defense: DefenseSpec = { kind: 'none' },
  signal?: AbortSignal,
): Promise<NonNullable<TraceRun['map']>> {
  const { model } = lab;
  const { nLayer, nHead } = model.config;
  if (!(head.layer >= 0 && head.layer < nLayer && head.head >= 0 && head.head < nHead)) {
    throw new EngineInputError(`There is no layer ${head.layer} head ${head.head} in this model; pick a layer below ${nLayer} and a head below ${nHead}.`);
  }
  model.setAttentionTemperature(defenseTemperatures(lab, defense));
  try {
    return await headMap(lab, tokens, head, signal);
  } finally {
    model.setAttentionTemperature(defenseTemperatures(lab, { kind: 'none' }));
  }
}
