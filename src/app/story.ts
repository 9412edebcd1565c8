// The presenter's story, derived from a trace: which step shows the refusal, which the first
// compliance, and what sharpening changed. The captions state what the data shows, so a model
// that never refused (or a defense that did not help) is reported as such, never as the script.

import type { Trace, TraceRun, Verdict } from '../lab/trace';
import { modelMean } from '../analysis/mass';

export type SlideKind = 'intro' | 'baseline' | 'slipping' | 'complied' | 'defended' | 'summary';

export interface Slide {
  readonly kind: SlideKind;
  /** Index into trace.steps the slide shows (the slipping slide starts here and plays on). */
  readonly step: number;
  /** Show the defended run. */
  readonly defended: boolean;
}

export interface StoryFacts {
  readonly baselineVerdict: Verdict;
  readonly baselineMass: number;
  /** First step (index) whose undefended run complied; undefined when none did. */
  readonly firstComplied?: number;
  /** The step the "after the attack" slides show: first compliance, else the last step. */
  readonly attackedStep: number;
  readonly attackedVerdict: Verdict;
  readonly attackedMass: number;
  readonly defendedVerdict?: Verdict;
  readonly defendedMass?: number;
  readonly defenseLabel?: string;
  readonly steps: number;
}

const mass = (run: TraceRun) => modelMean(run.requestMass.lastPrompt);

export function storyFacts(trace: Trace): StoryFacts {
  const steps = trace.steps;
  const firstComplied = steps.findIndex((s) => s.verdict === 'complied');
  const attackedStep = firstComplied > 0 ? firstComplied : steps.length - 1;
  const attacked = steps[attackedStep];
  return {
    baselineVerdict: steps[0].verdict,
    baselineMass: mass(steps[0]),
    ...(firstComplied >= 0 ? { firstComplied } : {}),
    attackedStep,
    attackedVerdict: attacked.verdict,
    attackedMass: mass(attacked),
    ...(attacked.defended ? { defendedVerdict: attacked.defended.verdict, defendedMass: mass(attacked.defended) } : {}),
    ...(trace.settings.defense.label ? { defenseLabel: trace.settings.defense.label } : {}),
    steps: steps.length,
  };
}

/** The slides for a trace: the defended slide only when the trace has a defended run. */
export function storySlides(trace: Trace): Slide[] {
  const facts = storyFacts(trace);
  const slides: Slide[] = [
    { kind: 'intro', step: 0, defended: false },
    { kind: 'baseline', step: 0, defended: false },
    { kind: 'slipping', step: 0, defended: false },
    { kind: 'complied', step: facts.attackedStep, defended: false },
  ];
  if (facts.defendedVerdict) slides.push({ kind: 'defended', step: facts.attackedStep, defended: true });
  slides.push({ kind: 'summary', step: facts.attackedStep, defended: false });
  return slides;
}
