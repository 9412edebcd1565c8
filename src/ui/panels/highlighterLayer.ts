// The token strip's Token Highlighter layer: which of a run's prompt tokens drive the affirmation
// ("Sure, I'd like to help you with this."), by the norm of the loss gradient, and which Soft
// Removal scaled.

import type { Trace, TraceRun } from '../../lab/trace';
import { runLocation } from './data';

export type HighlighterRecord = NonNullable<TraceRun['highlighter']>;

export interface HighlighterMark {
  /** ‖∂L/∂e_i‖₂ */
  readonly influence: number;
  /** influence ÷ the run's largest influence, in [0, 1]. */
  readonly level: number;
  /** Among the top ⌈α·n⌉: its embedding was scaled by β in the defended run. */
  readonly scaled: boolean;
}

const sameTokens = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/**
 * The Token Highlighter record for a run's tokens: the run's own (a defended run), or, for an
 * undefended step, that of its defended run or a side-by-side run that weighed the same prompt (a
 * SmoothLLM copy did not).
 */
export function highlighterFor(trace: Trace, run: TraceRun): HighlighterRecord | undefined {
  if (run.highlighter) return run.highlighter;
  const { index, defended } = runLocation(trace, run);
  const step = defended ? undefined : trace.steps[index];
  const partners = step ? [step.defended, ...(step.compared ?? []).map((entry) => entry.run)] : [];
  return partners.find((partner) => partner?.highlighter && sameTokens(partner.tokens, run.tokens))?.highlighter;
}

/** Token index → its mark, for the user's tokens of the record. */
export function highlighterMarks(record: HighlighterRecord): Map<number, HighlighterMark> {
  const largest = Math.max(0, ...record.influence);
  const scaled = new Set(record.scaled);
  return new Map(
    record.positions.map((position, i) => [
      position,
      { influence: record.influence[i], level: largest > 0 ? record.influence[i] / largest : 0, scaled: scaled.has(position) },
    ]),
  );
}

/** The underline's look: opacity and thickness (px) grow with the level; a scaled token's is solid and thick. */
export function underlineStyle(mark: HighlighterMark): { opacity: number; thickness: number } {
  return mark.scaled ? { opacity: 1, thickness: 5 } : { opacity: 0.25 + 0.6 * mark.level, thickness: 2 + Math.round(mark.level) };
}
