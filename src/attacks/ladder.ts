// Template ladder: the request wrapped in each jailbreak template in turn, weakest first.

import { requestText, type JailbreakTemplate, type ScenarioRequest } from './scenarios';
import { AttackInputError, buildSegments, type AttackStep, type Language, type TrajectoryOptions } from './types';

export interface LadderOptions extends TrajectoryOptions {
  language: Language;
}

/**
 * One step per template, in the order given (parseTemplatesFile sorts by level). The wrapper
 * text becomes `wrapper-before` / `wrapper-after` segments around the `request` segment; empty
 * wrapper pieces (the plain template) are left out.
 */
export function ladderTrajectory(
  request: string | ScenarioRequest,
  templates: readonly JailbreakTemplate[],
  options: LadderOptions,
): AttackStep[] {
  const { language, system } = options;
  if (templates.length === 0) throw new AttackInputError('The template ladder is empty; load templates.json or add at least one template.');
  const text = typeof request === 'string' ? request : requestText(request, language);
  if (text.trim() === '') throw new AttackInputError('The request is empty; type the request the attack should wrap.');
  return templates.map((template, step) => {
    const { before, after } = template[language];
    return {
      step,
      label: language === 'ja' ? template.name_ja : template.name,
      segments: buildSegments(system, [
        { kind: 'wrapper-before', text: before },
        { kind: 'request', text },
        { kind: 'wrapper-after', text: after },
      ]),
    };
  });
}
