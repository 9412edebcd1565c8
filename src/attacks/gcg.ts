// GCG (Zou et al. 2023, with nanoGCG's defaults), pure core: the model sits behind a GcgModel.

import { mulberry32 } from '../util/random';
import { AttackInputError, buildSegments, type AttackStep, type TrajectoryOptions } from './types';

/** nanoGCG's settings (DESIGN.md); the app starts smaller (GCG_APP_DEFAULTS). */
export const GCG_DEFAULTS = {
  /** 20 × "x": each " x" is one token in the tokenizers we ship (a leading space separates it from the request). */
  suffix: 'x x x x x x x x x x x x x x x x x x x x',
  target: 'Sure, here is',
  topK: 256,
  batch: 512,
  steps: 250,
} as const;

export const GCG_APP_DEFAULTS = { topK: 64, batch: 64, steps: 50 } as const;

/** What GCG asks of the model, for prompts that hold the request followed by a suffix. */
export interface GcgModel {
  /**
   * The target's mean cross-entropy after the prompt holding `suffix`, and its one-hot gradient
   * over the suffix positions: G = ∂L/∂e_suffix · Eᵀ, (suffix.length, vocabSize) row-major.
   */
  tokenGradient(suffix: readonly number[], signal?: AbortSignal): Promise<{ loss: number; oneHot: Float32Array }>;
  /** Each candidate's target cross-entropy, in order (the lab scores them in one GPU batch). */
  losses(candidates: readonly (readonly number[])[], signal?: AbortSignal): Promise<readonly number[]>;
  /** Whether greedy decoding after the prompt holding `suffix` gives the target's tokens. */
  reachesTarget(suffix: readonly number[], signal?: AbortSignal): Promise<boolean>;
}

export interface GcgOptions {
  /** Token ids of the starting suffix (GCG_DEFAULTS.suffix or the user's). */
  initialSuffix: readonly number[];
  /** Columns of the one-hot gradient (the model's vocabulary). */
  vocabSize: number;
  /** Token ids a suffix may take: printable ASCII, never special (BOS/EOS/PAD and the template's). */
  allowed: readonly number[];
  /** Whether decoding `ids` and encoding the text again gives `ids` back (nanoGCG's filter_ids). */
  retokenizes: (ids: readonly number[]) => boolean;
  /** GCG steps (nanoGCG's num_steps): each is one gradient and one batch of candidates. */
  steps: number;
  /** Tokens per position kept from −G (k). */
  topK: number;
  /** Candidates per step (B), each replacing one random position with a random top-k token. */
  batch: number;
  seed: number;
  /** After every step: its number, the budget and the lowest loss so far (progress). */
  onIteration?: (iteration: number, steps: number, loss: number) => void;
  signal?: AbortSignal;
}

export interface GcgStep {
  /** 0 is the initial suffix; otherwise the GCG step (1-based) whose best candidate was accepted. */
  step: number;
  suffix: number[];
  /** The target's mean cross-entropy with this suffix. */
  loss: number;
  /** The position that changed from the previous accepted suffix, and its new token. */
  changed?: { position: number; from: number; to: number };
}

export type GcgStop = 'steps' | 'target';

export interface GcgResult {
  steps: GcgStep[];
  stoppedBy: GcgStop;
}

const whole = (value: number, min: number) => Number.isInteger(value) && value >= min;

/** Refuses unusable settings with one sentence (the lab calls it before any step runs). */
export function checkGcgOptions(options: GcgOptions): void {
  const { initialSuffix, vocabSize, allowed, steps, topK, batch } = options;
  if (initialSuffix.length === 0) throw new AttackInputError('The GCG suffix has no tokens; type a starting suffix such as "x x x x x" or leave it empty for the default.');
  if (!initialSuffix.every((id) => whole(id, 0) && id < vocabSize)) throw new AttackInputError(`The GCG suffix holds a token id outside this model's vocabulary of ${vocabSize}; start from text the model's tokenizer encodes.`);
  if (allowed.length === 0) throw new AttackInputError('No token may appear in a GCG suffix (the tokenizer has no short printable-ASCII tokens); use another tokenizer.');
  if (!allowed.every((id) => whole(id, 0) && id < vocabSize)) throw new AttackInputError(`The GCG vocabulary holds an id outside the model's ${vocabSize} tokens; pass ids below ${vocabSize}.`);
  if (!whole(steps, 1)) throw new AttackInputError(`GCG needs a whole number of steps of 1 or more, not ${steps}; set the step count accordingly.`);
  if (!whole(topK, 1)) throw new AttackInputError(`GCG's top-k must be a whole number of 1 or more, not ${topK}; nanoGCG uses 256, the app 64.`);
  if (!whole(batch, 1)) throw new AttackInputError(`GCG's batch of candidates must be a whole number of 1 or more, not ${batch}; nanoGCG uses 512, the app 64.`);
}

