// The random-search suffix attack against a synthetic scorer: a hidden target suffix, score = −Hamming distance.

import { describe, expect, it } from 'vitest';
import { chunkSizeAt, runSuffixSearch, suffixAttackStep, suffixSearch, type SuffixScorer } from '../../src/attacks/suffix-search';
import { AttackInputError, userMessage } from '../../src/attacks/types';
import { mulberry32 } from '../../src/util/random';

const vocabulary = Array.from({ length: 20 }, (_, i) => 100 + i);

/** A scorer that counts its calls; the best suffix is `hidden`. */
function hammingScorer(hidden: readonly number[]) {
  const calls: number[][] = [];
  const score: SuffixScorer = async (suffix) => {
    calls.push([...suffix]);
    return -suffix.reduce((distance, id, i) => distance + (id === hidden[i] ? 0 : 1), 0);
  };
  return { score, calls };
}

const random = mulberry32(7);
const hidden = Array.from({ length: 12 }, () => vocabulary[Math.floor(random() * vocabulary.length)]);

describe('suffixSearch', () => {
  it('only accepts improvements: the yielded scores rise strictly and match the scorer', async () => {
    const { score } = hammingScorer(hidden);
    const result = await runSuffixSearch(score, { vocabulary, seed: 1, iterations: 400, suffixLength: hidden.length });
    const scores = result.steps.map((s) => s.score);
    expect(result.steps.length).toBeGreaterThan(3);
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeGreaterThan(scores[i - 1]);
    for (const step of result.steps) expect(await score(step.suffix)).toBe(step.score);
    expect(result.steps.map((s) => s.step)).toEqual(result.steps.map((_, i) => i));
    expect(scores.at(-1)).toBeGreaterThan(scores[0] + 3);
  });

  it('with several candidates per iteration, accepts the best of them and scores each at most once', async () => {
    const { score, calls } = hammingScorer(hidden);
    const iterations: number[] = [];
    const result = await runSuffixSearch(score, {
      vocabulary,
      seed: 5,
      iterations: 60,
      suffixLength: hidden.length,
      candidatesPerIteration: 4,
      onIteration: (iteration) => iterations.push(iteration),
    });
    expect(iterations).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // One initial score, then at most 4 per iteration.
    expect(calls.length).toBeLessThanOrEqual(1 + 4 * 60);
    expect(calls.length).toBeGreaterThan(1 + 3 * 60);
    for (const step of result.steps.slice(1)) {
      // The accepted suffix is the best of the candidates scored in its iteration.
      const first = 1 + calls.slice(1).findIndex((c) => c.every((id, i) => id === step.suffix[i]));
      const before = calls.slice(0, first + 1).map((c) => -c.reduce((d, id, i) => d + (id === hidden[i] ? 0 : 1), 0));
      expect(before[before.length - 1]).toBe(step.score);
    }
    const single = await runSuffixSearch(hammingScorer(hidden).score, { vocabulary, seed: 5, iterations: 60, suffixLength: hidden.length });
    expect(result.steps.at(-1)!.score).toBeGreaterThanOrEqual(single.steps.at(-1)!.score);
  });

  it('changes only the reported chunk between accepted steps, and shrinks the chunk over iterations', async () => {
    const { score } = hammingScorer(hidden);
    const { steps } = await runSuffixSearch(score, { vocabulary, seed: 3, iterations: 300, suffixLength: hidden.length, maxChunk: 4 });
    for (let i = 1; i < steps.length; i++) {
      const { start, size } = steps[i].changed!;
      expect(size).toBe(chunkSizeAt(steps[i].iteration, 4));
      steps[i].suffix.forEach((id, p) => {
        if (p < start || p >= start + size) expect(id).toBe(steps[i - 1].suffix[p]);
      });
    }
    expect([1, 10, 11, 25, 26, 50, 51, 100, 101, 500, 501].map((it) => chunkSizeAt(it, 32))).toEqual([32, 32, 16, 16, 8, 8, 4, 4, 2, 2, 1]);
    expect(chunkSizeAt(1000, 4)).toBe(1);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const run = (seed: number) => runSuffixSearch(hammingScorer(hidden).score, { vocabulary, seed, iterations: 150, suffixLength: 12 });
    const [a, b, c] = await Promise.all([run(11), run(11), run(12)]);
    expect(a).toEqual(b);
    expect(a.steps.map((s) => s.suffix)).not.toEqual(c.steps.map((s) => s.suffix));
  });

  it('respects the iteration budget, the step budget and the target score', async () => {
    const byIterations = hammingScorer(hidden);
    const a = await runSuffixSearch(byIterations.score, { vocabulary, seed: 5, iterations: 30, suffixLength: 12 });
    expect(a.stoppedBy).toBe('iterations');
    expect(a.iterations).toBe(30);
    expect(byIterations.calls.length).toBeLessThanOrEqual(31);
    expect(Math.max(...a.steps.map((s) => s.iteration))).toBeLessThanOrEqual(30);

    const bySteps = await runSuffixSearch(hammingScorer(hidden).score, { vocabulary, seed: 5, iterations: 1000, maxSteps: 3, suffixLength: 12 });
    expect(bySteps.stoppedBy).toBe('steps');
    expect(bySteps.steps).toHaveLength(4);

    const short = [vocabulary[3], vocabulary[4]];
    const byTarget = await runSuffixSearch(hammingScorer(short).score, { vocabulary, seed: 5, iterations: 5000, initialSuffix: [0, 0], targetScore: 0 });
    expect(byTarget.stoppedBy).toBe('target');
    expect(byTarget.steps.at(-1)!.suffix).toEqual(short);
    expect(byTarget.iterations).toBeLessThan(5000);

    const none = await runSuffixSearch(hammingScorer(short).score, { vocabulary, seed: 5, iterations: 0, initialSuffix: [0, 0] });
    expect(none).toEqual({ steps: [{ step: 0, iteration: 0, suffix: [0, 0], score: -2 }], iterations: 0, stoppedBy: 'iterations' });
  });

  it('stops with an AbortError when cancelled, keeping the steps already yielded', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const search = runSuffixSearch(hammingScorer(hidden).score, { vocabulary, seed: 2, iterations: 10000, suffixLength: 12, signal: controller.signal }, (step) => {
      seen.push(step.step);
      if (step.step === 2) controller.abort();
    });
    await expect(search).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([0, 1, 2]);
  });

  it('passes scorer errors through and rejects bad budgets in one sentence', async () => {
    const failing: SuffixScorer = async () => {
      throw new Error('device lost');
    };
    await expect(runSuffixSearch(failing, { vocabulary, seed: 1, iterations: 3 })).rejects.toThrow('device lost');
    const nan: SuffixScorer = async () => NaN;
    await expect(runSuffixSearch(nan, { vocabulary, seed: 1, iterations: 3 })).rejects.toThrow('The suffix scorer returned NaN at iteration 0');
    const first = (options: Parameters<typeof suffixSearch>[1]) => suffixSearch(hammingScorer(hidden).score, options).next();
    await expect(first({ vocabulary: [], seed: 1, iterations: 3 })).rejects.toThrow(AttackInputError);
    await expect(first({ vocabulary, seed: 1, iterations: -1 })).rejects.toThrow('The iteration budget must be a whole number of 0 or more, not -1');
    await expect(first({ vocabulary, seed: 1, iterations: 3, maxSteps: 0 })).rejects.toThrow('The step budget must be');
    await expect(first({ vocabulary, seed: 1, iterations: 3, initialSuffix: [] })).rejects.toThrow('The suffix must be at least one token long');
  });
});

describe('suffixAttackStep', () => {
  it('puts the suffix after the request with its exact token ids', () => {
    const step = suffixAttackStep('Do X.', { step: 2, iteration: 9, suffix: [5, 6], score: -1 }, ' !?', { system: 'sys' });
    expect(step).toEqual({
      step: 2,
      label: 'improvement 2',
      segments: [
        { kind: 'system', text: 'sys' },
        { kind: 'request', text: 'Do X.' },
        { kind: 'suffix', text: ' !?', tokenIds: [5, 6] },
      ],
    });
    expect(userMessage(step)).toBe('Do X. !?');
  });
});
