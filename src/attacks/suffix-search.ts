// Random-search suffix attack (Andriushchenko et al. 2024), pure core: the model is behind a scorer callback.

import { mulberry32 } from '../util/random';
import { AttackInputError, buildSegments, type AttackStep, type TrajectoryOptions } from './types';

/**
 * Scores a candidate suffix: the log-probability of the affirmative target ("Sure, here is …")
 * after request + suffix. Higher is better for the attack. The lab runner supplies it (engine
 * `logprobs`, summed over the target tokens).
 */
export type SuffixScorer = (suffixTokenIds: readonly number[], signal?: AbortSignal) => Promise<number>;

/**
 * Scores several candidate suffixes at once, the score of each in order: the same numbers the
 * `SuffixScorer` would give one by one (the lab scores an iteration's candidates in one GPU batch).
 */
export type SuffixBatchScorer = (suffixes: readonly (readonly number[])[], signal?: AbortSignal) => Promise<readonly number[]>;

export interface SuffixSearchOptions {
  /** Token ids a suffix may contain (e.g. the tokenizer's plain-text tokens). */
  vocabulary: readonly number[];
  seed: number;
  /** Iteration budget: candidates proposed after the initial suffix. */
  iterations: number;
  /** Step budget: the search stops after this many accepted improvements. Default: no limit. */
  maxSteps?: number;
  /** Start suffix; the paper uses 25 × "!". Default: `suffixLength` random vocabulary tokens. */
  initialSuffix?: readonly number[];
  /** Default 25 (the paper's). Ignored when `initialSuffix` is given. */
  suffixLength?: number;
  /** Most positions changed per iteration at the start (the paper's n_tokens_change_max = 4). */
  maxChunk?: number;
  /** Stop as soon as the score reaches this (e.g. log p of the target's first token ≈ 0). */
  targetScore?: number;
  /**
   * Candidates proposed per iteration (default 1, the paper's): each overwrites its own random
   * chunk of the current best, all are scored, and the best of them competes with the current
   * suffix. More candidates buy steadier progress per accepted step for more scorer calls.
   */
  candidatesPerIteration?: number;
  /** Scores each iteration's candidates in one call; default: `score` on each in turn. */
  scoreBatch?: SuffixBatchScorer;
  /** Called after every iteration with the best score so far (progress). */
  onIteration?: (iteration: number, bestScore: number) => void;
  signal?: AbortSignal;
}

export interface SuffixSearchStep {
  /** 0 is the initial suffix; 1, 2, … are the accepted improvements in order. */
  step: number;
  /** The iteration whose candidate this is (0 for the initial suffix). */
  iteration: number;
  suffix: number[];
  score: number;
  /** The positions that changed from the previous step. */
  changed?: { start: number; size: number };
}

export type SuffixSearchStop = 'iterations' | 'steps' | 'target';

export interface SuffixSearchResult {
  steps: SuffixSearchStep[];
  /** Iterations actually used (≤ `iterations`). */
  iterations: number;
  stoppedBy: SuffixSearchStop;
}

/**
 * Chunk size at a (1-based) iteration: the paper's piecewise-constant schedule, which halves
 * the number of changed tokens after iterations 10, 25, 50, 100 and 500, down to 1.
 */
export function chunkSizeAt(iteration: number, maxChunk: number): number {
  const divisor = iteration <= 10 ? 1 : iteration <= 25 ? 2 : iteration <= 50 ? 4 : iteration <= 100 ? 8 : iteration <= 500 ? 16 : 32;
  return Math.max(1, Math.floor(maxChunk / divisor));
}

function checkOptions(options: SuffixSearchOptions): void {
  const { vocabulary, iterations, maxSteps, initialSuffix, suffixLength = 25, maxChunk = 4 } = options;
  const whole = (value: number, min: number) => Number.isInteger(value) && value >= min;
  if (vocabulary.length === 0) throw new AttackInputError('The suffix vocabulary is empty; allow at least one token id in the suffix.');
  if (!vocabulary.every((id) => whole(id, 0))) throw new AttackInputError('The suffix vocabulary holds something that is not a token id; pass whole numbers of 0 or more.');
  if (!whole(iterations, 0)) throw new AttackInputError(`The iteration budget must be a whole number of 0 or more, not ${iterations}; set iterations accordingly.`);
  if (maxSteps !== undefined && !whole(maxSteps, 1)) throw new AttackInputError(`The step budget must be a whole number of 1 or more, not ${maxSteps}; set maxSteps accordingly.`);
  if (!whole(options.candidatesPerIteration ?? 1, 1))
    throw new AttackInputError(`candidatesPerIteration must be a whole number of 1 or more, not ${options.candidatesPerIteration}; 1 is the paper's setting.`);
  if (!whole(maxChunk, 1)) throw new AttackInputError(`maxChunk must be a whole number of 1 or more, not ${maxChunk}; the paper uses 4.`);
  if (initialSuffix ? initialSuffix.length === 0 : !whole(suffixLength, 1)) {
    throw new AttackInputError('The suffix must be at least one token long; give a longer initial suffix or suffixLength.');
  }
}

function cancelled(): DOMException {
  return new DOMException('The suffix search was cancelled.', 'AbortError');
}

function checkedScore(value: number, iteration: number, signal?: AbortSignal): number {
  if (signal?.aborted) throw cancelled();
  if (Number.isNaN(value)) {
    throw new AttackInputError(`The suffix scorer returned NaN at iteration ${iteration}; check that the target text tokenises to at least one token.`);
  }
  return value;
}

