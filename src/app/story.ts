// The presenter's story, derived from a trace: the plain request, the attack revealed one step per
// key press, what the defense changed, what it costs (with a sweep), and the payoff: the refused,
// the complied and the defended answers side by side. Every slide is its own key press, so the
// slide counter moves on each one. The words state what the data shows (story-text.ts), so a model
// that never refused, or a defense that did not help, is reported as such, never as the script.

import type { TFunction } from 'i18next';
import type { SweepResult } from '../lab/sweep';
import type { Trace, TraceRun, Verdict } from '../lab/trace';
import { modelMean } from '../analysis/mass';
import { costFacts } from '../report';

export type SlideKind = 'intro' | 'step' | 'defended' | 'costs' | 'payoff';

export interface Slide {
  readonly kind: SlideKind;
  /** Index into trace.steps the slide shows (a step slide reveals the timeline up to it). */
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
  /** N in "step k of N": the last step's number (step 0 is the plain request). */
  readonly lastStep: number;
}

/** Step slides at most: a long search (GCG's 50 steps) is shown at these many steps, not one press per step. */
export const MAX_STEP_SLIDES = 8;

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
    lastStep: steps[steps.length - 1].step,
  };
}

/**
 * The steps that get a slide, in order: all of them up to MAX_STEP_SLIDES, else the plain request,
 * the first compliance, the last step and evenly spaced ones between.
 */
export function revealedSteps(trace: Trace, facts: StoryFacts = storyFacts(trace)): number[] {
  const count = trace.steps.length;
  if (count <= MAX_STEP_SLIDES) return Array.from({ length: count }, (_, i) => i);
  const chosen = new Set([0, facts.attackedStep, count - 1]);
  for (let i = 1; chosen.size < MAX_STEP_SLIDES && i < MAX_STEP_SLIDES; i++) chosen.add(Math.round((i * (count - 1)) / (MAX_STEP_SLIDES - 1)));
  return [...chosen].sort((a, b) => a - b);
}

/**
 * The slides for a trace: the intro, one slide per revealed step, the defended run only when the
 * trace has one, "what it costs" only with a sweep of the same model, and the payoff last.
 */
export function storySlides(trace: Trace, options: { readonly costs?: boolean } = {}): Slide[] {
  const facts = storyFacts(trace);
  const slides: Slide[] = [
    { kind: 'intro', step: 0, defended: false },
    ...revealedSteps(trace, facts).map((step): Slide => ({ kind: 'step', step, defended: false })),
  ];
  if (facts.defendedVerdict) slides.push({ kind: 'defended', step: facts.attackedStep, defended: true });
  if (options.costs) slides.push({ kind: 'costs', step: facts.attackedStep, defended: false });
  slides.push({ kind: 'payoff', step: facts.attackedStep, defended: false });
  return slides;
}

const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
const points = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} pts`;
const temperature = (t: number) => String(Number(t.toFixed(3)));

/**
 * The "what it costs" slide's title, caption and caveat from the sweep's numbers: a win only when
 * the recommended T lowers the attack success rate within the utility bounds; otherwise it says
 * the defense did not help, or helped only at a cost outside the bounds.
 */
export function costsSlide(sweep: SweepResult, t: TFunction): { title: string; caption: string; caveat?: string } | undefined {
  const facts = costFacts(sweep);
  if (!facts) return undefined;
  const { baseline, best, recommended, bounds } = facts;
  const caveat = facts.small ? t('costs.slideSmall', { requests: facts.requests ?? '?', benign: facts.benign }) : undefined;
  switch (facts.verdict) {
    case 'helped':
      return {
        title: t('costs.slideHelped', { t: temperature(recommended!.temperature), asr: percent(recommended!.asr), baseline: percent(baseline!.asr) }),
        caption: t('costs.slideHelpedCaption', { agreement: recommended!.agreement.toFixed(2), overRefusal: points(recommended!.overRefusal) }),
        caveat,
      };
    case 'too-costly':
      return {
        title: t('costs.slideTooCostly'),
        caption: t('costs.slideTooCostlyCaption', {
          best: percent(best.asr),
          t: temperature(best.temperature),
          agreement: best.agreement.toFixed(2),
          overRefusal: points(best.overRefusal),
          maxOverRefusal: (bounds.maxOverRefusal * 100).toFixed(0),
          minAgreement: bounds.minAgreement.toFixed(2),
        }),
        caveat,
      };
    case 'no-help':
      return {
        title: t('costs.slideNoHelp'),
        caption: t('costs.slideNoHelpCaption', { baseline: percent(baseline!.asr), best: percent(best.asr), t: temperature(best.temperature) }),
        caveat,
      };
    case 'no-baseline':
      return { title: t('costs.slideNoBaseline'), caption: '', caveat };
  }
}
