// Attack drivers: the steps of an attack, one at a time. A written-out trajectory (ICA, ladder,
// custom) as it is; the suffix search driven by the model's log-probabilities of the target, which
// yields the plain request, then its initial suffix and every accepted improvement; GCG driven by
// the engine's gradient and batched candidate scores, which yields the same, one accepted suffix each.

import { checkGcgFits, checkGcgOptions, checkGcgTarget, gcgAttackStep, gcgSearch, GCG_DEFAULTS, type GcgModel, type GcgOptions } from '../attacks/gcg';
import { suffixAttackStep, suffixSearch, type SuffixBatchScorer, type SuffixScorer, type SuffixSearchOptions } from '../attacks/suffix-search';
import type { AttackStep, PromptSegment } from '../attacks/types';
import { MAX_GRADIENT_TOKENS, MAX_SCORED_CONTINUATION, type LoadedModel } from '../engine/api';
import { buildPrompt, type BuiltPrompt } from '../tokenizer/prompt';
import type { GcgAttackSpec, Lab, Scenario, SuffixAttackSpec } from './scenario';
import { gcgVocabulary, suffixVocabulary } from './suffix-vocabulary';

export interface DrivenStep {
  readonly attack: AttackStep;
  /** The attack's own objective at this step (suffix search: log p of the target). */
  readonly score?: number;
  /** GCG: the target's mean cross-entropy at this step. */
  readonly loss?: number;
}

export interface DriverOptions {
  readonly signal?: AbortSignal;
  /** Suffix search: candidates scored so far of the budget, and the best score. */
  readonly onSearch?: (iteration: number, iterations: number, best: number) => void;
  /** GCG: steps done of the budget, and the lowest target loss so far. */
  readonly onGcg?: (iteration: number, iterations: number, loss: number) => void;
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
  } else if (attack.kind === 'gcg') {
    yield* gcgSteps(lab, scenario, attack, options);
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
 * GCG on the undefended model, like the suffix search: one set of target ids (fixed from the plain
 * prompt), the one-hot gradient of the suffix positions from the engine, and a step's candidates
 * scored in one batch after the prefix they share. Every setting is checked before the first step.
 */
async function* gcgSteps(lab: Lab, scenario: Scenario, attack: GcgAttackSpec, options: DriverOptions): AsyncGenerator<DrivenStep> {
  const { tokenizer, model } = lab;
  const { request, system } = scenario;
  const { signal } = options;
  const plain = plainStep(scenario);
  const plainPrompt = buildPrompt(tokenizer, plain.segments);
  const targetIds = targetIdsAfter(lab, plainPrompt, attack.target);
  checkGcgTarget(attack.target, targetIds);
  // A space separates the suffix from the request; it is part of the suffix's first token.
  const initialSuffix = tokenizer.encode(` ${attack.suffix?.trim() || GCG_DEFAULTS.suffix}`);
  const stepFor = (suffix: readonly number[]) => gcgAttackStep(request.text, { step: 0, suffix: [...suffix], loss: 0 }, tokenizer.decode(suffix), { system });
  const promptOf = (suffix: readonly number[]) => buildPrompt(tokenizer, stepFor(suffix).segments);
  const suffixSpan = (prompt: BuiltPrompt) => prompt.segmentSpans.find((span) => span.segment === 'suffix');
  // The suffix's ids are spliced in between text encoded on its own, so every candidate's prompt
  // is the same head, the suffix, the same tail: built once (a chat template per candidate would
  // cost more than scoring it), and held to buildPrompt at every accepted suffix.
  const layout = promptOf(initialSuffix);
  const head = layout.tokens.slice(0, suffixSpan(layout)?.start ?? 0);
  const tail = layout.tokens.slice(suffixSpan(layout)?.end ?? layout.tokens.length);
  const tokensOf = (suffix: readonly number[]) => [...head, ...suffix, ...tail];
  const gcgOptions: GcgOptions = {
    initialSuffix,
    vocabSize: model.config.vocabSize,
    allowed: attack.vocabulary ?? gcgVocabulary(tokenizer, model.config.vocabSize),
    retokenizes: (ids) => {
      const again = tokenizer.encode(tokenizer.decode(ids));
      return again.length === ids.length && again.every((id, i) => id === ids[i]);
    },
    steps: attack.iterations,
    topK: attack.topK,
    batch: attack.batch,
    seed: scenario.seeds.attack,
    onIteration: (iteration, steps, loss) => options.onGcg?.(iteration, steps, loss),
    signal,
  };
  checkGcgOptions(gcgOptions);
  if (initialSuffix.length > 0) {
    const limit = Math.min(model.config.contextLength, MAX_GRADIENT_TOKENS + 1);
    checkGcgFits(initialSuffix.length, tokensOf(initialSuffix).length, targetIds.length, limit);
  }

  const loss = (logprobs: Float64Array) => -total(logprobs) / logprobs.length;
  const score: SuffixScorer = async (suffix, signal) => total(await model.logprobs(tokensOf(suffix), targetIds, { signal, reuse: 'prefix' }));
  const scoreBatch = batchScorer(model, tokensOf, targetIds, score);
  const gcgModel: GcgModel = {
    async tokenGradient(suffix, signal) {
      const oneHot = { start: head.length, end: head.length + suffix.length };
      const result = await model.gradient(tokensOf(suffix), targetIds, { signal, oneHot });
      if (!result.oneHot) throw new Error('the engine returned no one-hot gradient');
      return { loss: result.loss, oneHot: result.oneHot };
    },
    losses: async (candidates, signal) => (await scoreBatch(candidates, signal)).map((sum) => -sum / targetIds.length),
    async reachesTarget(suffix, signal) {
      const { generated } = await model.generate(tokensOf(suffix), { maxNewTokens: targetIds.length, logits: 'none', reuse: 'prefix', signal });
      return generated.length === targetIds.length && generated.every((id, i) => id === targetIds[i]);
    },
  };
  // The plain request's loss starts from an empty cache: it must not depend on what ran before.
  yield { attack: plain, loss: loss(await model.logprobs(plainPrompt.tokens, targetIds, { signal, reuse: 'none' })) };
  for await (const found of gcgSearch(gcgModel, gcgOptions)) {
    const step = gcgAttackStep(request.text, found, tokenizer.decode(found.suffix), { system });
    const built = buildPrompt(tokenizer, step.segments);
    const span = suffixSpan(built);
    const expected = tokensOf(found.suffix);
    if (span?.start !== head.length || built.tokens.length !== expected.length || built.tokens.some((id, i) => id !== expected[i])) {
      throw new Error(`the prompt with the GCG suffix ${JSON.stringify(tokenizer.decode(found.suffix))} is not the one it was scored in`);
    }
    yield { attack: { ...step, step: found.step + 1 }, loss: found.loss };
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
