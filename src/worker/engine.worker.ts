// The engine in a module Web Worker: downloads (into the browser cache) and loads the model,
// loads the tokenizer, and runs lab scenarios, so the page never freezes. One model at a time;
// requests run one after another, and a cancel aborts the one it names.

/// <reference lib="webworker" />

import { tooBigSentence } from '../../models/catalogue';
import { deleteCached, openModelSource } from '../download';
import { configFromGguf } from '../engine/config';
import { estimateGpuMemory } from '../engine/memory';
import { DeviceLimitError, NotGgufError } from '../errors';
import { openGguf } from '../gguf/reader';
import { runSelfTest } from '../selftest/selftest';
import { loadModel } from '../engine/model';
import { GpuContext } from '../engine/gpu';
import { browserPlatform } from '../engine/platform-browser';
import type { LoadedModel } from '../engine/api';
import { blobSource, type ByteSource } from '../gguf/source';
import { computeMap, rerunDefense, runScenario } from '../lab/runner';
import { runSweep } from '../lab/sweep';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Lab } from '../lab/scenario';
import { loadHubTokenizer, tokenizerFromJson, checkTokenizerFitsModel, type ChatTokenizer } from '../tokenizer/tokenizer';
import type { ModelHash, ModelSource, Request, Response, TokenizerSource, WireError } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

let context: Promise<GpuContext> | undefined;
let lab: Lab | undefined;
/** The loaded model's bytes, and their hash once asked for (the report names the exact file). */
let modelSource: ByteSource | undefined;
let modelHash: Promise<ModelHash> | undefined;
const controllers = new Map<number, AbortController>();
let queue: Promise<unknown> = Promise.resolve();

const post = (message: Response) => self.postMessage(message);

function wireError(error: unknown): WireError {
  if (error instanceof DOMException && error.name === 'AbortError') return { name: 'AbortError', message: 'Cancelled.' };
  if (error instanceof Error) return { name: error.name, message: error.message || String(error) };
  return { name: 'Error', message: String(error) };
}

function gpu(): Promise<GpuContext> {
  context ??= GpuContext.create(browserPlatform()).then((ctx) => {
    void ctx.lost.then(({ intended, message }) => {
      if (intended) return;
      lab = undefined;
      context = undefined;
      post({
        type: 'device-lost',
        message: `The GPU device was lost (${message || 'no reason given'}); load the model again, or pick a smaller one if this repeats.`,
      });
    });
    return ctx;
  });
  context.catch(() => (context = undefined));
  return context;
}

async function tokenizerFor(source: TokenizerSource): Promise<ChatTokenizer> {
  if (source.kind === 'hub') return loadHubTokenizer(source.repo, { hub: source.hub });
  return tokenizerFromJson(JSON.parse(source.tokenizerJson), JSON.parse(source.tokenizerConfig), source.name);
}

/** Refuses a model whose estimated GPU memory is over the page's budget, naming a catalogue model that fits. */
async function checkMemory(source: ByteSource, label: string, budget: number | undefined): Promise<void> {
  if (budget === undefined) return;
  const file = await openGguf(source);
  const estimate = estimateGpuMemory(file, configFromGguf(file));
  if (estimate.total <= budget) return;
  throw new DeviceLimitError(tooBigSentence(label, estimate.total, budget));
}

/**
 * A download that is not a GGUF file at all (an HTML error page, a wrong link) is removed from the
 * browser's storage at once, so it is neither kept nor counted as a saved model; the sentence
 * saying what it is still reaches the user.
 */
async function dropIfNotGguf(source: ByteSource, lookup: { url: string }): Promise<void> {
  try {
    await openGguf(source);
  } catch (e) {
    if (e instanceof NotGgufError) await deleteCached(lookup).catch(() => false);
    throw e;
  }
}

async function load(id: number, model: ModelSource, tokenizerSource: TokenizerSource, signal: AbortSignal, memoryBudget?: number) {
  const ctx = await gpu();
  lab?.model.dispose();
  lab = undefined;
  modelSource = undefined;
  modelHash = undefined;
  let source: ByteSource;
  let cached = false;
  let note: string | undefined;
  if (model.kind === 'file') {
    source = blobSource(model.file);
  } else {
    const opened = await openModelSource({ url: model.url, ...(model.name ? { name: model.name } : {}) }, {
      signal,
      onProgress: (p) =>
        post({
          type: 'load-progress',
          id,
          progress: { phase: 'download', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond, secondsLeft: p.secondsLeft },
        }),
    });
    source = opened.source;
    // From the cache only when nothing had to be fetched now.
    cached = opened.cached && !opened.downloaded;
    note = opened.note;
  }
  if (model.kind === 'url') await dropIfNotGguf(source, { url: model.url });
  await checkMemory(source, model.kind === 'url' ? (model.name ?? model.id) : model.file.name, memoryBudget);
  post({ type: 'load-progress', id, progress: { phase: 'tokenizer', bytesDone: 0, bytesTotal: 1 } });
  const tokenizer = await tokenizerFor(tokenizerSource);
  if (signal.aborted) throw new DOMException('Cancelled.', 'AbortError');
  const loaded: LoadedModel = await loadModel(ctx, source, {
    onProgress: (p) => post({ type: 'load-progress', id, progress: { phase: 'upload', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal } }),
  });
  try {
    // A cancel during the upload lands here: the weights are on the GPU, but nobody wants them.
    if (signal.aborted) throw new DOMException('Cancelled.', 'AbortError');
    checkTokenizerFitsModel(tokenizer, loaded.config.vocabSize);
  } catch (e) {
    loaded.dispose();
    throw e;
  }
  const tokenizerName = tokenizerSource.kind === 'hub' ? tokenizerSource.repo : tokenizerSource.name;
  modelSource = source;
  lab = {
    model: loaded,
    tokenizer,
    modelInfo: { id: model.id, file: model.kind === 'file' ? model.file.name : model.url },
    tokenizerId: tokenizerName,
    engineInfo: { backend: 'webgpu', adapter: ctx.adapter.description },
  };
  const { config } = loaded;
  post({
    type: 'loaded',
    id,
    model: {
      id: model.id,
      architecture: config.arch,
      nLayer: config.nLayer,
      nHead: config.nHead,
      nHeadKv: config.nHeadKv,
      nEmbd: config.nEmbd,
      contextLength: config.contextLength,
      vocabSize: config.vocabSize,
      weightBytes: loaded.weightBytes,
      fileBytes: await source.size(),
      cached,
      ...(note ? { note } : {}),
      tokenizer: tokenizerName,
    },
  });
}

