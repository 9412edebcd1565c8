// Scoring benchmark (`npx tsx bench/scoring.ts [--batch 64] [--length 30] [--prefix 100] [--score-last N]`):
// candidates per second when B continuations of L tokens are scored after one cached prefix, as one
// `logprobsBatch` and as one `logprobs` call each (the suffix search's two ways), on a random-weight
// model in SmolLM2-135M's shape (Q8_0). Prints the ratio measured in this one run.

import { parseArgs } from 'node:util';
import type { LoadedModel } from '../src/engine/api';
import type { GpuContext } from '../src/engine/gpu';
import { loadModel } from '../src/engine/model';
import { openNodeGpu } from '../src/cli/node-gpu';
import { pathSource } from '../src/gguf/source-node';
import { cachedModel, seededTokens, SHAPES, warmUpTwin } from './models';

const SMOLLM2_135M = SHAPES['smollm2-135m'];

interface Shape {
  readonly batch: number;
  readonly length: number;
  readonly prefix: number;
  readonly scoreLast: number;
}

interface Timed {
  readonly seconds: number;
  readonly scores: Float64Array[];
}

/** Both ways from a cached prefix: B `logprobs` calls, then one `logprobsBatch`. */
async function scoreBothWays(model: LoadedModel, shape: Shape): Promise<{ single: Timed; batched: Timed }> {
  const { vocabSize } = model.config;
  const prefix = seededTokens(shape.prefix, vocabSize, 7);
  const continuations = Array.from({ length: shape.batch }, (_, b) => seededTokens(shape.length, vocabSize, 100 + b));
  await model.generate(prefix, { maxNewTokens: 0, logits: 'none', reuse: 'none' });

  let started = performance.now();
  const singleScores: Float64Array[] = [];
  for (const continuation of continuations) singleScores.push((await model.logprobs(prefix, continuation)).slice(shape.length - shape.scoreLast));
  const single = { seconds: (performance.now() - started) / 1000, scores: singleScores };

  started = performance.now();
  const batchedScores = await model.logprobsBatch(prefix, continuations, { scoreLast: shape.scoreLast });
  return { single, batched: { seconds: (performance.now() - started) / 1000, scores: batchedScores } };
}

/**
 * Compiles and touches everything once: the same calls on a one-layer twin (same kernels), then a
 * two-candidate batch on the real model.
 */
async function warmUp(ctx: GpuContext, model: LoadedModel, shape: Shape): Promise<void> {
  const twin = await loadModel(ctx, await pathSource(await cachedModel(`${SMOLLM2_135M.arch}-warm-up`, warmUpTwin(SMOLLM2_135M))));
  try {
    await scoreBothWays(twin, shape);
  } finally {
    twin.dispose();
  }
  const small = { ...shape, batch: 2, length: Math.min(shape.length, 4), scoreLast: Math.min(shape.scoreLast, 4) };
  await scoreBothWays(model, small);
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const { values } = parseArgs({
    options: {
      batch: { type: 'string', default: '64' },
      length: { type: 'string', default: '30' },
      prefix: { type: 'string', default: '100' },
      'score-last': { type: 'string' },
    },
  });
  const shape: Shape = {
    batch: Number(values.batch),
    length: Number(values.length),
    prefix: Number(values.prefix),
    scoreLast: Number(values['score-last'] ?? values.length),
  };
  const ctx = await openNodeGpu();
  try {
    log(`adapter: ${ctx.adapter.description}`);
    log(`SmolLM2-135M shape, Q8_0: ${shape.batch} candidates of ${shape.length} tokens after a ${shape.prefix}-token prefix, scoring the last ${shape.scoreLast}`);
    const model = await loadModel(ctx, await pathSource(await cachedModel('smollm2-135m', SMOLLM2_135M)));
    try {
      let started = performance.now();
      await warmUp(ctx, model, shape);
      log(`  warm-up: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      started = performance.now();
      const { single, batched } = await scoreBothWays(model, shape);
      let worst = 0;
      single.scores.forEach((s, b) => s.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - batched.scores[b][i])))));
      const rate = (t: Timed) => (shape.batch / t.seconds).toFixed(2);
      log(`  one logprobs call each: ${single.seconds.toFixed(2)} s, ${rate(single)} candidates/s`);
      log(`  one logprobsBatch:      ${batched.seconds.toFixed(2)} s, ${rate(batched)} candidates/s`);
      log(`  batched / one by one: ${(single.seconds / batched.seconds).toFixed(2)}× the candidates per second; largest |Δ log p| ${worst.toExponential(2)}`);
    } finally {
      model.dispose();
    }
  } finally {
    ctx.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
