// The lab runner: a scenario on a loaded model → a Trace. It composes the attack's driver (its
// steps), the measurement of each run, and the defense; the same code runs in the browser worker
// and in the Node CLI, so the app and `eval` write the same traces.

import { topHeads } from '../analysis/slipping';
import { fromNested } from '../analysis/mass';
import type { AttackStep } from '../attacks/types';
import { EngineInputError } from '../errors';
import { buildPrompt } from '../tokenizer/prompt';
import { defenseFor, stepSeed, type Defense } from './defend';
import { attackSteps } from './drivers';
import { defenseRecord, traceHeader } from './header';
import { checkSignal, headMap, MAX_MAP_TOKENS, measureRun, type HeadRef } from './measure';
import { checkHead, checkScenario, defenseLabel, defenseTemperatures, type DefenseSpec, type Lab, type Scenario } from './scenario';
import { traceSchema, type Trace, type TraceRun, type TraceStep } from './trace';

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
  /** Lowest target loss so far (GCG). */
  readonly loss?: number;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: LabProgress) => void;
  /** Each finished step, in order, with the trace so far (valid as it stands). */
  readonly onStep?: (step: TraceStep, trace: Trace) => void;
}

const recordedSegments = (attack: AttackStep) => attack.segments.map((s) => ({ kind: s.kind, text: s.text, ...(s.tokenIds ? { tokenIds: [...s.tokenIds] } : {}) }));

/**
 * Runs a scenario to a Trace: every attack step undefended (temperature 1 everywhere) and, with a
 * defense, defended. Deterministic for the seeds: greedy decoding, seeded search and perturbations,
 * and every measured run computed afresh (no KV cache carried over from what ran before).
 * Cancelling the signal rejects with an AbortError; `onStep` has seen every step finished before that.
 */
export async function runScenario(lab: Lab, scenario: Scenario, options: RunOptions = {}): Promise<Trace> {
  checkScenario(lab, scenario);
  const { signal, onProgress } = options;
  const defense = defenseFor(lab, scenario.defense);
  const comparisons = defensesFor(lab, scenario.compare);
  const trace: Trace = { ...traceHeader(lab, scenario), steps: [] };
  const known = scenario.attack.kind === 'none' ? 1 : scenario.attack.kind === 'suffix' || scenario.attack.kind === 'gcg' ? undefined : scenario.attack.steps.length;
  // 'top' (the default) picks the head with the most request mass on the first step.
  let map: HeadRef | undefined = typeof scenario.mapHead === 'object' ? scenario.mapHead : undefined;
  const pickTop = scenario.mapHead === undefined || scenario.mapHead === 'top';
  lab.model.setAttentionTemperature(defenseTemperatures(lab, { kind: 'none' }));

  const driven = attackSteps(lab, scenario, {
    signal,
    onSearch: (iteration, iterations, score) => onProgress?.({ phase: 'search', step: 0, iteration, iterations, score }),
    onGcg: (iteration, iterations, loss) => onProgress?.({ phase: 'search', step: 0, iteration, iterations, loss }),
  });
  let index = 0;
  for await (const { attack, score, loss } of driven) {
    checkSignal(signal);
    onProgress?.({ phase: 'attack', step: index, steps: known });
    const prompt = buildPrompt(lab.tokenizer, attack.segments);
    let run = await measureRun(lab, prompt, { maxNewTokens: scenario.maxNewTokens, map, signal });
    if (pickTop && !map) {
      // The strongest safety head on the first step is the head whose map every step records.
      const [top] = topHeads(fromNested(run.requestMass.lastPrompt), 1);
      map = { layer: top.layer, head: top.head };
      if (prompt.tokens.length <= MAX_MAP_TOKENS) run = { ...run, map: await headMap(lab, prompt.tokens, map, signal) };
    }
    const settings = { maxNewTokens: scenario.maxNewTokens, seed: scenario.seeds.defense, map, signal };
    const defended = defense && (await defendStep(defense, attack, settings, index, known, onProgress));
    const compared = await compareStep(comparisons, attack, settings, index, known, onProgress);
    const record: TraceStep = {
      step: attack.step,
      label: attack.label,
      segments: recordedSegments(attack),
      ...(score !== undefined ? { score } : {}),
      ...(loss !== undefined ? { loss } : {}),
      ...run,
      ...(defended ? { defended } : {}),
      ...(compared.length > 0 ? { compared } : {}),
    };
    trace.steps.push(record);
    options.onStep?.(record, trace);
    index++;
  }
  return traceSchema.parse(trace);
}

