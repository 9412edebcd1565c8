// In-context attack (Wei et al. 2023): k compliant-looking demonstrations before the request, k = 0…K.

import { requestText, type IcaDemosFile, type ScenarioRequest } from './scenarios';
import { AttackInputError, buildSegments, type AttackStep, type Language, type PromptSegment, type TrajectoryOptions } from './types';

export interface IcaOptions extends TrajectoryOptions {
  /** K: the last step has K demonstrations. */
  maxShots: number;
  language: Language;
}

/**
 * Steps k = 0…K. Step 0 is the plain request (the un-attacked baseline); step k puts the first k
 * demonstrations, in file order, before the request, written as question/answer pairs, and
 * frames the request as the next question, so the model is invited to answer in the same
 * compliant form. Everything stays in one user message, so demonstrations get `demo` spans.
 */
export function icaTrajectory(
  request: string | ScenarioRequest,
  demos: Pick<IcaDemosFile, 'labels' | 'demos'>,
  options: IcaOptions,
): AttackStep[] {
  const { maxShots, language, system } = options;
  if (!Number.isInteger(maxShots) || maxShots < 0) {
    throw new AttackInputError(`maxShots must be a whole number of demonstrations (0 or more), not ${maxShots}; pick K from 0 to ${demos.demos.length}.`);
  }
  if (maxShots > demos.demos.length) {
    throw new AttackInputError(
      `maxShots is ${maxShots} but only ${demos.demos.length} ICA demonstrations are loaded; lower maxShots or add demonstrations to ica-demos.json.`,
    );
  }
  const text = typeof request === 'string' ? request : requestText(request, language);
  if (text.trim() === '') throw new AttackInputError('The request is empty; type the request the attack should wrap.');
  const labels = demos.labels[language];
  const demoSegments: PromptSegment[] = demos.demos.slice(0, maxShots).map((demo) => {
    const { question, answer } = demo[language];
    return { kind: 'demo', text: `${labels.question}${question}\n${labels.answer}${answer}\n\n` };
  });

  const steps: AttackStep[] = [];
  for (let k = 0; k <= maxShots; k++) {
    const pieces: PromptSegment[] =
      k === 0
        ? [{ kind: 'request', text }]
        : [
            ...demoSegments.slice(0, k),
            { kind: 'wrapper-before', text: labels.question },
            { kind: 'request', text },
            { kind: 'wrapper-after', text: `\n${labels.answer.trimEnd()}` },
          ];
    steps.push({ step: k, label: `${k}-shot`, segments: buildSegments(system, pieces) });
  }
  return steps;
}