async function scoreChecked(score: SuffixScorer, suffix: readonly number[], iteration: number, signal?: AbortSignal): Promise<number> {
  if (signal?.aborted) throw cancelled();
  return checkedScore(await score(suffix, signal), iteration, signal);
}

/** Every candidate's score, in order: one batch call, or one call each. */
async function scoreAll(score: SuffixScorer, candidates: readonly number[][], iteration: number, options: SuffixSearchOptions): Promise<number[]> {
  const { scoreBatch, signal } = options;
  if (!scoreBatch || candidates.length === 0) {
    const scores: number[] = [];
    for (const candidate of candidates) scores.push(await scoreChecked(score, candidate, iteration, signal));
    return scores;
  }
  if (signal?.aborted) throw cancelled();
  const scores = await scoreBatch(candidates, signal);
  if (scores.length !== candidates.length) throw new Error(`the batch scorer returned ${scores.length} scores for ${candidates.length} candidates`);
  return scores.map((value) => checkedScore(value, iteration, signal));
}

/**
 * Random search: each iteration overwrites a random contiguous chunk of the current best suffix
 * with random vocabulary tokens (the chunk shrinks over iterations, see chunkSizeAt) and keeps
 * the candidate only if its score is strictly higher. Yields the initial suffix (step 0) and
 * then every accepted improvement, so scores along the yielded steps only go up.
 *
 * Deterministic for a seed and a deterministic scorer. A candidate identical to the current
 * suffix uses up its iteration without calling the scorer. Cancelling the signal makes the
 * generator throw an AbortError; the steps yielded so far stand.
 */
export async function* suffixSearch(score: SuffixScorer, options: SuffixSearchOptions): AsyncGenerator<SuffixSearchStep, SuffixSearchResult> {
  checkOptions(options);
  const { vocabulary, iterations, maxSteps = Infinity, maxChunk = 4, targetScore = Infinity, signal } = options;
  const random = mulberry32(options.seed);
  const randomToken = () => vocabulary[Math.floor(random() * vocabulary.length)];

  let best = options.initialSuffix ? [...options.initialSuffix] : Array.from({ length: options.suffixLength ?? 25 }, randomToken);
  let bestScore = await scoreChecked(score, best, 0, signal);
  const steps: SuffixSearchStep[] = [{ step: 0, iteration: 0, suffix: [...best], score: bestScore }];
  yield steps[0];
  if (bestScore >= targetScore) return { steps, iterations: 0, stoppedBy: 'target' };

  const perIteration = options.candidatesPerIteration ?? 1;
  for (let iteration = 1; iteration <= iterations; iteration++) {
    const size = Math.min(chunkSizeAt(iteration, maxChunk), best.length);
    // Every candidate is drawn before any is scored (scoring never touches the random stream).
    const candidates: { suffix: number[]; start: number }[] = [];
    for (let c = 0; c < perIteration; c++) {
      const start = Math.floor(random() * (best.length - size + 1));
      const candidate = [...best];
      for (let position = start; position < start + size; position++) candidate[position] = randomToken();
      if (candidate.every((id, i) => id === best[i])) continue;
      candidates.push({ suffix: candidate, start });
    }
    const scores = await scoreAll(score, candidates.map((c) => c.suffix), iteration, options);
    let winner: { suffix: number[]; score: number; start: number } | undefined;
    for (const [c, candidate] of candidates.entries()) if (!winner || scores[c] > winner.score) winner = { ...candidate, score: scores[c] };
    options.onIteration?.(iteration, Math.max(bestScore, winner?.score ?? -Infinity));
    if (!winner || !(winner.score > bestScore)) continue;
    best = winner.suffix;
    bestScore = winner.score;
    const accepted: SuffixSearchStep = { step: steps.length, iteration, suffix: [...best], score: bestScore, changed: { start: winner.start, size } };
    steps.push(accepted);
    yield accepted;
    if (bestScore >= targetScore) return { steps, iterations: iteration, stoppedBy: 'target' };
    if (steps.length - 1 >= maxSteps) return { steps, iterations: iteration, stoppedBy: 'steps' };
  }
  return { steps, iterations, stoppedBy: 'iterations' };
}

/** Runs the search to the end, calling `onStep` for each yielded step; returns every step and why it stopped. */
export async function runSuffixSearch(
  score: SuffixScorer,
  options: SuffixSearchOptions,
  onStep?: (step: SuffixSearchStep) => void,
): Promise<SuffixSearchResult> {
  const search = suffixSearch(score, options);
  for (;;) {
    const next = await search.next();
    if (next.done) return next.value;
    onStep?.(next.value);
  }
}

/**
 * The attack step for a search step: the request followed by the suffix. `suffixText` is the
 * decoded suffix (for display and spans); its exact ids travel in the segment's `tokenIds`, so
 * any separator between request and suffix must be part of the suffix ids themselves.
 */
export function suffixAttackStep(request: string, found: SuffixSearchStep, suffixText: string, options: TrajectoryOptions = {}): AttackStep {
  return {
    step: found.step,
    label: found.step === 0 ? 'initial suffix' : `improvement ${found.step}`,
    segments: buildSegments(options.system, [
      { kind: 'request', text: request },
      { kind: 'suffix', text: suffixText, tokenIds: [...found.suffix] },
    ]),
  };
}