/** One sentence for a target that tokenizes to nothing (or to blanks only). */
export function checkGcgTarget(target: string, targetIds: readonly number[]): void {
  if (targetIds.length === 0 || target.trim() === '') {
    throw new AttackInputError(`The GCG target "${target}" tokenizes to nothing; type the words the model should start its answer with, such as "Sure, here is".`);
  }
}

/**
 * One sentence for a prompt that cannot hold the suffix: `promptTokens` (the prompt with the suffix)
 * plus the target must fit in `limit` tokens (the model's context, or what its gradient takes).
 */
export function checkGcgFits(suffixTokens: number, promptTokens: number, targetTokens: number, limit: number): void {
  if (promptTokens + targetTokens > limit) {
    throw new AttackInputError(
      `The GCG suffix of ${suffixTokens} tokens does not fit: with the request, the chat template and the target the prompt is ${promptTokens + targetTokens} tokens, more than the ${limit} this model takes; use a shorter suffix or request.`,
    );
  }
}

function cancelled(): DOMException {
  return new DOMException('The GCG search was cancelled.', 'AbortError');
}

function checkSignal(signal?: AbortSignal): void {
  if (signal?.aborted) throw cancelled();
}

/**
 * Per suffix position, the `k` allowed tokens with the largest −G (the most promising swaps by the
 * linearised loss), best first; ties go to the lower id.
 */
export function topKByPosition(oneHot: Float32Array, positions: number, vocabSize: number, k: number, allowed: readonly number[]): number[][] {
  if (oneHot.length !== positions * vocabSize) throw new Error(`the one-hot gradient has ${oneHot.length} values, not ${positions} × ${vocabSize}`);
  const keep = Math.min(k, allowed.length);
  return Array.from({ length: positions }, (_, p) => {
    const row = oneHot.subarray(p * vocabSize, (p + 1) * vocabSize);
    // A sorted list of the best so far (smallest G first); most ids fail the first comparison.
    const ids: number[] = [];
    const values: number[] = [];
    for (const id of allowed) {
      const g = row[id];
      if (Number.isNaN(g)) throw new Error(`the one-hot gradient is NaN at suffix position ${p}, token ${id}`);
      if (ids.length === keep && !(g < values[keep - 1] || (g === values[keep - 1] && id < ids[keep - 1]))) continue;
      let at = ids.length;
      while (at > 0 && (values[at - 1] > g || (values[at - 1] === g && ids[at - 1] > id))) at--;
      ids.splice(at, 0, id);
      values.splice(at, 0, g);
      if (ids.length > keep) (ids.pop(), values.pop());
    }
    return ids;
  });
}

/**
 * B candidates, each the current suffix with one uniformly random position replaced by a uniformly
 * random token of that position's top-k (n_replace = 1, as nanoGCG's default). Draws every
 * candidate before any is scored, so scoring never touches the random stream.
 */
export function sampleCandidates(current: readonly number[], topK: readonly (readonly number[])[], batch: number, random: () => number): { suffix: number[]; position: number }[] {
  return Array.from({ length: batch }, () => {
    const position = Math.floor(random() * current.length);
    const choices = topK[position];
    const suffix = [...current];
    suffix[position] = choices[Math.floor(random() * choices.length)];
    return { suffix, position };
  });
}

