// Gradient benchmark (`npm run bench:gradient [-- --shape smollm2-135m|qwen2.5-0.5b] [--prompt 60]
// [--target 5] [--suffix 20] [--batch 64] [--profile]`): on random Q8_0 weights in real models'
// shapes, one forward + backward (`gradient`) against one forward of the same tokens, the GPU
// memory the gradient's activations take, and one GCG step: the gradient with the suffix's one-hot
// gradient, top-k, and B candidates scored with `logprobsBatch` (candidates per second). Ratios
// come from this one run. `--profile` adds the backward's per-kernel GPU time.

import { parseArgs } from 'node:util';
import type { LoadedModel } from '../src/engine/api';
import { gradientBuffers } from '../src/engine/backward';
import type { GpuContext } from '../src/engine/gpu';
import { loadModel } from '../src/engine/model';
import { KernelProfiler } from '../src/engine/profiler';
import { openNodeGpu } from '../src/cli/node-gpu';
import { pathSource } from '../src/gguf/source-node';
import { mulberry32 } from '../src/util/random';
import { cachedModel, isShapeName, seededTokens, SHAPES, warmUpTwin, type ShapeName } from './models';
import { kernelTable, table } from './table';

interface Sizes {
  readonly prompt: number;
  readonly target: number;
  readonly suffix: number;
  readonly batch: number;
  readonly topK: number;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { seconds: (performance.now() - started) / 1000, value };
}

/** Top k of −G per suffix position (no vocabulary filter: the bench times the step's shape, not its choices). */
function topK(oneHot: Float32Array, vocab: number, positions: number, k: number): number[][] {
  return Array.from({ length: positions }, (_, p) => {
    const row = oneHot.subarray(p * vocab, (p + 1) * vocab);
    return Array.from(row.keys()).sort((a, b) => row[a] - row[b]).slice(0, k);
  });
}

interface StepFigures {
  readonly forward: number;
  readonly gradient: number;
  readonly oneHot: number;
  readonly topK: number;
  readonly scoring: number;
  readonly candidates: number;
}

/** One forward, one gradient, and one GCG step, timed. */
async function measure(model: LoadedModel, sizes: Sizes): Promise<StepFigures> {
  const { vocabSize } = model.config;
  const prompt = seededTokens(sizes.prompt, vocabSize, 11);
  const target = seededTokens(sizes.target, vocabSize, 12);
  const suffixStart = sizes.prompt - sizes.suffix - 4; // the suffix, then a 4-token template tail
  // The same forward the gradient runs (prompt + target but its last token, logits of the target
  // rows), read back, without keeping activations or going backward.
  const forward = await timed(() => model.logprobs(prompt, target, { reuse: 'none' }));
  const gradient = await timed(() => model.gradient(prompt, target));
  const withOneHot = await timed(() => model.gradient(prompt, target, { oneHot: { start: suffixStart, end: suffixStart + sizes.suffix } }));
  const top = await timed(async () => topK(withOneHot.value.oneHot!, vocabSize, sizes.suffix, sizes.topK));
  // B candidates, each one suffix position replaced by one of its top-k tokens, scored after the shared prefix.
  const random = mulberry32(5);
  const continuations = Array.from({ length: sizes.batch }, () => {
    const tokens = [...prompt.slice(suffixStart), ...target];
    const position = Math.floor(random() * sizes.suffix);
    tokens[position] = top.value[position][Math.floor(random() * sizes.topK)];
    return tokens;
  });
  const scoring = await timed(() => model.logprobsBatch(prompt.slice(0, suffixStart), continuations, { scoreLast: sizes.target }));
  return {
    forward: forward.seconds,
    gradient: gradient.seconds,
    oneHot: withOneHot.seconds,
    topK: top.seconds,
    scoring: scoring.seconds,
    candidates: sizes.batch,
  };
}

async function benchShape(ctx: GpuContext, name: ShapeName, sizes: Sizes, profile: boolean) {
  const spec = SHAPES[name];
  log(`\n${name} (random Q8_0 weights): prompt ${sizes.prompt} tokens with a ${sizes.suffix}-token suffix, target ${sizes.target}, top-k ${sizes.topK}, batch ${sizes.batch}`);
  const twin = await loadModel(ctx, await pathSource(await cachedModel(`${spec.arch}-warm-up`, warmUpTwin(spec), log)));
  try {
    await measure(twin, { ...sizes, topK: Math.min(sizes.topK, 8), batch: 2 });
  } finally {
    twin.dispose();
  }
  const model = await loadModel(ctx, await pathSource(await cachedModel(name, spec, log)));
  try {
    const f = await measure(model, sizes);
    const S = sizes.prompt + sizes.target - 1;
    const memory = [...gradientBuffers(model.config, S, sizes.target).values()].reduce((a, b) => a + b, 0);
    const memory128 = [...gradientBuffers(model.config, 128, sizes.target).values()].reduce((a, b) => a + b, 0);
    const step = f.oneHot + f.topK + f.scoring;
    log(table(
      ['measure', 'seconds', 'ratio'],
      [
        [`forward of the ${S} tokens`, f.forward.toFixed(2), '1.00×'],
        ['forward + backward (gradient)', f.gradient.toFixed(2), `${(f.gradient / f.forward).toFixed(2)}×`],
        ['gradient with the one-hot gradient', f.oneHot.toFixed(2), `${(f.oneHot / f.forward).toFixed(2)}×`],
        ['top-k of the one-hot gradient (CPU)', f.topK.toFixed(2), ''],
        [`${f.candidates} candidates scored (logprobsBatch)`, f.scoring.toFixed(2), ''],
        ['one GCG step', step.toFixed(2), ''],
      ],
    ));
    log(`candidates per second: ${(f.candidates / f.scoring).toFixed(2)}; GCG steps per minute: ${(60 / step).toFixed(2)}`);
    log(`gradient activations and workspace: ${mib(memory)} for ${S} tokens, ${mib(memory128)} for 128 tokens`);
    if (profile) {
      const profiler = new KernelProfiler(ctx);
      ctx.profiler = profiler;
      try {
        await model.gradient(seededTokens(sizes.prompt, model.config.vocabSize, 11), seededTokens(sizes.target, model.config.vocabSize, 12));
        await profiler.flush();
        log(`\nGPU time per kernel of one gradient (per sequence token):\n${kernelTable(profiler.table(), S)}`);
      } finally {
        ctx.profiler = undefined;
      }
    }
  } finally {
    model.dispose();
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', multiple: true },
      prompt: { type: 'string', default: '60' },
      target: { type: 'string', default: '5' },
      suffix: { type: 'string', default: '20' },
      batch: { type: 'string', default: '64' },
      topk: { type: 'string', default: '64' },
      profile: { type: 'boolean', default: false },
    },
  });
  const shapes = (values.shape ?? ['smollm2-135m', 'qwen2.5-0.5b']).map((s) => {
    if (!isShapeName(s)) throw new Error(`Unknown shape ${s}; use ${Object.keys(SHAPES).join(' or ')}.`);
    return s;
  });
  const sizes: Sizes = { prompt: Number(values.prompt), target: Number(values.target), suffix: Number(values.suffix), batch: Number(values.batch), topK: Number(values.topk) };
  const ctx = await openNodeGpu();
  try {
    log(`adapter: ${ctx.caps.software ? 'CPU emulation (software)' : 'GPU'}`);
    for (const name of shapes) await benchShape(ctx, name, sizes, values.profile ?? false);
  } finally {
    ctx.destroy();
  }
  process.exit(0);
}

await main();
