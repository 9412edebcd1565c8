// One way to turn a user's choices (the app's scenario panel, a demo link, `eval`'s options) into
// a runnable Scenario, with one behaviour for both: a step count the loaded templates or
// demonstrations cannot give is refused with one sentence, never silently clamped.

import { customTrajectory } from '../attacks/custom';
import { icaTrajectory } from '../attacks/ica';
import { ladderTrajectory } from '../attacks/ladder';
import type { IcaDemosFile, TemplatesFile } from '../attacks/scenarios';
import { AttackInputError, type Language } from '../attacks/types';
import type { AttackKind } from './kinds';
import type { AttackSpec, DefenseSpec, Scenario } from './scenario';

export interface ScenarioChoice {
  readonly request: { readonly id?: string; readonly category?: string; readonly text: string; readonly language: Language };
  readonly attack: AttackKind;
  /** Attack steps after the plain request (ICA: demonstrations; ladder: templates; suffix: accepted improvements; GCG: its steps). */
  readonly steps: number;
  /** Suffix search settings (attack `suffix`). */
  readonly suffix?: {
    readonly target: string;
    readonly iterations: number;
    readonly length: number;
    /** Default: the runner's (1, as in the paper). */
    readonly candidates?: number;
  };
  /** GCG settings (attack `gcg`; its steps are `steps`). */
  readonly gcg?: {
    readonly target: string;
    readonly topK: number;
    readonly batch: number;
    /** The starting suffix's text (default 20 × "x"). */
    readonly suffix?: string;
  };
  /** The custom attack's file text (attack `custom`). */
  readonly customPrompts?: string;
  readonly system?: string;
  readonly defense: DefenseSpec;
  readonly maxNewTokens: number;
  /** Seeds the suffix search and SmoothLLM alike. */
  readonly seed: number;
  readonly mapHead?: Scenario['mapHead'];
}

/** The files the written-out attacks draw on. */
export interface AttackFiles {
  readonly templates?: TemplatesFile;
  readonly demos?: IcaDemosFile;
}

export function buildScenario(choice: ScenarioChoice, files: AttackFiles): Scenario {
  return {
    request: {
      ...(choice.request.id ? { id: choice.request.id } : {}),
      ...(choice.request.category ? { category: choice.request.category } : {}),
      text: choice.request.text,
      language: choice.request.language,
    },
    attack: attackSpec(choice, files),
    defense: choice.defense,
    maxNewTokens: choice.maxNewTokens,
    seeds: { attack: choice.seed, defense: choice.seed },
    ...(choice.system !== undefined ? { system: choice.system } : {}),
    ...(choice.mapHead !== undefined ? { mapHead: choice.mapHead } : {}),
  };
}

function attackSpec(choice: ScenarioChoice, files: AttackFiles): AttackSpec {
  const { steps, system } = choice;
  const request = choice.request.text;
  const options = { system, language: choice.request.language };
  if (!Number.isInteger(steps) || steps < 0) throw new AttackInputError(`The attack needs a whole number of steps (0 or more), not ${steps}; pick a step count.`);
  switch (choice.attack) {
    case 'none':
      return { kind: 'none' };
    case 'ica': {
      const demos = need(files.demos, 'ICA demonstrations');
      if (steps > demos.demos.length) {
        throw new AttackInputError(`${steps} steps need ${steps} demonstrations, but ${demos.demos.length} are loaded; choose at most ${demos.demos.length} steps.`);
      }
      return { kind: 'ica', steps: icaTrajectory(request, demos, { ...options, maxShots: steps }), settings: { maxShots: steps } };
    }
    case 'ladder': {
      const all = need(files.templates, 'jailbreak templates').templates;
      // The first template is the plain request; each step adds the next one.
      if (steps > all.length - 1) {
        throw new AttackInputError(`${steps} steps need ${steps} templates beyond the plain one, but ${all.length - 1} are loaded; choose at most ${all.length - 1} steps.`);
      }
      const templates = all.slice(0, steps + 1);
      return { kind: 'ladder', steps: ladderTrajectory(request, templates, options), settings: { templates: templates.map((t) => t.id) } };
    }
    case 'custom':
      return { kind: 'custom', steps: customTrajectory(choice.customPrompts ?? '', { system, request }) };
    case 'suffix': {
      const suffix = need(choice.suffix, 'suffix search settings');
      return {
        kind: 'suffix',
        target: suffix.target,
        iterations: suffix.iterations,
        maxSteps: Math.max(1, steps),
        suffixLength: suffix.length,
        ...(suffix.candidates !== undefined ? { candidatesPerIteration: suffix.candidates } : {}),
      };
    }
    case 'gcg': {
      const gcg = need(choice.gcg, 'GCG settings');
      return {
        kind: 'gcg',
        target: gcg.target,
        iterations: Math.max(1, steps),
        topK: gcg.topK,
        batch: gcg.batch,
        ...(gcg.suffix?.trim() ? { suffix: gcg.suffix.trim() } : {}),
      };
    }
  }
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AttackInputError(`This attack needs its ${what}, which are not loaded; reload the page or pass the file.`);
  return value;
}
