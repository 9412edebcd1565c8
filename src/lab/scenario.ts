// What the lab runs: a scenario (request, attack, defense, seeds) on a Lab (model + tokenizer),
// its checks before anything runs, and the defense's label in summaries and legends.

import { AttackInputError, type AttackStep } from '../attacks/types';
import { DEFAULT_AFFIRMATION, DEFAULT_ALPHA, DEFAULT_BETA, highlighterSettings, type HighlighterSettings } from '../defenses/highlighter';
import type { PerturbationKind } from '../defenses/smoothllm';
import { sharpeningTemperatures, type SharpeningConfig } from '../defenses/sharpening';
import type { LoadedModel } from '../engine/api';
import { EngineInputError } from '../errors';
import type { ChatTokenizer } from '../tokenizer/tokenizer';
import { defenseKindWith, type AttackKind, type DefenseKind, type DefensePart } from './kinds';

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
  | { readonly kind: 'sharpening+smoothllm'; readonly sharpening: SharpeningConfig; readonly smooth: SmoothSettings }
  | { readonly kind: 'highlighter'; readonly highlighter: HighlighterSettings }
  | { readonly kind: 'sharpening+highlighter'; readonly sharpening: SharpeningConfig; readonly highlighter: HighlighterSettings }
  | { readonly kind: 'highlighter+smoothllm'; readonly highlighter: HighlighterSettings; readonly smooth: SmoothSettings }
  | {
      readonly kind: 'sharpening+highlighter+smoothllm';
      readonly sharpening: SharpeningConfig;
      readonly highlighter: HighlighterSettings;
      readonly smooth: SmoothSettings;
    };

/** The settings of each part a defense combines; a part left out is not used. */
export interface DefenseChoice {
  readonly sharpening?: SharpeningConfig;
  readonly highlighter?: HighlighterSettings;
  readonly smooth?: SmoothSettings;
}

/** The defense that combines the given parts (the app's switches, eval's --defense). */
export function composeDefense(choice: DefenseChoice): DefenseSpec {
  const parts: DefensePart[] = [];
  if (choice.sharpening) parts.push('sharpening');
  if (choice.highlighter) parts.push('highlighter');
  if (choice.smooth) parts.push('smoothllm');
  const { sharpening, highlighter, smooth } = choice;
  return { kind: defenseKindWith(parts), ...(sharpening ? { sharpening } : {}), ...(highlighter ? { highlighter } : {}), ...(smooth ? { smooth } : {}) } as DefenseSpec;
}

/** The parts' settings of a defense (a trace's recorded defense reads the same way). */
export const sharpeningOf = (defense: DefenseSpec): SharpeningConfig | undefined => ('sharpening' in defense ? defense.sharpening : undefined);
export const highlighterOf = (defense: DefenseSpec): HighlighterSettings | undefined => ('highlighter' in defense ? defense.highlighter : undefined);
export const smoothOf = (defense: DefenseSpec): SmoothSettings | undefined => ('smooth' in defense ? defense.smooth : undefined);

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

/** GCG (DESIGN.md): every accepted suffix is one recorded step, with the target's loss. */
export interface GcgAttackSpec {
  readonly kind: 'gcg';
  /** The affirmative opening whose mean cross-entropy GCG lowers (default "Sure, here is"). */
  readonly target: string;
  /** GCG steps (nanoGCG's num_steps): one gradient and one batch of candidates each. */
  readonly iterations: number;
  /** Tokens per suffix position kept from −G (k; nanoGCG 256, the app 64). */
  readonly topK: number;
  /** Candidates per step (B; nanoGCG 512, the app 64). */
  readonly batch: number;
  /** The starting suffix's text (default 20 × "x"); a space separates it from the request. */
  readonly suffix?: string;
  /** Token ids the suffix may use (default: short printable-ASCII tokens, never special ones). */
  readonly vocabulary?: readonly number[];
}