/**
 * GCG: each step computes the one-hot gradient of the target loss at the current suffix, draws B
 * one-token swaps from each position's top-k of −G, drops candidates that would not survive
 * decode → encode (and duplicates, and the current suffix itself), scores the rest, and accepts
 * the best when its loss is lower than the current one. Yields the initial suffix (step 0) and
 * every accepted suffix, so the losses along the yielded steps only go down; stops early once
 * greedy decoding gives the target.
 *
 * Deterministic for a seed and a deterministic model. Cancelling the signal makes the generator
 * throw an AbortError; the steps yielded so far stand.
 */
export async function* gcgSearch(model: GcgModel, options: GcgOptions): AsyncGenerator<GcgStep, GcgResult> {
  checkGcgOptions(options);
  const { steps: budget, topK, batch, vocabSize, allowed, retokenizes, signal } = options;
  const random = mulberry32(options.seed);
  let current = [...options.initialSuffix];
  checkSignal(signal);
  let gradient: { loss: number; oneHot: Float32Array } | undefined = await model.tokenGradient(current, signal);
  checkSignal(signal);
  let loss = gradient.loss;
  const steps: GcgStep[] = [{ step: 0, suffix: [...current], loss }];
  yield steps[0];
  checkSignal(signal);
  if (await model.reachesTarget(current, signal)) return { steps, stoppedBy: 'target' };

  for (let iteration = 1; iteration <= budget; iteration++) {
    checkSignal(signal);
    // The gradient only changes with the suffix: a step that accepted nothing reuses it.
    gradient ??= await model.tokenGradient(current, signal);
    checkSignal(signal);
    const best = topKByPosition(gradient.oneHot, current.length, vocabSize, topK, allowed);
    const seen = new Set<string>([current.join(',')]);
    const candidates = sampleCandidates(current, best, batch, random).filter(({ suffix }) => {
      const key = suffix.join(',');
      if (seen.has(key)) return false;
      seen.add(key);
      return retokenizes(suffix);
    });
    let winner: { suffix: number[]; position: number; loss: number } | undefined;
    if (candidates.length > 0) {
      const losses = await model.losses(candidates.map((c) => c.suffix), signal);
      checkSignal(signal);
      if (losses.length !== candidates.length) throw new Error(`the GCG loss callback returned ${losses.length} losses for ${candidates.length} candidates`);
      losses.forEach((value, c) => {
        if (Number.isNaN(value)) throw new Error(`the GCG loss of candidate ${c} at step ${iteration} is NaN`);
        if (!winner || value < winner.loss) winner = { ...candidates[c], loss: value };
      });
    }
    const accepted = winner && winner.loss < loss ? winner : undefined;
    options.onIteration?.(iteration, budget, accepted ? accepted.loss : loss);
    if (!accepted) continue;
    const previous = current;
    current = accepted.suffix;
    loss = accepted.loss;
    gradient = undefined;
    const step: GcgStep = { step: iteration, suffix: [...current], loss, changed: { position: accepted.position, from: previous[accepted.position], to: current[accepted.position] } };
    steps.push(step);
    yield step;
    checkSignal(signal);
    if (await model.reachesTarget(current, signal)) return { steps, stoppedBy: 'target' };
  }
  return { steps, stoppedBy: 'steps' };
}

/** Runs GCG to the end, calling `onStep` for each yielded step; returns every step and why it stopped. */
export async function runGcg(model: GcgModel, options: GcgOptions, onStep?: (step: GcgStep) => void): Promise<GcgResult> {
  const search = gcgSearch(model, options);
  for (;;) {
    const next = await search.next();
    if (next.done) return next.value;
    onStep?.(next.value);
  }
}

/** The label of a GCG step as the trace records it (the app translates it). */
export const gcgStepLabel = (step: number) => (step === 0 ? 'initial suffix' : `GCG step ${step}`);

/**
 * The attack step for a GCG step: the request followed by the suffix. The suffix's exact ids travel
 * in the segment's `tokenIds` (its leading space, the separator, is part of them).
 */
export function gcgAttackStep(request: string, found: GcgStep, suffixText: string, options: TrajectoryOptions = {}): AttackStep {
  return {
    step: found.step,
    label: gcgStepLabel(found.step),
    segments: buildSegments(options.system, [
      { kind: 'request', text: request },
      { kind: 'suffix', text: suffixText, tokenIds: [...found.suffix] },
    ]),
  };
}
