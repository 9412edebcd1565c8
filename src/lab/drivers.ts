// Attack drivers: the steps of an attack, one at a time. A written-out trajectory (ICA, ladder,
// custom) as it is; the suffix search driven by the model's log-probabilities of the target, which
// yields the plain request, then its initial suffix and every accepted improvement. GCG comes next.

import { suffixAttackStep, suffixSearch, type SuffixSearchOptions } from '../attacks/suffix-search';
import type { AttackStep, PromptSegment } from '../attacks/types';
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

/**
 * The suffix search. Candidates are always scored on the undefended model (the runner's defense
 * puts temperature 1 back after each defended run), on one set of target ids, and share the
 * cached prompt up to the suffix.
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
  const total = (logprobs: Float64Array) => logprobs.reduce((a, b) => a + b, 0);
  const score = async (suffix: readonly number[], signal?: AbortSignal) =>
    total(await model.logprobs(buildPrompt(tokenizer, stepFor(suffix).segments).tokens, targetIds, { signal, reuse: 'prefix' }));
  // The plain request's score starts from an empty cache: it must not depend on what ran before.
  yield { attack: plain, score: total(await model.logprobs(plainPrompt.tokens, targetIds, { signal: options.signal, reuse: 'none' })) };

  const searchOptions: SuffixSearchOptions = {
    vocabulary,
    seed: scenario.seeds.attack,
    iterations: attack.iterations,
    maxSteps: attack.maxSteps,
    suffixLength: attack.suffixLength ?? 20,
    candidatesPerIteration: attack.candidatesPerIteration ?? 1,
    signal: options.signal,
    onIteration: (iteration, best) => options.onSearch?.(iteration, attack.iterations, best),
  };
  for await (const found of suffixSearch(score, searchOptions)) {
    const step = suffixAttackStep(request.text, found, tokenizer.decode(found.suffix), { system });
    yield { attack: { ...step, step: found.step + 1 }, score: found.score };
  }
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