/** The runs of the defenses compared side by side with the defended run, in order. */
async function compareStep(
  defenses: readonly Defense[],
  attack: AttackStep,
  settings: { maxNewTokens: number; seed: number; map?: HeadRef; signal?: AbortSignal },
  index: number,
  steps: number | undefined,
  onProgress: RunOptions['onProgress'],
): Promise<NonNullable<TraceStep['compared']>> {
  const runs: NonNullable<TraceStep['compared']> = [];
  for (const defense of defenses) {
    runs.push({ kind: defense.spec.kind, label: defenseLabel(defense.spec), run: await defendStep(defense, attack, settings, index, steps, onProgress) });
  }
  return runs;
}

/** The defenses a list of specs describes, `none` left out. */
const defensesFor = (lab: Lab, specs: readonly DefenseSpec[] = []) => specs.flatMap((spec) => defenseFor(lab, spec) ?? []);

function defendStep(
  defense: Defense,
  attack: AttackStep,
  settings: { maxNewTokens: number; seed: number; map?: HeadRef; signal?: AbortSignal },
  index: number,
  steps: number | undefined,
  onProgress: RunOptions['onProgress'],
): Promise<TraceRun> {
  checkSignal(settings.signal);
  onProgress?.({ phase: 'defense', step: index, steps });
  return defense.run(attack, {
    ...settings,
    seed: stepSeed(settings.seed, attack.step),
    onCopy: (copy, copies) => onProgress?.({ phase: 'defense', step: index, steps, copy, copies }),
  });
}

/**
 * The same trace with its defended runs re-run under another defense (the app's temperature
 * slider): the undefended runs are kept, each step's prompt is rebuilt from its recorded
 * segments. `none` removes the defended runs.
 */
export async function rerunDefense(
  lab: Lab,
  trace: Trace,
  spec: DefenseSpec,
  /** `compare`: re-run the side-by-side defenses as these (empty: none); absent: keep the recorded ones. */
  options: RunOptions & { seed?: number; label?: string; maxNewTokens?: number; compare?: readonly DefenseSpec[] } = {},
): Promise<Trace> {
  const defense = defenseFor(lab, spec);
  const comparisons = options.compare && defensesFor(lab, options.compare);
  const seed = options.seed ?? trace.settings.seeds.defense ?? 0;
  const maxNewTokens = options.maxNewTokens ?? trace.settings.generation?.maxNewTokens ?? 32;
  const steps: TraceStep[] = [];
  const { compare: oldCompare, ...settings } = trace.settings;
  const compare = comparisons ? comparisons.map((c) => defenseRecord(c.spec)) : oldCompare;
  const header: Trace = {
    ...trace,
    settings: { ...settings, defense: defenseRecord(spec, options.label), ...(compare?.length ? { compare } : {}), seeds: { ...trace.settings.seeds, defense: seed } },
    steps,
  };
  for (const [index, step] of trace.steps.entries()) {
    checkSignal(options.signal);
    const { defended: _old, compared: oldCompared, ...undefended } = step;
    const kept = comparisons ? undefined : oldCompared;
    if (!defense && !comparisons?.length) {
      steps.push({ ...undefended, ...(kept ? { compared: kept } : {}) });
      continue;
    }
    if (!step.segments) throw new EngineInputError(`Step ${step.step} of this trace has no recorded prompt segments, so it cannot be re-run; run the scenario again.`);
    const attack: AttackStep = { step: step.step, label: step.label, segments: step.segments };
    const map = step.map ? { layer: step.map.layer, head: step.map.head } : undefined;
    const runSettings = { maxNewTokens, seed, map, signal: options.signal };
    const defended = defense && (await defendStep(defense, attack, runSettings, index, trace.steps.length, options.onProgress));
    const compared = comparisons ? await compareStep(comparisons, attack, runSettings, index, trace.steps.length, options.onProgress) : kept;
    const record = { ...undefended, ...(defended ? { defended } : {}), ...(compared?.length ? { compared } : {}) };
    steps.push(record);
    options.onStep?.(record, header);
  }
  return traceSchema.parse(header);
}

/**
 * The full (query × key) attention map of one head over a run's prompt tokens, under the given
 * defense's temperatures (the app's matrix panel asks for heads the trace did not record).
 */
export async function computeMap(
  lab: Lab,
  tokens: readonly number[],
  head: HeadRef,
  spec: DefenseSpec = { kind: 'none' },
  signal?: AbortSignal,
  /** The run's embedding factors (Token Highlighter's, see runEmbeddingScales); absent = all 1. */
  embeddingScales?: readonly number[],
): Promise<NonNullable<TraceRun['map']>> {
  checkHead(lab, head);
  lab.model.setAttentionTemperature(defenseTemperatures(lab, spec));
  try {
    return await headMap(lab, tokens, head, signal, embeddingScales);
  } finally {
    lab.model.setAttentionTemperature(defenseTemperatures(lab, { kind: 'none' }));
  }
}
