// Scoring many continuations of one prefix (`logprobsBatch`): the input checks, each in one
// sentence, and the plan of which sequences share a submit.

import { EngineInputError } from '../errors';
import type { ModelConfig } from './config';

/** The first token id outside [0, vocabSize), or undefined. */
export function badTokenId(tokens: readonly number[], vocabSize: number): number | undefined {
  return tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize);
}

export function checkTokenIds(tokens: readonly number[], vocabSize: number): void {
  const bad = badTokenId(tokens, vocabSize);
  if (bad !== undefined) throw new EngineInputError(`Token id ${bad} is outside this model's vocabulary of ${vocabSize}; use the tokenizer that belongs to this model.`);
}

export interface ScoringBatchShape {
  /** Tokens per continuation. */
  readonly length: number;
  /** Scored tokens per continuation: its last `scored`. */
  readonly scored: number;
}

/** Refuses a batch the engine cannot score, in one sentence; returns its shape. */
export function checkScoringBatch(
  config: ModelConfig,
  prefix: readonly number[],
  continuations: readonly (readonly number[])[],
  scoreLast: number | undefined,
  maxLength: number,
): ScoringBatchShape {
  const { vocabSize, contextLength } = config;
  if (continuations.length === 0) throw new EngineInputError('The batch is empty; give at least one continuation to score.');
  if (prefix.length === 0) throw new EngineInputError('The prefix is empty; give at least one token (e.g. BOS) before the continuations.');
  const length = continuations[0].length;
  if (length === 0) throw new EngineInputError('The continuations are empty; give each at least one token to score.');
  const uneven = continuations.findIndex((c) => c.length !== length);
  if (uneven >= 0)
    throw new EngineInputError(
      `Continuation ${uneven} is ${continuations[uneven].length} tokens long but continuation 0 is ${length}; a batch needs continuations of one length, so group them by length.`,
    );
  if (length > maxLength) throw new EngineInputError(`Continuations of ${length} tokens are too long to score in a batch; use at most ${maxLength}.`);
  if (prefix.length + length > contextLength)
    throw new EngineInputError(
      `The prefix (${prefix.length}) plus a continuation (${length}) exceed the model's context of ${contextLength} tokens; shorten the prefix.`,
    );
  const scored = scoreLast ?? length;
  if (!Number.isInteger(scored) || scored < 1 || scored > length)
    throw new EngineInputError(`scoreLast of ${scoreLast} is out of range; pass a whole number from 1 to the continuation length, ${length}.`);
  checkTokenIds(prefix, vocabSize);
  for (const c of continuations) checkTokenIds(c, vocabSize);
  return { length, scored };
}

/** Sequences [first, first + count) of the batch, run in one submit. */
export interface SequenceChunk {
  readonly first: number;
  readonly count: number;
}

/**
 * Splits `batch` sequences of `length` tokens into as few submits as the activations
 * (`chunkTokens` tokens) and the logits buffer (`maxLogitRows` rows of which each sequence needs
 * `scored`) allow, of sizes differing by at most one.
 */
export function planSequenceChunks(batch: number, length: number, scored: number, chunkTokens: number, maxLogitRows: number): SequenceChunk[] {
  const perChunk = Math.min(batch, Math.floor(chunkTokens / length), Math.floor(maxLogitRows / scored));
  if (perChunk < 1)
    throw new EngineInputError(
      `Scoring ${scored} tokens per continuation needs more logits than one GPU buffer holds (${maxLogitRows} rows); score fewer tokens with scoreLast.`,
    );
  const chunks = Math.ceil(batch / perChunk);
  const base = Math.floor(batch / chunks);
  const plan: SequenceChunk[] = [];
  for (let c = 0, first = 0; c < chunks; c++) {
    const count = base + (c < batch % chunks ? 1 : 0);
    plan.push({ first, count });
    first += count;
  }
  return plan;
}