export type AttackSpec =
  | { readonly kind: 'none' }
  /** A trajectory already written out (ICA, ladder, custom): one AttackStep per step. */
  | { readonly kind: 'ica' | 'ladder' | 'custom'; readonly steps: readonly AttackStep[]; readonly settings?: Record<string, unknown> }
  | SuffixAttackSpec
  | GcgAttackSpec;

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
  /**
   * Other defenses run on every step beside `defense`, each on its own (e.g. Token Highlighter
   * beside sharpening), recorded in each step's `compared` runs for the timeline.
   */
  readonly compare?: readonly DefenseSpec[];
}

// The kinds above are the lists in kinds.ts; these fail to compile if the two drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const attackKindsMatch: Same<AttackSpec['kind'], AttackKind> = true;
export const defenseKindsMatch: Same<DefenseSpec['kind'], DefenseKind> = true;

/** Default label of a defense, as it appears in summary.csv and the app's legend. */
export function defenseLabel(defense: DefenseSpec): string {
  const sharpen = (s: SharpeningConfig) =>
    `sharpening T=${s.temperature} L${s.layers[0]}–${s.layers[1]}${s.heads ? ` H${s.heads.join(',')}` : ''}`;
  const smooth = (s: SmoothSettings) => `smoothllm N=${s.n ?? 10} q=${s.q ?? 10} ${s.perturbation ?? 'swap'}`;
  const highlight = (s: HighlighterSettings) =>
    `highlighter α=${s.alpha ?? DEFAULT_ALPHA} β=${s.beta ?? DEFAULT_BETA}${s.affirmation !== undefined && s.affirmation !== DEFAULT_AFFIRMATION ? ` "${s.affirmation}"` : ''}`;
  const sharpening = sharpeningOf(defense);
  const highlighter = highlighterOf(defense);
  const smoothing = smoothOf(defense);
  const parts = [sharpening && sharpen(sharpening), highlighter && highlight(highlighter), smoothing && smooth(smoothing)].filter(Boolean);
  return parts.length > 0 ? parts.join(' + ') : 'none';
}

/** The (nLayer × nHead) temperatures of a defense: its sharpening, or all 1. */
export function defenseTemperatures(lab: Lab, defense: DefenseSpec): Float32Array {
  const grid = { nLayer: lab.model.config.nLayer, nHead: lab.model.config.nHead };
  const sharpening = sharpeningOf(defense);
  return sharpening ? sharpeningTemperatures(sharpening, grid) : new Float32Array(grid.nLayer * grid.nHead).fill(1);
}

/** Throws one sentence for a head the model does not have. */
export function checkHead(lab: Lab, head: { readonly layer: number; readonly head: number }): void {
  const { nLayer, nHead } = lab.model.config;
  if (!(head.layer >= 0 && head.layer < nLayer && head.head >= 0 && head.head < nHead)) {
    throw new EngineInputError(`There is no layer ${head.layer} head ${head.head} in this model; pick a layer below ${nLayer} and a head below ${nHead}.`);
  }
}

/** Refuses a scenario that cannot run, with one sentence, before any step runs. */
export function checkScenario(lab: Lab, scenario: Scenario): void {
  if (!Number.isInteger(scenario.maxNewTokens) || scenario.maxNewTokens < 1) {
    throw new EngineInputError(`The response length must be a whole number of tokens of 1 or more, not ${scenario.maxNewTokens}; the refusal judge needs a response to read.`);
  }
  if (scenario.request.text.trim() === '') throw new EngineInputError('The request is empty; type the request to test.');
  const head = scenario.mapHead;
  if (head && head !== 'top') checkHead(lab, head);
  if (scenario.attack.kind === 'suffix' && !(scenario.attack.maxSteps >= 1 && scenario.attack.iterations >= 1)) {
    throw new AttackInputError('A suffix search needs at least one step and one iteration; raise the step count or the iteration budget.');
  }
  // Fails early on a bad layer range or head subset, or Token Highlighter's α or β.
  for (const defense of [scenario.defense, ...(scenario.compare ?? [])]) {
    defenseTemperatures(lab, defense);
    const highlighter = highlighterOf(defense);
    if (highlighter) highlighterSettings(highlighter);
  }
}
