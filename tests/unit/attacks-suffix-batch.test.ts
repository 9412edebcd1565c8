// Scoring the suffix search's candidates in batches: the search takes the same steps as when it
// scores them one by one, and the lab's batch scorer groups candidates into `logprobsBatch` calls
// that give the numbers `logprobs` gives (on a fake model, so every number is known exactly).

import { describe, expect, it } from 'vitest';
import { runSuffixSearch, type SuffixBatchScorer, type SuffixScorer } from '../../src/attacks/suffix-search';
import type { LoadedModel, LogprobsBatchOptions, LogprobsOptions } from '../../src/engine/api';
import { batchScorer } from '../../src/lab/drivers';
import { mulberry32 } from '../../src/util/random';

const vocabulary = Array.from({ length: 20 }, (_, i) => 100 + i);
const random = mulberry32(9);
const hidden = Array.from({ length: 10 }, () => vocabulary[Math.floor(random() * vocabulary.length)]);
const hamming = (suffix: readonly number[]) => -suffix.reduce((distance, id, i) => distance + (id === hidden[i] ? 0 : 1), 0);

describe('suffixSearch with a batch scorer', () => {
  it('takes exactly the steps of one-by-one scoring, with one batch call per iteration', async () => {
    const options = { vocabulary, seed: 4, iterations: 80, suffixLength: hidden.length, candidatesPerIteration: 4 };
    const single: SuffixScorer = async (suffix) => hamming(suffix);
    const alone = await runSuffixSearch(single, options);

    const batches: number[][][] = [];
    let singleCalls = 0;
    const counted: SuffixScorer = async (suffix) => (singleCalls++, hamming(suffix));
    const scoreBatch: SuffixBatchScorer = async (suffixes) => (batches.push(suffixes.map((s) => [...s])), suffixes.map(hamming));
    const batched = await runSuffixSearch(counted, { ...options, scoreBatch });

    expect(batched).toEqual(alone);
    expect(singleCalls).toBe(1); // the initial suffix
    expect(batches).toHaveLength(80);
    for (const batch of batches) expect(batch.length).toBeGreaterThanOrEqual(1), expect(batch.length).toBeLessThanOrEqual(4);
  });

  it('refuses a NaN from the batch, and a batch of the wrong size', async () => {
    const single: SuffixScorer = async (suffix) => hamming(suffix);
    const options = { vocabulary, seed: 1, iterations: 3, suffixLength: 4, candidatesPerIteration: 2 };
    await expect(runSuffixSearch(single, { ...options, scoreBatch: async (s) => s.map(() => NaN) })).rejects.toThrow(
      'The suffix scorer returned NaN at iteration 1',
    );
    await expect(runSuffixSearch(single, { ...options, scoreBatch: async () => [0] })).rejects.toThrow('returned 1 scores for 2 candidates');
  });

  it('a cancelled search does not call the batch scorer', async () => {
    const controller = new AbortController();
    let calls = 0;
    const single: SuffixScorer = async (suffix) => (controller.abort(), hamming(suffix));
    const search = runSuffixSearch(single, {
      vocabulary, seed: 1, iterations: 3, suffixLength: 4, candidatesPerIteration: 2, signal: controller.signal,
      scoreBatch: async (s) => (calls++, s.map(hamming)),
    });
    await expect(search).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(0);
  });
});

/**
 * A model whose log p of token t at position i is a fixed function of (t, i, the token before),
 * so a batch and single calls must agree exactly; it records every call.
 */
function fakeModel() {
  const calls: string[] = [];
  const logp = (sequence: readonly number[], i: number) => -((sequence[i] * 7 + i * 3 + sequence[i - 1]) % 101) / 10;
  const logprobsOf = (prefix: readonly number[], continuation: readonly number[]) => {
    const sequence = [...prefix, ...continuation];
    return Float64Array.from(continuation, (_, j) => logp(sequence, prefix.length + j));
  };
  const model = {
    async logprobs(prefix: readonly number[], continuation: readonly number[], options?: LogprobsOptions) {
      calls.push(`logprobs ${prefix.length}+${continuation.length} ${options?.reuse}`);
      return logprobsOf(prefix, continuation);
    },
    async logprobsBatch(prefix: readonly number[], continuations: readonly (readonly number[])[], options?: LogprobsBatchOptions) {
      calls.push(`batch ${prefix.length}+${continuations.length}×${continuations[0].length} last ${options?.scoreLast} ${options?.reuse}`);
      return continuations.map((c) => logprobsOf(prefix, c).slice(c.length - (options?.scoreLast ?? c.length)));
    },
  } as unknown as LoadedModel;
  return { model, calls, logprobsOf };
}

describe("the lab's batch scorer", () => {
  const target = [50, 51, 52];
  // Template and request (5 tokens), the suffix, then the template's tail (2 tokens).
  const promptOf = (suffix: readonly number[]) => [1, 2, 3, 4, 5, ...suffix, 8, 9];

  it('batches candidates of one prompt length after their shared prefix and scores only the target', async () => {
    const { model, calls, logprobsOf } = fakeModel();
    const total = (values: Float64Array) => values.reduce((a, b) => a + b, 0);
    const score: SuffixScorer = async (suffix) => total(await model.logprobs(promptOf(suffix), target, { reuse: 'prefix' }));
    const suffixes = [
      [10, 11, 12, 13],
      [10, 11, 20, 21],
      [10, 30, 12, 13],
      [40, 41],         // another length: alone, by `score`
      [10, 11, 12, 14],
    ];
    const got = await batchScorer(model, promptOf, target, score)(suffixes);
    const want = suffixes.map((s) => total(logprobsOf(promptOf(s), target)));
    expect(got).toEqual(want);
    // The four of length 4 share the template, the request and the suffix's first token: 6 tokens.
    expect(calls).toEqual(['batch 6+4×8 last 3 prefix', 'logprobs 9+3 prefix']);
  });

  it('scores a lone candidate exactly as one-by-one scoring does', async () => {
    const { model, calls } = fakeModel();
    const score: SuffixScorer = async (suffix) => (await model.logprobs(promptOf(suffix), target, { reuse: 'prefix' })).reduce((a, b) => a + b, 0);
    await batchScorer(model, promptOf, target, score)([[10, 11]]);
    expect(calls).toEqual(['logprobs 9+3 prefix']);
  });
});
