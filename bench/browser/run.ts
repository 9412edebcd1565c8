// Browser benchmark (`npm run bench:browser -- [--models a,b] [--prompt N] [--decode N] [--threads N,M]
// [--node] [--json FILE] [--verbose]`): our engine and the peer, llama.cpp's WASM build through
// @wllama/wllama, on the same random-weight Q8_0 GGUF in the same headless Chromium, and the
// ratios ours / peer for prefill and decode, measured in one run (DESIGN.md, "Measuring speed").

import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchChromium } from '../../tests/e2e/support/browser';
import { bundleBenchPage } from './bundle';
import { cachedModel, isShapeName, SHAPES, warmUpTwin, type ShapeName } from '../models';
import { table } from '../table';
import { wordPrompt } from './models';
import { nodeEngineFigures } from './node-bench';
import type { EngineFigures, RunRequest } from './protocol';
import { serveBench } from './server';

const WLLAMA_WASM = fileURLToPath(new URL('../../node_modules/@wllama/wllama/esm/wasm/wllama.wasm', import.meta.url));

/** The bench page: just the bundle (and a data: icon, so the browser asks for no favicon). */
const PAGE_HTML = (entry: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>Attention Slip Lab browser bench</title><link rel="icon" href="data:,">` +
  `<script type="module" src="/${entry}"></script></head><body></body></html>`;

const log = (line: string) => process.stdout.write(`${line}\n`);

interface Options {
  readonly models: readonly ShapeName[];
  readonly prompt: number;
  readonly decode: number;
  /** wllama's thread counts, one peer run each; undefined: the page's navigator.hardwareConcurrency. */
  readonly threads: readonly number[] | undefined;
  readonly node: boolean;
  readonly json: string | undefined;
  readonly verbose: boolean;
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} takes a whole number of at least 1, not "${text}".`);
  return value;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'smollm2-135m' },
      // SwiftShader runs the SmolLM2 shape at about a second per decoded token: 32 prompt tokens
      // reach the tiled matmul path (above 4 rows), 8 steps average out the per-step noise.
      prompt: { type: 'string', default: '32' },
      decode: { type: 'string', default: '8' },
      threads: { type: 'string' },
      node: { type: 'boolean', default: false },
      json: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const models = values.models.split(',').map((name) => name.trim());
  for (const name of models)
    if (!isShapeName(name)) throw new Error(`Unknown bench model "${name}"; choose from ${Object.keys(SHAPES).join(', ')}.`);
  return {
    models: models as ShapeName[],
    prompt: positiveInteger('prompt', values.prompt),
    decode: positiveInteger('decode', values.decode),
    threads: values.threads?.split(',').map((count) => positiveInteger('threads', count.trim())),
    node: values.node,
    json: values.json,
    verbose: values.verbose,
  };
}

/** One engine on a fresh page, so neither engine's memory or worker threads linger into the other's run. */
async function onFreshPage(
  browser: Browser,
  origin: string,
  verbose: boolean,
  run: (page: Page) => Promise<EngineFigures>,
): Promise<EngineFigures> {
  const page = await browser.newPage();
  const errors = collectPageErrors(page);
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith('[bench] ')) log(`  ${text.slice('[bench] '.length)}`);
    else if (verbose) log(`  page ${message.type()}: ${text}`);
  });
  try {
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.slipBench !== undefined, undefined, { timeout: 30_000 });
    return await run(page);
  } catch (e) {
    const seen = errors.length ? ` (the page reported: ${errors.slice(0, 3).map((error) => error.split('\n')[0]).join(' | ')})` : '';
    throw new Error(`${(e as Error).message.split('\n')[0]}${seen}`);
  } finally {
    await page.close();
  }
}

interface ModelRun {
  readonly model: ShapeName;
  /** One run per thread count. */
  readonly peers: readonly EngineFigures[];
  readonly ours: readonly EngineFigures[];
}

const prefillRate = (f: EngineFigures) => f.promptTokens / f.prefillSeconds;
const decodeRate = (f: EngineFigures) => 1 / f.decodeSecondsPerToken;

/** Ours against the peer at its best: the fastest peer run, per figure. */
function peerBest(peers: readonly EngineFigures[]) {
  return { prefill: Math.max(...peers.map(prefillRate)), decode: Math.max(...peers.map(decodeRate)) };
}

