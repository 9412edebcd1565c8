// Token Highlighter (Hu, Chen, Ho, AAAI 2025): the user's tokens whose embeddings most raise the
// likelihood of an affirmation ("Sure, I'd like to help you with this.") are highlighted, and Soft
// Removal scales their embeddings by β before the model answers.
//
// One query: L = mean_i −log p(y_i | prompt, y_<i) over the affirmation y appended as the start of
// the assistant's turn; influence of user token i = ‖∂L/∂e_i‖₂ (e_i its looked-up embedding row);
// the top ⌈α·n⌉ of the n user tokens get the factor β, every other position 1.

import type { GradientResult } from '../engine/api';
import type { PromptSpan } from '../tokenizer/prompt';
import { DefenseConfigError } from './errors';

export const DEFAULT_AFFIRMATION = "Sure, I'd like to help you with this.";
export const DEFAULT_ALPHA = 0.25;
/** The paper's β is not public; 0.5 halves the highlighted embeddings. */
export const DEFAULT_BETA = 0.5;

export interface HighlighterSettings {
  /** The affirmation y whose likelihood the gradient follows (default DEFAULT_AFFIRMATION). */
  readonly affirmation?: string;
  /** α: share of the user's tokens highlighted, in (0, 1] (default 0.25). */
  readonly alpha?: number;
  /** β: factor on the highlighted tokens' embeddings, in [0, 1] (default 0.5); 1 changes nothing. */
  readonly beta?: number;
}

/** The settings with their defaults filled in, after the checks. */
export function highlighterSettings(settings: HighlighterSettings = {}): Required<HighlighterSettings> {
  const { affirmation = DEFAULT_AFFIRMATION, alpha = DEFAULT_ALPHA, beta = DEFAULT_BETA } = settings;
  if (!(Number.isFinite(alpha) && alpha > 0 && alpha <= 1)) {
    throw new DefenseConfigError(`Token Highlighter's share α must be above 0 and at most 1, not ${alpha}; the paper's default is 0.25 (a quarter of the user's tokens).`);
  }
  if (!(Number.isFinite(beta) && beta >= 0 && beta <= 1)) {
    throw new DefenseConfigError(`Token Highlighter's Soft Removal factor β must be from 0 to 1, not ${beta}; 0.5 halves the highlighted embeddings, 1 leaves them as they are.`);
  }
  if (affirmation.trim() === '') {
    throw new DefenseConfigError('Token Highlighter needs an affirmation to measure, such as "Sure, I\'d like to help you with this."; type one or leave it at the default.');
  }
  return { affirmation, alpha, beta };
}

/**
 * The prompt positions of the user's message, ascending: every token of a non-system segment's
 * span (request and attack pieces). Sink, template and system tokens are never among them.
 */
export function userTokenPositions(spans: readonly PromptSpan[]): number[] {
  const positions = new Set<number>();
  for (const span of spans) {
    if (span.segment === undefined || span.segment === 'system') continue;
    for (let i = span.start; i < span.end; i++) positions.add(i);
  }
  return [...positions].sort((a, b) => a - b);
}

/** ‖grad row‖₂ of each position; grad is (prompt length, nEmbd) row-major. */
export function gradientNorms(grad: ArrayLike<number>, nEmbd: number, positions: readonly number[]): number[] {
  return positions.map((position) => {
    let sum = 0;
    for (let j = position * nEmbd; j < (position + 1) * nEmbd; j++) sum += grad[j] * grad[j];
    return Math.sqrt(sum);
  });
}

/** ⌈α·n⌉ (at least 1 when n > 0); the epsilon keeps 0.25·8 at 2 whatever the float rounding. */
export function highlightCount(n: number, alpha: number): number {
  return n === 0 ? 0 : Math.min(n, Math.max(1, Math.ceil(alpha * n - 1e-9)));
}

/**
 * Indices (into `influence`) of the ⌈α·n⌉ largest values, ascending. Equal values go to the
 * earlier token, so the choice is deterministic.
 */
export function topFraction(influence: readonly number[], alpha: number): number[] {
  const order = influence.map((_, i) => i).sort((a, b) => influence[b] - influence[a] || a - b);
  return order.slice(0, highlightCount(influence.length, alpha)).sort((a, b) => a - b);
}

/** Soft Removal: per prompt position, β at the highlighted positions and exactly 1 elsewhere. */
export function softRemovalScales(promptLength: number, highlighted: readonly number[], beta: number): number[] {
  const scales = new Array<number>(promptLength).fill(1);
  for (const position of highlighted) scales[position] = beta;
  return scales;
}

/** What Token Highlighter found in one prompt (the trace records it beside the defended run). */
export interface Highlight {
  /** The user's token positions in the prompt, ascending. */
  readonly positions: number[];
  /** ‖∂L/∂e_i‖₂ of each of those positions (same order). */
  readonly influence: number[];
  /** The highlighted positions (a subset of `positions`), ascending: their embeddings are scaled. */
  readonly scaled: number[];
  /** β */
  readonly scale: number;
  /** L: mean cross-entropy of the affirmation after the prompt. */
  readonly loss: number;
  /** Per prompt position, the embedding factor of the defended run. */
  readonly embeddingScales: number[];
}

/** The model access Token Highlighter needs: the affirmation's loss and its embedding gradient. */
export type AffirmationGradient = (prompt: readonly number[], affirmation: readonly number[]) => Promise<Pick<GradientResult, 'loss' | 'grad'>>;

/**
 * Highlights one prompt: the gradient of the affirmation's loss, the user's tokens ranked by its
 * norm, the top ⌈α·n⌉ scaled by β. `affirmationIds` are the affirmation's tokens as they follow
 * the prompt.
 */
export async function highlight(
  gradient: AffirmationGradient,
  prompt: { readonly tokens: readonly number[]; readonly spans: readonly PromptSpan[] },
  affirmationIds: readonly number[],
  nEmbd: number,
  settings: HighlighterSettings = {},
): Promise<Highlight> {
  const { alpha, beta } = highlighterSettings(settings);
  if (affirmationIds.length === 0) {
    throw new DefenseConfigError('Token Highlighter\'s affirmation gives no tokens; type an affirmation such as "Sure, I\'d like to help you with this."');
  }
  const positions = userTokenPositions(prompt.spans);
  if (positions.length === 0) throw new DefenseConfigError('The prompt has no user message for Token Highlighter to weigh; type a request.');
  const { loss, grad } = await gradient(prompt.tokens, affirmationIds);
  const influence = gradientNorms(grad, nEmbd, positions);
  const scaled = topFraction(influence, alpha).map((i) => positions[i]);
  return { positions, influence, scaled, scale: beta, loss, embeddingScales: softRemovalScales(prompt.tokens.length, scaled, beta) };
}
