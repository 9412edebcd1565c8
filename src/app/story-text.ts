// The words of each presenter slide (headline and one-line takeaway) and its speaker notes, from the
// trace's numbers, in the UI language. Pure: a TFunction in, strings out, so both are unit-tested.
// One step convention everywhere: step 0 is the plain request, "step k of N" with N the last step.

import type { TFunction } from 'i18next';
import type { Trace, TraceRun, Verdict } from '../lab/trace';
import { modelMean } from '../analysis/mass';
import { defenseName as fullDefenseName, type NameLanguage } from '../lab/defense-name';
import { localStepLabel } from './labels';
import type { Slide, StoryFacts } from './story';

export interface SlideWords {
  readonly headline: string;
  /** One line under the charts; empty when the slide says it all. */
  readonly takeaway: string;
}

/** "12.3%": one decimal, the same in both languages. */
export const percentText = (value: number) => `${(value * 100).toFixed(1)}%`;

const massOf = (run: TraceRun) => modelMean(run.requestMass.lastPrompt);

/** "Step 2 of 3" for the step at `index` of the trace. */
export function stepOfText(trace: Trace, index: number, t: TFunction): string {
  return t('slides.stepOf', { step: trace.steps[index].step, total: trace.steps[trace.steps.length - 1].step });
}

/** The step's label in the UI language where it is one of the runner's own. */
export function stepLabel(trace: Trace, index: number, t: TFunction): string {
  return localStepLabel(trace.steps[index].label, t);
}

/** The defense's short name in the UI language ("Attention sharpening"), for headlines and legends; never the internal label. */
export function defenseName(trace: Trace, t: TFunction): string {
  return t(`defense.${trace.settings.defense.kind}` as 'defense.none');
}

/** "the model refuses" / "complies" as a verb in a sentence, and as a badge word. */
const verb = (verdict: Verdict, t: TFunction) => t(`slides.verb.${verdict}`);

/** The change in attention since the plain request, in percentage points, in words. */
function changeText(from: number, to: number, t: TFunction): string {
  const points = Math.abs((to - from) * 100).toFixed(1);
  if (points === '0.0') return t('slides.change.same');
  return t(to < from ? 'slides.change.down' : 'slides.change.up', { points });
}

/** Headline and takeaway of a slide ('costs' has its own words: costsSlide in story.ts). */
export function slideWords(slide: Slide, trace: Trace, facts: StoryFacts, t: TFunction): SlideWords {
  const record = trace.steps[slide.step];
  switch (slide.kind) {
    case 'intro':
      return {
        headline: t('slides.introTitle'),
        takeaway: t('slides.introTakeaway'),
      };
    case 'step': {
      const stepOf = stepOfText(trace, slide.step, t);
      if (slide.step === 0) {
        return {
          headline: t(record.verdict === 'refused' ? 'slides.baselineRefused' : 'slides.baselineComplied'),
          takeaway: t('slides.baselineTakeaway', { mass: percentText(massOf(record)) }),
        };
      }
      const headline =
        record.verdict === 'refused'
          ? t(massOf(record) < facts.baselineMass ? 'slides.stepSlipsRefused' : 'slides.stepRefused', { stepOf })
          : slide.step === facts.firstComplied
            ? t('slides.stepFirstComplied', { stepOf })
            : t('slides.stepComplied', { stepOf });
      return {
        headline,
        takeaway: t('slides.stepTakeaway', {
          label: stepLabel(trace, slide.step, t),
          from: percentText(facts.baselineMass),
          to: percentText(massOf(record)),
          verdict: verb(record.verdict, t),
        }),
      };
    }
    case 'defended': {
      const defense = defenseName(trace, t);
      return {
        headline: t(facts.defendedVerdict === 'refused' ? 'slides.defendedRefused' : 'slides.defendedComplied', { defense }),
        takeaway: t('slides.defendedTakeaway', {
          stepOf: stepOfText(trace, facts.attackedStep, t),
          attacked: percentText(facts.attackedMass),
          defended: percentText(facts.defendedMass ?? 0),
        }),
      };
    }
    case 'costs':
      return { headline: t('costs.slideTitle'), takeaway: '' };
    case 'payoff': {
      const held = facts.defendedVerdict === 'refused';
      const broke = facts.attackedVerdict === 'complied';
      return {
        headline: t(facts.defendedVerdict ? 'slides.payoffTitle3' : 'slides.payoffTitle2'),
        takeaway: !broke
          ? t('slides.payoffNeverBroke')
          : facts.defendedVerdict === undefined
            ? t('slides.payoffNoDefense')
            : held
              ? t('slides.payoffHeld', { defense: defenseName(trace, t) })
              : t('slides.payoffNotHeld', { defense: defenseName(trace, t) }),
      };
    }
  }
}

