// Engine benchmark (`npm run bench -- [--models a,b] [--prompt N] [--decode N] [--bandwidth-mib N] [--gpu-kernels]`):
// prefill and decode speed of random-weight Q8_0 models in real shapes, the cost of attention
// export, and decode time as a multiple of the adapter's streaming-read bandwidth floor.

import { parseArgs } from 'node:util';
import type { GenerateOptions, LoadedModel } from '../src/engine/api';
import type { GpuContext } from '../src/engine/gpu';
import { loadModel } from '../src/engine/model';
import { KernelProfiler, type KernelTotals } from '../src/engine/profiler';
import { openNodeGpu } from '../src/cli/node-gpu';
import { pathSource } from '../src/gguf/source-node';
import type { RandomModelSpec } from '../tests/fixtures/models';
import { cachedModel as cachedModelFile, seededTokens, SHAPES, warmUpTwin, type ShapeName } from './models';
import { measureSquareMatmul } from './matrices';
import { kernelTable, table } from './table';

/** The model's file under .cache/bench/, written on first use. */
const cachedModel = (label: string, spec: RandomModelSpec) => cachedModelFile(label, spec, log);

// ---------------------------------------------------------------------------------------------
// Streaming-read bandwidth: every invocation sums a grid-strided slice of a large buffer.

