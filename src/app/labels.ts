// Step labels the runner writes in English (suffix search, GCG, plain request) shown in the UI language.
// Traces keep the English labels; only what is displayed is translated.

import type { TFunction } from 'i18next';
import type { Trace } from '../lab/trace';

/** The label in the UI language, or unchanged when it is not one of the runner's own. */
export function localStepLabel(label: string, t: TFunction): string {
  if (label === 'no attack') return t('labels.noAttack');
  if (label === 'initial suffix') return t('labels.initialSuffix');
  const improvement = /^improvement (\d+)$/.exec(label);
  if (improvement) return t('labels.improvement', { n: Number(improvement[1]) });
  const gcg = /^GCG step (\d+)$/.exec(label);
  if (gcg) return t('labels.gcgStep', { n: Number(gcg[1]) });
  return label;
}

/** The trace with display labels; the same object when nothing changes (English, or no such labels). */
export function withLocalLabels(trace: Trace, t: TFunction): Trace {
  let changed = false;
  const steps = trace.steps.map((step) => {
    const label = localStepLabel(step.label, t);
    if (label === step.label) return step;
    changed = true;
    return { ...step, label };
  });
  return changed ? { ...trace, steps } : trace;
}
