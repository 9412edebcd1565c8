// Attack drivers: the steps of an attack, one at a time. A written-out trajectory (ICA, ladder,
// custom) as it is; the suffix search driven by the model's log-probabilities of the target, which
// yields the plain request, then its initial suffix and every accepted improvement. GCG comes next.

import { suffixAttackStep, suffixSearch, type SuffixBatchScorer, type SuffixScorer, type SuffixSearchOptions } from '../attacks/suffix-search';
import type { AttackStep, PromptSegment } from '../attacks/types';
import { MAX_SCORED_CONTINUATION, type LoadedModel } from '../engine/api';
import { buildPrompt, type BuiltPrompt } from '../tokenizer/prompt';
import type { Lab, Scenario, SuffixAttackSpec } from './scenario';
import { suffixVocabulary } from './suffix-vocabulary';

export interface DrivenStep {
  readonly attack: AttackStep;
  /** The attack's own objective at this step (suffix search: log p of the target). */
  readonly score?: number;
}

export interface DriverOptions {
  readonly signal?: AbortSignal;
  /** Suffix search: candidates scored so far of the budget, and the best score. */
  readonly onSearch?: (iteration: number, iterations: number, best: number) => void;
}

/** The un-attacked prompt: the request alone (after the system prompt, if any). */
export function plainStep(scenario: Scenario): AttackStep {
  const { system, request } = scenario;
  return {
    step: 0,
    label: 'no attack',
    segments: [...(system ? [{ kind: 'system', text: system } as PromptSegment] : []), { kind: 'request', text: request.text }],
  };
}

/** The scenario's attack steps, in order. */
export async function* attackSteps(lab: Lab, scenario: Scenario, options: DriverOptions): AsyncGenerator<DrivenStep> {
  const { attack } = scenario;
  if (attack.kind === 'none') {
    yield { attack: plainStep(scenario) };
  } else if (attack.kind === 'suffix') {
    yield* suffixSteps(lab, scenario, attack, options);
  } else {
    for (const step of attack.steps) yield { attack: step };
  }
}

/** A candidate's score: log p of the whole target. */
const total = (logprobs: Float64Array) => logprobs.reduce((a, b) => a + b, 0);

/**
 * The suffix search. Candidates are always scored on the undefended model (the runner's defense
 * puts temperature 1 back after each defended run), on one set of target ids, and share the
 * cached prompt up to the suffix; an iteration's candidates are scored in one batch.
 */
async function* suffixSteps(lab: Lab, scenario: Scenario, attack: SuffixAttackSpec, options: DriverOptions): AsyncGenerator<DrivenStep> {
  const { tokenizer, model } = lab;
  const { request, system } = scenario;
  const vocabulary = attack.vocabulary ?? suffixVocabulary(tokenizer, model.config.vocabSize);
  const plain = plainStep(scenario);
  const plainPrompt = buildPrompt(tokenizer, plain.segments);
  // Everything after the user message (the template's tail) is the same for every suffix, so the
  // target's ids after the prompt are too: fixed once, every candidate is scored on the same ids.
  const targetIds = targetIdsAfter(lab, plainPrompt, attack.target);
  const stepFor = (suffix: readonly number[]) =>
    suffixAttackStep(request.text, { step: 0, iteration: 0, suffix: [...suffix], score: 0 }, tokenizer.decode(suffix), { system });
  const promptOf = (suffix: readonly number[]) => buildPrompt(tokenizer, stepFor(suffix).segments).tokens;
  const score: SuffixScorer = async (suffix, signal) => total(await model.logprobs(promptOf(suffix), targetIds, { signal, reuse: 'prefix' }));
  // The plain request's score starts from an empty cache: it must not depend on what ran before.
  yield { attack: plain, score: total(await model.logprobs(plainPrompt.tokens, targetIds, { signal: options.signal, reuse: 'none' })) };

  const searchOptions: SuffixSearchOptions = {
    vocabulary,
    seed: scenario.seeds.attack,
    iterations: attack.iterations,
    maxSteps: attack.maxSteps,
    suffixLength: attack.suffixLength ?? 20,
    candidatesPerIteration: attack.candidatesPerIteration ?? 1,
    scoreBatch: batchScorer(model, promptOf, targetIds, score),
    signal: options.signal,
    onIteration: (iteration, best) => options.onSearch?.(iteration, attack.iterations, best),
  };
  for await (const found of suffixSearch(score, searchOptions)) {
    const step = suffixAttackStep(request.text, found, tokenizer.decode(found.suffix), { system });
    yield { attack: { ...step, step: found.step + 1 }, score: found.score };
  }
}

/**
 * Scores candidates with `logprobsBatch`: those whose prompts have one length form a batch after
 * the prefix their prompts share (the template, the request, the suffix up to the first changed
 * token), each continuation scored on the target's tokens. A lone candidate, or a group whose
 * prompts share no token or differ too early, is scored by `score` like before.
 */
export function batchScorer(model: LoadedModel, promptOf: (suffix: readonly number[]) => readonly number[], targetIds: readonly number[], score: SuffixScorer): SuffixBatchScorer {
  return async (suffixes, signal) => {
    const prompts = suffixes.map(promptOf);
    const scores: number[] = [];
    const byLength = new Map<number, number[]>();
    for (const [i, prompt] of prompts.entries()) byLength.set(prompt.length, [...(byLength.get(prompt.length) ?? []), i]);
    for (const group of byLength.values()) {
      const sequences = group.map((i) => [...prompts[i], ...targetIds]);
      const shared = Math.min(commonPrefixLength(sequences), prompts[group[0]].length);
      const length = sequences[0].length - shared;
      if (group.length === 1 || shared === 0 || targetIds.length === 0 || length > MAX_SCORED_CONTINUATION) {
        for (const i of group) scores[i] = await score(suffixes[i], signal);
        continue;
      }
      const continuations = sequences.map((sequence) => sequence.slice(shared));
      const logprobs = await model.logprobsBatch(sequences[0].slice(0, shared), continuations, { signal, reuse: 'prefix', scoreLast: targetIds.length });
      group.forEach((i, g) => (scores[i] = total(logprobs[g])));
    }
    return scores;
  };
}

/** Length of the prefix all sequences share. */
function commonPrefixLength(sequences: readonly (readonly number[])[]): number {
  const [first, ...rest] = sequences;
  let n = 0;
  while (n < first.length && rest.every((s) => n < s.length && s[n] === first[n])) n++;
  return n;
}

/**
 * The target's ids as they follow the prompt: prompt + target encoded together, keeping what
 * follows the prompt's tokens, so a merge of the target's first characters with the template's
 * last ones is honoured.
 */
function targetIdsAfter(lab: Lab, prompt: BuiltPrompt, target: string): number[] {
  const ids = lab.tokenizer.encode(prompt.text + target);
  const isPrefix = ids.length > prompt.tokens.length && prompt.tokens.every((t, i) => ids[i] === t);
  return isPrefix ? ids.slice(prompt.tokens.length) : lab.tokenizer.encode(target);
}
