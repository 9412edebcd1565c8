// Defenses behind one interface: each turns an attack step into its defended run. Sharpening runs
// the same prompt at its temperatures; SmoothLLM runs N perturbed copies and votes; both together
// vote over copies run at the temperatures. The coming Token Highlighter plugs in here.

import type { AttackStep } from '../attacks/types';
import { majorityVote, smoothStepCopies } from '../defenses/smoothllm';
import { buildPrompt } from '../tokenizer/prompt';
import { checkSignal, headMap, MAX_MAP_TOKENS, measureRun, type HeadRef } from './measure';
import { defenseTemperatures, type DefenseSpec, type Lab, type SmoothSettings } from './scenario';
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

/** The defense a spec describes, or undefined for `none`. */
export function defenseFor(lab: Lab, spec: DefenseSpec): Defense | undefined {
  if (spec.kind === 'none') return undefined;
  const temperatures = defenseTemperatures(lab, spec);
  const ones = defenseTemperatures(lab, { kind: 'none' });
  const smooth = spec.kind === 'smoothllm' || spec.kind === 'sharpening+smoothllm' ? spec.smooth : undefined;
  return {
    spec,
    async run(step, options) {
      lab.model.setAttentionTemperature(temperatures);
      try {
        return smooth
          ? await smoothRun(lab, step, smooth, options)
          : await measureRun(lab, buildPrompt(lab.tokenizer, step.segments), { ...options, reuse: 'none' });
      } finally {
        lab.model.setAttentionTemperature(ones);
        lab.model.resetCache();
      }
    },
  };
}

/**
 * SmoothLLM: N perturbed copies (seeded by the step's seed), each judged; the verdict is the
 * majority vote and the run recorded in full is the first copy that agrees with it (the response
 * SmoothLLM would return). Copies after the first reuse the cached prefix they share.
 */
async function smoothRun(lab: Lab, step: AttackStep, settings: SmoothSettings, options: DefendOptions): Promise<TraceRun> {
  const { n = 10, q = 10, perturbation = 'swap' } = settings;
  const copies = smoothStepCopies(step, { n, q, kind: perturbation, seed: options.seed });
  const runs: TraceRun[] = [];
  for (const [i, copy] of copies.entries()) {
    checkSignal(options.signal);
    options.onCopy?.(i + 1, copies.length);
    // No map per copy: only the copy SmoothLLM answers with gets one, below.
    runs.push(
      await measureRun(lab, buildPrompt(lab.tokenizer, copy.segments), {
        maxNewTokens: options.maxNewTokens,
        signal: options.signal,
        reuse: i === 0 ? 'none' : 'prefix',
      }),
    );
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