const READ_KERNEL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> data: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> sums: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * 256u;
  var acc = vec4<u32>(0u);
  // Adjacent invocations read adjacent 16-byte words: coalesced on GPUs.
  for (var i = gid.x; i < arrayLength(&data); i += stride) {
    acc += data[i];
  }
  sums[gid.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}`;
const READ_WORKGROUPS = 1024;

interface Bandwidth {
  readonly bytes: number;
  /** Best of the timed submissions, bytes per second. */
  readonly bestPerSecond: number;
  readonly medianPerSecond: number;
}

async function measureBandwidth(ctx: GpuContext, wantedBytes: number): Promise<Bandwidth> {
  const { device } = ctx;
  const limit = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize);
  const bytes = Math.floor(Math.min(wantedBytes, limit) / 16) * 16;
  const data = device.createBuffer({ label: 'bandwidth-data', size: bytes, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
  const words = new Uint32Array(data.getMappedRange());
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 2654435761);
  data.unmap();
  const sums = device.createBuffer({ label: 'bandwidth-sums', size: READ_WORKGROUPS * 256 * 4, usage: GPUBufferUsage.STORAGE });
  const pipeline = device.createComputePipeline({
    label: 'bandwidth-read',
    layout: 'auto',
    compute: { module: device.createShaderModule({ label: 'bandwidth-read', code: READ_KERNEL }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: data } },
      { binding: 1, resource: { buffer: sums } },
    ],
  });
  /** Seconds for `repeats` full reads in one submission. */
  const timedReads = async (repeats: number) => {
    const encoder = device.createCommandEncoder();
    for (let r = 0; r < repeats; r++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(READ_WORKGROUPS);
      pass.end();
    }
    const started = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - started) / 1000;
  };
  try {
    await timedReads(1); // warm-up: pipeline creation, first touch of the pages
    // Enough reads per submission that submit/wait overhead stays small (≥ ~0.2 s each).
    const single = await timedReads(1);
    const repeats = Math.max(1, Math.min(64, Math.ceil(0.2 / single)));
    const rates: number[] = [];
    for (let run = 0; run < 5; run++) rates.push((bytes * repeats) / (await timedReads(repeats)));
    ctx.assertAlive();
    rates.sort((a, b) => a - b);
    return { bytes, bestPerSecond: rates[rates.length - 1], medianPerSecond: rates[2] };
  } finally {
    data.destroy();
    sums.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Model timings.

interface ModelFigures {
  readonly name: ShapeName;
  readonly weightBytes: number;
  readonly loadSeconds: number;
  readonly promptTokens: number;
  /** Prompt in, first greedy token out (includes the output projection of the last row and the pick). */
  readonly prefillSeconds: number;
  readonly decodeTokens: number;
  readonly decodeSecondsPerToken: number;
  readonly plainSeconds: number;
  readonly exportSeconds: number;
  /** The plain generate() again with attention temperature 0.7 on every head (Attention Sharpening). */
  readonly sharpenedSeconds: number;
  /** Per-kernel GPU time of a profiled prefill and of profiled decode steps (timestamp-query). */
  readonly profile?: { prefill: KernelTotals[]; decode: KernelTotals[]; decodeSteps: number };
}

interface TokenCounts {
  readonly prompt: number;
  /** Timed decode steps (one more token is generated: the first comes from the prefill). */
  readonly decode: number;
}

/** Wall time of one generate() and when each token arrived (s since the start). */
async function timedGenerate(model: LoadedModel, prompt: number[], options: GenerateOptions) {
  const arrivals: number[] = [];
  const started = performance.now();
  const result = await model.generate(prompt, { ...options, onToken: () => arrivals.push((performance.now() - started) / 1000) });
  return { seconds: (performance.now() - started) / 1000, arrivals, result };
}

/** What the lab exports for every run: the decisive query's and each generated token's rows. */
const EXPORT_REQUEST: GenerateOptions['attention'] = { rows: 'last-and-generated' };

async function warmUp(ctx: GpuContext, spec: RandomModelSpec, promptTokens: number): Promise<void> {
  const started = performance.now();
  const twin = await loadModel(ctx, await pathSource(await cachedModel(`${spec.arch}-warm-up`, warmUpTwin(spec))));
  try {
    // Same prompt length as the timed runs, so the same kernels (matvec ≤ 4 tokens, tiled above) run.
    await twin.generate(seededTokens(promptTokens, twin.config.vocabSize, 3), { maxNewTokens: 2, attention: EXPORT_REQUEST });
  } finally {
    twin.dispose();
  }
  log(`  warm-up on a one-layer twin: ${seconds(performance.now() - started)} s`);
}

async function benchOne(ctx: GpuContext, name: ShapeName, counts: TokenCounts): Promise<ModelFigures> {
  const spec = SHAPES[name];
  const path = await cachedModel(name, spec);
  await warmUp(ctx, spec, counts.prompt);
  const started = performance.now();
  const model = await loadModel(ctx, await pathSource(path));
  const loadSeconds = (performance.now() - started) / 1000;
  log(`  loaded: ${mib(model.weightBytes)} MiB on the GPU in ${loadSeconds.toFixed(1)} s`);
  try {
    const prompt = seededTokens(counts.prompt, model.config.vocabSize, 7);
    // Token 0 arrives after the prefill, each later one after a decode step.
    const maxNewTokens = counts.decode + 1;
    // reuse: 'none' for both runs: otherwise the second resumes from the first one's KV cache and
    // skips the prefill (which once made the export "cost" −350 %).
    const plain = await timedGenerate(model, prompt, { maxNewTokens, logits: 'none', reuse: 'none' });
    const decodeSteps = plain.arrivals.length - 1;
    const last = plain.arrivals[plain.arrivals.length - 1];
    const decodeSecondsPerToken = decodeSteps > 0 ? (last - plain.arrivals[0]) / decodeSteps : NaN;
    log(
      `  prefill ${counts.prompt} tokens → first token: ${plain.arrivals[0].toFixed(2)} s; ` +
        `${decodeSteps} decode steps: ${(decodeSecondsPerToken * 1000).toFixed(1)} ms/token; whole run ${plain.seconds.toFixed(2)} s`,
    );
    const exported = await timedGenerate(model, prompt, { maxNewTokens, logits: 'none', attention: EXPORT_REQUEST, reuse: 'none' });
    log(`  same generate() with attention export: ${exported.seconds.toFixed(2)} s`);
    if (exported.result.generated.join() !== plain.result.generated.join()) log('  warning: attention export changed the generated tokens');
    model.setAttentionTemperature(0.7);
    const sharpened = await timedGenerate(model, prompt, { maxNewTokens, logits: 'none', reuse: 'none' });
    model.setAttentionTemperature(1);
    log(`  same generate() at attention temperature 0.7: ${sharpened.seconds.toFixed(2)} s`);
    const profile = ctx.caps.timestampQuery ? await profiled(ctx, model, prompt, counts.decode) : undefined;
    return {
      profile,
      name,
      weightBytes: model.weightBytes,
      loadSeconds,
      promptTokens: counts.prompt,
      prefillSeconds: plain.arrivals[0],
      decodeTokens: decodeSteps,
      decodeSecondsPerToken,
      plainSeconds: plain.seconds,
      exportSeconds: exported.seconds,
      sharpenedSeconds: sharpened.seconds,
    };
  } finally {
    model.dispose();
  }
}

/**
 * Per-kernel GPU time: one prefill (the prompt, then nothing), then the same prompt plus decode
 * steps resumed from the cached prompt, so the second run's kernels are the decode steps' only.
 */
async function profiled(ctx: GpuContext, model: LoadedModel, prompt: number[], decodeSteps: number) {
  const profiler = new KernelProfiler(ctx);
  ctx.profiler = profiler;
  try {
    await model.generate(prompt, { maxNewTokens: 1, logits: 'none', reuse: 'none' });
    await profiler.flush();
    const prefill = profiler.table();
    // Everything but the last prompt token is reused, so this run is one 1-token step for the last
    // prompt token, then decodeSteps decode steps: decodeSteps + 1 single-token forwards.
    profiler.reset();
    await model.generate(prompt, { maxNewTokens: decodeSteps + 1, logits: 'none', reuse: 'prefix' });
    await profiler.flush();
    return { prefill, decode: profiler.table(), decodeSteps: decodeSteps + 1 };
  } finally {
    ctx.profiler = undefined;
  }
}

// ---------------------------------------------------------------------------------------------

const log = (line: string) => process.stdout.write(`${line}\n`);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** Real GPUs: a 64-token prompt and 16 decode steps. */
const GPU_COUNTS: TokenCounts = { prompt: 64, decode: 16 };
/**
 * SwiftShader runs these models at seconds to minutes per token: the fewest tokens that still
 * exercise both matmul kernels (tiled above 4 tokens) and a decode step, to stay near 10 minutes.
 */
const SWIFTSHADER_COUNTS: Record<ShapeName, TokenCounts> = {
  'qwen2.5-0.5b': { prompt: 5, decode: 1 },
  'smollm2-135m': { prompt: 8, decode: 2 },
};

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: Object.keys(SHAPES).join(',') },
      prompt: { type: 'string' },
      decode: { type: 'string' },
      'bandwidth-mib': { type: 'string', default: '256' },
      // Runs the GPU kernels even on a CPU emulation (SwiftShader): the "before" of issue 17's tables.
      'gpu-kernels': { type: 'boolean', default: false },
    },
  });
  const names = values.models.split(',').map((n) => n.trim()) as ShapeName[];
  for (const n of names) if (!(n in SHAPES)) throw new Error(`Unknown bench model "${n}"; choose from ${Object.keys(SHAPES).join(', ')}.`);
  const benchStarted = performance.now();

  const ctx = await openNodeGpu(values['gpu-kernels'] ? { software: false } : {});
  try {
    const software = /swiftshader/i.test(ctx.adapter.description);
    const countsFor = (name: ShapeName): TokenCounts => {
      const base = software ? SWIFTSHADER_COUNTS[name] : GPU_COUNTS;
      return { prompt: values.prompt ? Number(values.prompt) : base.prompt, decode: values.decode ? Number(values.decode) : base.decode };
    };
    log(`adapter: ${ctx.adapter.description}${software ? ' (software: few tokens per model)' : ''}; kernels for ${ctx.caps.software ? 'CPU emulations' : 'GPUs'}`);
    const bandwidth = await measureBandwidth(ctx, Number(values['bandwidth-mib']) * 2 ** 20);
    log(
      `streaming read of ${mib(bandwidth.bytes)} MiB: best ${(bandwidth.bestPerSecond / 1e9).toFixed(2)} GB/s, median ${(bandwidth.medianPerSecond / 1e9).toFixed(2)} GB/s`,
    );
    const squareSize = software ? 512 : 2048;
    const squareRate = await measureSquareMatmul(ctx, squareSize);
    log(`square f32 matmul ${squareSize}³ with this adapter's prefill kernel: ${(squareRate / 1e9).toFixed(2)} GFLOP/s`);
    const figures: ModelFigures[] = [];
    for (const name of names) {
      log(`${name}:`);
      figures.push(await benchOne(ctx, name, countsFor(name)));
    }

    const gbps = bandwidth.bestPerSecond / 1e9;
    log('');
    log(`adapter: ${ctx.adapter.description}; floor = weight bytes / best streaming read (${gbps.toFixed(2)} GB/s)`);
    log(
      table(
        ['model', 'weights MiB', 'prompt', 'prefill tok/s', 'decode steps', 'decode tok/s', 'decode ms/tok', 'floor ms/tok', 'decode / floor', 'prefill GFLOP/s', 'of square', 'export share', 'T=0.7 share'],
        figures.map((f) => {
          const floor = f.weightBytes / bandwidth.bestPerSecond;
          // Matrix FLOPs of the prefill as the profiler counted them (2·M·N·K per matmul).
          const prefillFlops = f.profile?.prefill.reduce((sum, t) => sum + t.flops, 0);
          const prefillRate = prefillFlops !== undefined ? prefillFlops / f.prefillSeconds : NaN;
          return [
            f.name,
            mib(f.weightBytes),
            String(f.promptTokens),
            (f.promptTokens / f.prefillSeconds).toFixed(2),
            String(f.decodeTokens),
            (1 / f.decodeSecondsPerToken).toFixed(3),
            (f.decodeSecondsPerToken * 1000).toFixed(1),
            (floor * 1000).toFixed(2),
            `${(f.decodeSecondsPerToken / floor).toFixed(1)}x`,
            (prefillRate / 1e9).toFixed(2),
            `${((prefillRate / squareRate) * 100).toFixed(0)}%`,
            `${(((f.exportSeconds - f.plainSeconds) / f.exportSeconds) * 100).toFixed(1)}%`,
            `${(((f.sharpenedSeconds - f.plainSeconds) / f.sharpenedSeconds) * 100).toFixed(1)}%`,
          ];
        }),
      ),
    );
    log(
      'prefill tok/s = prompt / time to the first greedy token (includes the last row\'s logits and the pick); ' +
        "prefill GFLOP/s = the prefill's matrix FLOPs (2·M·N·K, as profiled) / its time, 'of square' its share of the square matmul rate; " +
        "export share = (t_with − t_without) / t_with for the same generate() with rows 'last-and-generated', both from an empty KV cache; " +
        'T=0.7 share: the same for attention temperature 0.7 on every head against 1.',
    );
    for (const f of figures) {
      if (!f.profile) continue;
      log('');
      log(`${f.name}: GPU time per kernel (timestamp-query, one pass per dispatch), prefill of ${f.promptTokens} tokens, per prompt token:`);
      log(kernelTable(f.profile.prefill, f.promptTokens));
      log('');
      log(`${f.name}: GPU time per kernel, ${f.profile.decodeSteps} single-token steps, per token:`);
      log(kernelTable(f.profile.decode, f.profile.decodeSteps));
    }
    if (!ctx.caps.timestampQuery) log('(no timestamp-query on this adapter: no per-kernel table)');
    log(`whole bench: ${seconds(performance.now() - benchStarted)} s`);
  } finally {
    ctx.destroy();
  }
}

try {
  await main();
  process.stdout.write('', () => process.exit(0));
} catch (e) {
  process.stderr.write(`${(e as Error).stack ?? e}\n`, () => process.exit(1));
}
