// Defenses behind one interface: each turns an attack step into its defended run. Sharpening runs
// the same prompt at its temperatures; Token Highlighter scales the embeddings of the user's most
// affirmation-driving tokens before the run; SmoothLLM runs N perturbed copies and votes. Combined,
// they nest: SmoothLLM's copies each go through Token Highlighter, on the sharpened model.

import type { AttackStep } from '../attacks/types';
import { highlight, highlighterSettings, softRemovalScales, type HighlighterSettings } from '../defenses/highlighter';
import { DefenseConfigError } from '../defenses/errors';
import { majorityVote, smoothStepCopies } from '../defenses/smoothllm';
import { MAX_GRADIENT_TOKENS } from '../engine/api';
import { buildPrompt, idsAfterPrompt, type BuiltPrompt } from '../tokenizer/prompt';
import { checkSignal, headMap, MAX_MAP_TOKENS, measureRun, type HeadRef, type MeasureOptions } from './measure';
import { defenseTemperatures, highlighterOf, smoothOf, type DefenseSpec, type Lab, type SmoothSettings } from './scenario';
import type { TraceRun } from './trace';

export interface DefendOptions {
  readonly maxNewTokens: number;
  /** The step's seed (see `stepSeed`). */
  readonly seed: number;
  readonly map?: HeadRef;
  readonly signal?: AbortSignal;
  /** SmoothLLM: the copy being run, 1-based, of `copies`. */
  readonly onCopy?: (copy: number, copies: number) => void;
}

export interface Defense {
  readonly spec: Exclude<DefenseSpec, { kind: 'none' }>;
  /**
   * The defended run of one attack step. It sets the defense's temperatures and, when done, puts
   * the model back at temperature 1 with an empty cache, so whatever runs next (the undefended
   * model, the attack's search) never starts from the defense's computations.
   */
  run(step: AttackStep, options: DefendOptions): Promise<TraceRun>;
}

/** A step's seed for SmoothLLM: distinct per step, fixed by the defense seed. */
export const stepSeed = (seed: number, step: number) => (seed + Math.imul(step + 1, 0x9e3779b1)) >>> 0;

/** One measured run of a built prompt, with or without Token Highlighter in front of the model. */
type PromptRun = (prompt: BuiltPrompt, options: MeasureOptions) => Promise<TraceRun>;

/** The defense a spec describes, or undefined for `none`. */
export function defenseFor(lab: Lab, spec: DefenseSpec): Defense | undefined {
  if (spec.kind === 'none') return undefined;
  const temperatures = defenseTemperatures(lab, spec);
  const ones = defenseTemperatures(lab, { kind: 'none' });
  const smooth = smoothOf(spec);
  const highlighter = highlighterOf(spec);
  const settings = highlighter && highlighterSettings(highlighter);
  const runPrompt: PromptRun = settings ? (prompt, options) => highlightedRun(lab, prompt, settings, options) : (prompt, options) => measureRun(lab, prompt, options);
  return {
    spec,
    async run(step, options) {
      lab.model.setAttentionTemperature(temperatures);
      try {
        return smooth
          ? await smoothRun(lab, step, smooth, options, runPrompt)
          : await runPrompt(buildPrompt(lab.tokenizer, step.segments), { ...options, reuse: 'none' });
      } finally {
        lab.model.setAttentionTemperature(ones);
        lab.model.resetCache();
      }
    },
  };
}

/**
 * Token Highlighter in front of one run: the gradient of the affirmation's loss after the prompt
 * (at the temperatures set), the top ⌈α·n⌉ user tokens by its norm scaled by β, then the run on
 * those embeddings. The run records what was found.
 */
async function highlightedRun(lab: Lab, prompt: BuiltPrompt, settings: Required<HighlighterSettings>, options: MeasureOptions): Promise<TraceRun> {
  const affirmation = idsAfterPrompt(lab.tokenizer, prompt, settings.affirmation);
  if (prompt.tokens.length + affirmation.length - 1 > MAX_GRADIENT_TOKENS) {
    throw new DefenseConfigError(
      `Token Highlighter takes the gradient of prompts up to ${MAX_GRADIENT_TOKENS} tokens with the affirmation, and this one has ${prompt.tokens.length + affirmation.length - 1}; use fewer attack steps or a shorter request.`,
    );
  }
  checkSignal(options.signal);
  const started = performance.now();
  const found = await highlight(
    (tokens, target) => lab.model.gradient(tokens, target, { signal: options.signal }),
    prompt,
    affirmation,
    lab.model.config.nEmbd,
    settings,
  );
  const gradientMs = performance.now() - started;
  const run = await measureRun(lab, prompt, { ...options, reuse: 'none', embeddingScales: found.embeddingScales });
  return {
    ...run,
    highlighter: { positions: found.positions, influence: found.influence, scaled: found.scaled, scale: found.scale, loss: found.loss },
    timings: { ...run.timings, totalMs: run.timings.totalMs + gradientMs, gradientMs },
  };
}

/** The embedding factors a recorded run was computed with (Token Highlighter's), or undefined for none. */
export function runEmbeddingScales(run: Pick<TraceRun, 'tokens' | 'highlighter'>): number[] | undefined {
  return run.highlighter ? softRemovalScales(run.tokens.length, run.highlighter.scaled, run.highlighter.scale) : undefined;
}

/**
 * SmoothLLM: N perturbed copies (seeded by the step's seed), each judged; the verdict is the
 * majority vote and the run recorded in full is the first copy that agrees with it (the response
 * SmoothLLM would return). Copies after the first reuse the cached prefix they share.
 */
async function smoothRun(lab: Lab, step: AttackStep, settings: SmoothSettings, options: DefendOptions, runPrompt: PromptRun): Promise<TraceRun> {
  const { n = 10, q = 10, perturbation = 'swap' } = settings;
  const copies = smoothStepCopies(step, { n, q, kind: perturbation, seed: options.seed });
  const runs: TraceRun[] = [];
  for (const [i, copy] of copies.entries()) {
    checkSignal(options.signal);
    options.onCopy?.(i + 1, copies.length);
    // No map per copy: only the copy SmoothLLM answers with gets one, below.
    runs.push(
      await runPrompt(buildPrompt(lab.tokenizer, copy.segments), {
        maxNewTokens: options.maxNewTokens,
        signal: options.signal,
        reuse: i === 0 ? 'none' : 'prefix',
      }),
    );
  }
  const vote = majorityVote(runs.map((run) => run.verdict));
  const chosen = runs[vote.consistent[0]];
  const map =
    options.map && chosen.tokens.length <= MAX_MAP_TOKENS ? await headMap(lab, chosen.tokens, options.map, options.signal, runEmbeddingScales(chosen)) : undefined;
  return {
    ...chosen,
    ...(map ? { map } : {}),
    verdict: vote.jailbroken ? 'complied' : 'refused',
    copies: runs.map((run) => ({ prompt: run.prompt, response: run.response, verdict: run.verdict })),
    timings: { totalMs: runs.reduce((sum, run) => sum + run.timings.totalMs, 0) },
  };
}