/** What the costs slide says, for its notes (costsSlide's words). */
export interface CostsWords {
  readonly title: string;
  readonly caption: string;
  readonly caveat?: string;
}

/**
 * What to say at a slide: a few short sentences with the trace's numbers, for the speaker only
 * (the notes strip or the notes window, never the projected slide). `language` names the defense
 * with its settings ("Attention sharpening, T = 0.7, layers 12–23").
 */
export function speakerNotes(slide: Slide, trace: Trace, facts: StoryFacts, t: TFunction, language: NameLanguage, costs?: CostsWords): string[] {
  const record = trace.steps[slide.step];
  const defense = defenseName(trace, t);
  switch (slide.kind) {
    case 'intro':
      return [
        t('slides.notes.introModel', { model: trace.settings.model.id, request: trace.request.text }),
        t('slides.notes.introAttack', { attack: t(`attack.${trace.settings.attack.kind}` as 'attack.ladder'), count: facts.lastStep }),
        t('slides.notes.introWatch'),
      ];
    case 'step': {
      const mass = percentText(massOf(record));
      if (slide.step === 0) {
        return [
          t('slides.notes.baseline', { verdict: verb(record.verdict, t), mass }),
          t(record.verdict === 'refused' ? 'slides.notes.baselineRefused' : 'slides.notes.baselineComplied'),
        ];
      }
      const stepOf = stepOfText(trace, slide.step, t);
      const notes = [
        t('slides.notes.step', { stepOf, label: stepLabel(trace, slide.step, t) }),
        t('slides.notes.stepMass', { mass, change: changeText(facts.baselineMass, massOf(record), t), from: percentText(facts.baselineMass) }),
        t('slides.notes.stepVerdict', { verdict: verb(record.verdict, t) }),
      ];
      if (slide.step === facts.firstComplied) notes.push(t('slides.notes.firstComplied', { from: percentText(facts.baselineMass), to: mass }));
      if (slide.step === trace.steps.length - 1) notes.push(t(facts.defendedVerdict ? 'slides.notes.nextDefense' : 'slides.notes.nextPayoff'));
      return notes;
    }
    case 'defended': {
      const notes = [
        t('slides.notes.defense', { defense: fullDefenseName(trace.settings.defense, language) }),
        t('slides.notes.defendedMass', {
          stepOf: stepOfText(trace, facts.attackedStep, t),
          defended: percentText(facts.defendedMass ?? 0),
          attacked: percentText(facts.attackedMass),
        }),
        t('slides.notes.defendedVerdict', { verdict: verb(facts.defendedVerdict ?? 'complied', t) }),
      ];
      if (trace.settings.defense.kind === 'sharpening') notes.push(t('slides.notes.sharpeningHow'));
      if (facts.defendedVerdict === 'complied') notes.push(t('slides.notes.defenseDidNotHold'));
      return notes;
    }
    case 'costs':
      return costs ? [costs.title, costs.caption, ...(costs.caveat ? [costs.caveat] : [])] : [];
    case 'payoff': {
      const attacked = trace.steps[facts.attackedStep];
      const notes = [
        t('slides.notes.payoffPlain', { verdict: verb(facts.baselineVerdict, t), mass: percentText(facts.baselineMass) }),
        t('slides.notes.payoffAttacked', {
          stepOf: stepOfText(trace, facts.attackedStep, t),
          verdict: verb(attacked.verdict, t),
          mass: percentText(facts.attackedMass),
        }),
      ];
      if (attacked.verdict === 'complied') notes.push(t('slides.notes.payoffRedacted'));
      if (facts.defendedVerdict) notes.push(t('slides.notes.payoffDefended', { defense, verdict: verb(facts.defendedVerdict, t), mass: percentText(facts.defendedMass ?? 0) }));
      notes.push(
        t(
          attacked.verdict !== 'complied'
            ? 'slides.notes.closeNeverBroke'
            : facts.defendedVerdict === 'refused'
              ? 'slides.notes.closeHeld'
              : facts.defendedVerdict === 'complied'
                ? 'slides.notes.closeNotHeld'
                : 'slides.notes.closeNoDefense',
        ),
      );
      return notes;
    }
  }
}

/**
 * An answer as a slide shows it: the chat template's tokens (`<|im_start|>`, `<end_of_turn>`) and a
 * reasoning block's tags (`<think>`, `</think>`) removed, whitespace folded.
 */
export function cleanAnswer(text: string): string {
  return text
    .replace(/<\/?think>/g, ' ')
    .replace(/<\|[^|>]*\|>|<(start|end)_of_turn>|<\/?s>|<bos>|<eos>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
