// What a trace says in the UI language: the runner's step labels (written in English, or in the
// scenario language for the ladder's templates), and each defense's name from its settings.
// Traces keep what they recorded; only what is displayed changes, so a trace saved in one language
// replays in the other.

import type { TFunction } from 'i18next';
import { withDefenseNames } from '../lab/defense-name';
import type { Trace } from '../lab/trace';

/** A ladder template's names in both languages (templates.json's `name` and `name_ja`). */
export interface TemplateNames {
  readonly name: string;
  readonly name_ja: string;
}

export interface LocalLabelOptions {
  readonly language: 'en' | 'ja';
  /** The ladder's templates: a step labelled with either name shows the one of `language`. */
  readonly templates?: readonly TemplateNames[];
}

/** The label in the UI language, or unchanged when it is not one of the runner's own. */
export function localStepLabel(label: string, t: TFunction, options?: LocalLabelOptions): string {
  if (label === 'no attack') return t('labels.noAttack');
  if (label === 'initial suffix') return t('labels.initialSuffix');
  const improvement = /^improvement (\d+)$/.exec(label);
  if (improvement) return t('labels.improvement', { n: Number(improvement[1]) });
  const gcg = /^GCG step (\d+)$/.exec(label);
  if (gcg) return t('labels.gcgStep', { n: Number(gcg[1]) });
  const shots = /^(\d+)-shot$/.exec(label);
  if (shots) return t('labels.shots', { n: Number(shots[1]) });
  const prompt = /^Prompt (\d+)$/.exec(label);
  if (prompt) return t('labels.prompt', { n: Number(prompt[1]) });
  const template = options?.templates?.find((tp) => tp.name === label || tp.name_ja === label);
  if (template && options) return options.language === 'ja' ? template.name_ja : template.name;
  return label;
}

/**
 * The trace with display labels: steps in the UI language and every defense named from its
 * settings ("Attention sharpening, T = 0.7, layers 12–23"), never the internal label. The same
 * object when nothing changes.
 */
export function withLocalLabels(trace: Trace, t: TFunction, options: LocalLabelOptions = { language: 'en' }): Trace {
  const named = withDefenseNames(trace, options.language);
  let changed = false;
  const steps = named.steps.map((step) => {
    const label = localStepLabel(step.label, t, options);
    if (label === step.label) return step;
    changed = true;
    return { ...step, label };
  });
  return changed ? { ...named, steps } : named;
}
