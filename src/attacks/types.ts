// Attack steps as ordered text segments: what an attack puts in the prompt, and which piece is the request.

import { SlipLabError } from '../errors';

/**
 * What a piece of the prompt is, so the prompt builder can give it a token span:
 * - `system`: the system prompt (rendered in the chat template's system slot, never perturbed);
 * - `request`: the harmful request itself, the span whose attention mass we track;
 * - `demo`: an in-context demonstration (question plus compliant answer);
 * - `wrapper-before` / `wrapper-after`: template text placed around the request;
 * - `suffix`: an optimised adversarial suffix;
 * - `custom`: user-supplied text we cannot classify further.
 */
export const promptSegmentKinds = ['system', 'request', 'demo', 'wrapper-before', 'wrapper-after', 'suffix', 'custom'] as const;
export type PromptSegmentKind = (typeof promptSegmentKinds)[number];

export interface PromptSegment {
  kind: PromptSegmentKind;
  text: string;
  /**
   * The exact token ids of this segment, when an attack chose ids rather than text (the suffix
   * search): decoding and re-encoding them need not give the same ids back, so the prompt builder
   * should splice these in instead of tokenising `text`.
   */
  tokenIds?: number[];
}

/**
 * One step of an attack trajectory. The user message is the concatenation of the non-system
 * segments in order (separators live inside the segment texts); a `system` segment, if any,
 * comes first and goes to the chat template's system slot.
 */
export interface AttackStep {
  step: number;
  label: string;
  segments: PromptSegment[];
}

export type Language = 'en' | 'ja';

/** Options every trajectory accepts. */
export interface TrajectoryOptions {
  /** A system prompt to put first in every step. */
  system?: string;
}

/** The attack's input cannot be used (bad option, malformed file); the message says what to change. */
export class AttackInputError extends SlipLabError {}

/** The user message of a step: its non-system segments joined in order. */
export function userMessage(step: AttackStep): string {
  return step.segments
    .filter((segment) => segment.kind !== 'system')
    .map((segment) => segment.text)
    .join('');
}

/** The system prompt of a step, or undefined when it has none. */
export function systemPrompt(step: AttackStep): string | undefined {
  const system = step.segments.filter((segment) => segment.kind === 'system');
  return system.length === 0 ? undefined : system.map((segment) => segment.text).join('');
}

/** Builds a step's segments: the optional system prompt, then the non-empty pieces in order. */
export function buildSegments(system: string | undefined, pieces: readonly PromptSegment[]): PromptSegment[] {
  const segments: PromptSegment[] = [];
  if (system !== undefined && system !== '') segments.push({ kind: 'system', text: system });
  for (const piece of pieces) if (piece.text !== '' || piece.tokenIds?.length) segments.push(piece);
  return segments;
}