function report(runs: readonly ModelRun[]): string {
  const rows = runs.flatMap(({ model, peers, ours }) => {
    const best = peerBest(peers);
    const isPeer = (f: EngineFigures) => peers.includes(f);
    return [...peers, ...ours].map((f) => [
      model,
      f.engine,
      String(f.promptTokens),
      prefillRate(f).toFixed(2),
      String(f.decodeSteps),
      decodeRate(f).toFixed(2),
      (f.decodeSecondsPerToken * 1000).toFixed(0),
      isPeer(f) ? '-' : `${(prefillRate(f) / best.prefill).toFixed(2)}x`,
      isPeer(f) ? '-' : `${(decodeRate(f) / best.decode).toFixed(2)}x`,
    ]);
  });
  const devices = new Map(runs.flatMap(({ peers, ours }) => [...peers, ...ours].map((f) => [f.engine, f.device] as const)));
  return [
    ...[...devices].map(([engine, device]) => `${engine}: ${device}`),
    table(['model', 'engine', 'prompt', 'prefill tok/s', 'decode steps', 'decode tok/s', 'decode ms/tok', 'prefill ours/peer', 'decode ours/peer'], rows, 2),
    'prefill tok/s = prompt / time to the first greedy token; decode tok/s over the timed steps after it. The peer ' +
      "(llama.cpp's WASM build in @wllama/wllama) reports llama-server's own timings; ours is timed around generate() from an empty KV cache. " +
      'ours/peer: against the fastest peer run of each figure.',
  ].join('\n');
}

/**
 * Other processes on the machine, as the one-minute load average before the bench starts (later
 * it counts the bench itself). They hurt the threaded peer most: llama.cpp's threads meet at a
 * spinning barrier after every op, and one thread taken off its core stalls the other (on two busy
 * cores, 2-thread decode once ran ~20× slower than 1-thread).
 */
function loadNote(load: number): string {
  const cores = availableParallelism();
  const note = `load average ${load.toFixed(1)} on ${cores} cores before the bench started`;
  return load > cores / 2
    ? `warning: ${note}: other processes compete for the CPU, so the threaded peer's figures (and the ratios) are unreliable; rerun on an idle machine, or compare with --threads 1,2.`
    : note;
}

async function main() {
  const options = parseOptions();
  const started = performance.now();
  const loadAtStart = loadavg()[0];

  // Models first (written once, then reused), so the server's routes are fixed before it starts.
  const files = new Map<string, string>([['/wllama.wasm', WLLAMA_WASM]]);
  for (const name of options.models) {
    const spec = SHAPES[name];
    files.set(`/models/${name}.gguf`, await cachedModel(name, spec, log));
    files.set(`/models/${name}-warm-up.gguf`, await cachedModel(`${spec.arch}-warm-up`, warmUpTwin(spec), log));
  }
  const bundle = await bundleBenchPage();
  const memory = new Map<string, string | Uint8Array>([['/', PAGE_HTML(bundle.entry)]]);
  for (const [name, body] of bundle.files) memory.set(`/${name}`, body);
  const server = await serveBench({ memory, files });
  const browser = await launchChromium({ webgpu: true });
  const runs: ModelRun[] = [];
  try {
    log(`Chromium ${browser.version()} at ${server.origin}; models and page ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const model of options.models) {
      log(`${model}: ${options.prompt} prompt tokens, ${options.decode} decode steps`);
      const prompt = await wordPrompt(files.get(`/models/${model}.gguf`)!, options.prompt, 7);
      const request: RunRequest = {
        modelUrl: `/models/${model}.gguf`,
        warmUpUrl: `/models/${model}-warm-up.gguf`,
        prompt: prompt.ids,
        decodeSteps: options.decode,
      };
      const peers: EngineFigures[] = [];
      for (const threads of options.threads ?? [undefined])
        peers.push(
          await onFreshPage(browser, server.origin, options.verbose, async (page) =>
            page.evaluate((r) => window.slipBench!.wllama(r), {
              ...request,
              promptText: prompt.text,
              threads: threads ?? (await page.evaluate(() => navigator.hardwareConcurrency)),
              nativeLog: options.verbose,
            }),
          ),
        );
      const ours = [await onFreshPage(browser, server.origin, options.verbose, (page) => page.evaluate((r) => window.slipBench!.ours(r), request))];
      // After the browser runs, not beside them: the engines share two cores on the CI machines.
      if (options.node) ours.push(await nodeEngineFigures(model, options.prompt, options.decode, (line) => log(`  node: ${line}`)));
      runs.push({ model, peers, ours });
    }
  } finally {
    await browser.close();
    await server.close();
  }

  log('');
  log(report(runs));
  log(loadNote(loadAtStart));
  log(`whole bench: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (options.json) {
    const withRates = (f: EngineFigures) => ({ ...f, prefillTokensPerSecond: prefillRate(f), decodeTokensPerSecond: decodeRate(f) });
    const json = {
      when: new Date().toISOString(),
      promptTokens: options.prompt,
      decodeSteps: options.decode,
      loadAverageBefore: loadAtStart,
      cores: availableParallelism(),
      models: runs.map(({ model, peers, ours }) => {
        const best = peerBest(peers);
        return {
          model,
          peers: peers.map(withRates),
          ours: ours.map((f) => ({ ...withRates(f), prefillRatioToBestPeer: prefillRate(f) / best.prefill, decodeRatioToBestPeer: decodeRate(f) / best.decode })),
        };
      }),
    };
    await writeFile(options.json, `${JSON.stringify(json, null, 2)}\n`);
    log(`wrote ${options.json}`);
  }
}

try {
  await main();
  process.stdout.write('', () => process.exit(0));
} catch (e) {
  process.stderr.write(`${(e as Error).message ?? e}\n`, () => process.exit(1));
}