/** SHA-256 of the model file, read in 16 MiB slices so a large model never sits in memory twice. */
async function hashSource(source: ByteSource, signal: AbortSignal): Promise<ModelHash> {
  const bytes = await source.size();
  const hash = sha256.create();
  const slice = 16 * 2 ** 20;
  for (let offset = 0; offset < bytes; offset += slice) {
    if (signal.aborted) throw new DOMException('Cancelled.', 'AbortError');
    hash.update(await source.read(offset, Math.min(slice, bytes - offset)));
  }
  return { sha256: bytesToHex(hash.digest()), bytes };
}

function requireLab(): Lab {
  if (!lab) throw new Error('No model is loaded; load a model first.');
  return lab;
}

async function handle(request: Exclude<Request, { type: 'cancel' }>, signal: AbortSignal) {
  switch (request.type) {
    case 'probe': {
      try {
        const ctx = await gpu();
        post({ type: 'probed', id: request.id, adapter: { description: ctx.adapter.description, features: ctx.adapter.features } });
      } catch (e) {
        post({ type: 'probed', id: request.id, adapter: null, reason: wireError(e).message });
      }
      return;
    }
    case 'load':
      return load(request.id, request.model, request.tokenizer, signal, request.memoryBudget);
    case 'run': {
      const trace = await runScenario(requireLab(), request.scenario, {
        signal,
        onProgress: (progress) => post({ type: 'lab-progress', id: request.id, progress }),
        onStep: (step, { steps: _steps, ...header }) => post({ type: 'step', id: request.id, step, trace: header }),
      });
      post({ type: 'done', id: request.id, trace });
      return;
    }
    case 'rerun-defense': {
      const trace = await rerunDefense(requireLab(), request.trace, request.defense, {
        signal,
        ...(request.compare ? { compare: request.compare } : {}),
        onProgress: (progress) => post({ type: 'lab-progress', id: request.id, progress }),
      });
      post({ type: 'done', id: request.id, trace });
      return;
    }
    case 'self-test': {
      const result = await runSelfTest(await gpu(), lab ? { model: lab.model, name: lab.modelInfo.id } : undefined);
      post({ type: 'self-test-done', id: request.id, result });
      return;
    }
    case 'sweep': {
      const result = await runSweep(requireLab(), {
        ...request.options,
        signal,
        onProgress: (progress) => post({ type: 'sweep-progress', id: request.id, progress }),
      });
      post({ type: 'sweep-done', id: request.id, result });
      return;
    }
    case 'model-hash': {
      const source = modelSource;
      if (!source) throw new Error('No model is loaded; load a model first.');
      const pending = (modelHash ??= hashSource(source, signal));
      // A cancelled or failed read is not remembered: the next report tries again.
      pending.catch(() => {
        if (modelHash === pending) modelHash = undefined;
      });
      post({ type: 'model-hash-done', id: request.id, hash: await pending });
      return;
    }
    case 'map': {
      const map = await computeMap(requireLab(), request.tokens, { layer: request.layer, head: request.head }, request.defense, signal, request.embeddingScales);
      post({ type: 'map-done', id: request.id, map });
      return;
    }
  }
}

self.onmessage = (event: MessageEvent<Request>) => {
  const request = event.data;
  if (request.type === 'cancel') {
    controllers.get(request.target)?.abort();
    return;
  }
  const controller = new AbortController();
  controllers.set(request.id, controller);
  const run = async () => {
    try {
      if (controller.signal.aborted) throw new DOMException('Cancelled.', 'AbortError');
      await handle(request, controller.signal);
    } catch (e) {
      post({ type: 'error', id: request.id, error: wireError(e) });
    } finally {
      controllers.delete(request.id);
    }
  };
  // One request at a time: the model and its KV cache are shared state.
  queue = queue.then(run, run);
};
