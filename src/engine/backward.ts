// The gradient of a target's cross-entropy with respect to the prompt's input embeddings, on the
// GPU: a forward over prompt + target (but its last token) that keeps what the backward needs
// (forward.ts, SavedActivations), the logits of the target rows, then the backward through the
// layers in reverse (ops/backward.ts). Activation gradients only: no weight gradient is formed.
//
// Per layer, with dx = ∂L/∂(stream leaving the layer), accumulated into in place:
//   FFN:  dY = postNorm'(dx) · · · dAct = dY·W_down → (dGate, dUp) → dh = dGate·W_gate + dUp·W_up
//         → dx += rmsNorm'(xMid, dh)
//   attn: dY = postNorm'(dx) → dO = dY·W_o → (dq, dk, dv) → RoPE⁻¹ → q/k norm' → dh = dq·W_q +
//         dk·W_k + dv·W_v → dx += rmsNorm'(xIn, dh)
// and at the end ∂L/∂e_i = dx_i · embeddingScale · scale_i for the looked-up row e_i.

import type { GradientOptions, GradientResult } from './api';
import { MAX_GRADIENT_TOKENS } from './api';
import type { ModelConfig } from './config';
import { EngineInputError } from '../errors';
import { recordForward, recordLogits, type Activations, type AttentionTargets, type KvCache, type SavedActivations, type SavedLayer } from './forward';
import type { GpuContext } from './gpu';
import type { ModelWeights } from './model';
import { NO_SLOT } from './ops/attention';
import { recordAttentionBackward, recordCrossEntropyBackward, recordGluBackward, recordLinearBackward, recordRmsNormBackward } from './ops/backward';
import { LOGPROB_STATS, logprobFromStats } from './ops/logprob';
import { recordMatmul } from './ops/matmul';
import { recordRope } from './ops/rope';
import type { Recorder } from './recorder';
import { checkTokenIds } from './score-batch';

/** GPU memory a gradient may take for its activations and workspace (besides weights and KV cache). */
export const GRADIENT_MEMORY_LIMIT = 2 ** 31;

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A checked gradient request. */
export interface GradientPlan {
  readonly prompt: readonly number[];
  readonly target: readonly number[];
  /** The sequence fed: prompt + target without its last token (S = P + T − 1 positions). */
  readonly sequence: readonly number[];
  readonly scales?: Float32Array;
}

/** Bytes of each buffer a gradient of S positions and T target rows allocates, by label. */
export function gradientBuffers(config: ModelConfig, S: number, T: number): Map<string, number> {
  const { nLayer, nEmbd, nHead, nHeadKv, headDim, nFf, vocabSize, qkNorm, postNorms } = config;
  const qDim = nHead * headDim;
  const kvDim = nHeadKv * headDim;
  const sizes = new Map<string, number>();
  for (let l = 0; l < nLayer; l++) {
    const add = (name: string, floats: number) => sizes.set(`saved-${l}-${name}`, S * floats * 4);
    add('x-in', nEmbd);
    add('x-mid', nEmbd);
    add('q', qDim);
    add('gate', nFf);
    add('up', nFf);
    if (qkNorm) add('q-raw', qDim), add('k-raw', kvDim);
    if (postNorms) add('attn-proj', nEmbd), add('ffn-proj', nEmbd);
  }
  sizes.set('saved-x-out', S * nEmbd * 4);
  for (const name of ['dx', 'dh', 'dproj']) sizes.set(`grad-${name}`, S * nEmbd * 4);
  sizes.set('grad-act', S * nFf * 4);
  for (const name of ['attn-out', 'dq']) sizes.set(`grad-${name}`, S * qDim * 4);
  for (const name of ['dk', 'dv']) sizes.set(`grad-${name}`, S * kvDim * 4);
  for (const name of ['probs', 'dscores']) sizes.set(`grad-${name}`, nHead * S * S * 4);
  sizes.set('grad-logits', T * vocabSize * 4);
  sizes.set('grad-x-norm', T * nEmbd * 4);
  return sizes;
}

/** Validates a request and its memory; every problem is one sentence saying what to change. */
export function planGradient(ctx: GpuContext, config: ModelConfig, prompt: readonly number[], target: readonly number[], options: GradientOptions): GradientPlan {
  const { vocabSize, contextLength } = config;
  if (prompt.length === 0) throw new EngineInputError('The prompt is empty; give at least one token.');
  if (target.length === 0) throw new EngineInputError('The target is empty; give at least one target token to take the gradient of.');
  checkTokenIds([...prompt, ...target], vocabSize);
  const sequence = [...prompt, ...target.slice(0, -1)];
  const S = sequence.length;
  const limit = Math.min(MAX_GRADIENT_TOKENS, contextLength);
  if (S > limit)
    throw new EngineInputError(`A prompt of ${prompt.length} tokens and a target of ${target.length} are too long for a gradient; keep prompt + target within ${limit + 1} tokens.`);
  let scales: Float32Array | undefined;
  if (options.embeddingScales) {
    if (options.embeddingScales.length !== prompt.length)
      throw new EngineInputError(`embeddingScales has ${options.embeddingScales.length} values for a prompt of ${prompt.length} tokens; give one per prompt token.`);
    if (options.embeddingScales.some((s) => !Number.isFinite(s)))
      throw new EngineInputError('embeddingScales must be finite numbers; 1 leaves a token as it is.');
    scales = new Float32Array(S).fill(1);
    scales.set(options.embeddingScales);
  }
  const span = options.oneHot;
  if (span && !(Number.isInteger(span.start) && Number.isInteger(span.end) && 0 <= span.start && span.start < span.end && span.end <= prompt.length))
    throw new EngineInputError(`The one-hot span [${span.start}, ${span.end}) is not a non-empty range of prompt positions 0…${prompt.length - 1}.`);
  const sizes = gradientBuffers(config, S, target.length);
  const binding = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize);
  const largest = Math.max(...sizes.values(), span ? (span.end - span.start) * vocabSize * 4 : 0);
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (largest > binding || total > GRADIENT_MEMORY_LIMIT)
    throw new EngineInputError(
      largest > binding
        ? `The gradient of ${S} tokens needs a ${mib(largest)} buffer, over this GPU's limit of ${mib(binding)}; shorten the prompt or the target, or use a smaller model.`
        : `The gradient of ${S} tokens needs ${mib(total)} of GPU memory for its activations, over the ${mib(GRADIENT_MEMORY_LIMIT)} it may take; shorten the prompt or the target, or use a smaller model.`,
    );
  return { prompt, target, sequence, scales };
}

/** What a gradient runs on: the model's context, weights, recorder, activations and cache. */
export interface GradientEngine {
  readonly ctx: GpuContext;
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly rec: Recorder;
  readonly act: Activations;
  readonly kv: KvCache;
  /** The model's aux buffer: temperatures at [0, slotOffset), export slots after. */
  readonly aux: GPUBuffer;
  readonly slotOffset: number;
  /** Tokens per forward chunk (act's capacity). */
  readonly chunk: number;
  readonly map: (buffer: GPUBuffer) => Promise<void>;
}

export async function runGradient(e: GradientEngine, plan: GradientPlan, options: GradientOptions): Promise<GradientResult> {
  const { ctx, config, weights, rec, act, kv } = e;
  const { nEmbd, nHead, nHeadKv, headDim, nFf, vocabSize, rmsEps } = config;
  const { prompt, target, sequence } = plan;
  const P = prompt.length;
  const T = target.length;
  const S = sequence.length;
  const buffers: GPUBuffer[] = [];
  const sizes = gradientBuffers(config, S, T);
  const make = (label: string, bytes = sizes.get(label)!, usage = STORAGE()) => {
    const b = ctx.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
    buffers.push(b);
    return b;
  };
  const optional = (flag: boolean, label: string) => (flag ? make(label) : undefined);
  const check = () => {
    ctx.assertAlive();
    if (options.signal?.aborted) throw new DOMException('The gradient was cancelled.', 'AbortError');
  };
  try {
    const saved: SavedActivations = {
      layers: weights.layers.map((_, l): SavedLayer => ({
        xIn: make(`saved-${l}-x-in`),
        xMid: make(`saved-${l}-x-mid`),
        q: make(`saved-${l}-q`),
        gate: make(`saved-${l}-gate`),
        up: make(`saved-${l}-up`),
        qRaw: optional(config.qkNorm, `saved-${l}-q-raw`),
        kRaw: optional(config.qkNorm, `saved-${l}-k-raw`),
        attnProj: optional(config.postNorms, `saved-${l}-attn-proj`),
        ffnProj: optional(config.postNorms, `saved-${l}-ffn-proj`),
      })),
      xOut: make('saved-x-out'),
    };
    const positionScales = plan.scales && make('position-scales', S * 4);
    if (plan.scales && positionScales) ctx.device.queue.writeBuffer(positionScales, 0, plan.scales);
    const noExport: AttentionTargets = {
      aux: e.aux, slotOffset: e.slotOffset, rows: ctx.scratchPlaceholder, nSlots: 1, exportKeys: 1,
      map: make('attention-map-none', 16), mapLayer: -1, mapHead: NO_SLOT, mapKeys: 1,
    };
    // The forward, chunk by chunk, keeping activations; keys and values fill cache rows 0…S-1.
    ctx.device.queue.writeBuffer(e.aux, e.slotOffset * 4, new Uint32Array(e.chunk).fill(NO_SLOT));
    for (let start = 0; start < S; start += e.chunk) {
      check();
      const tokens = sequence.slice(start, start + e.chunk);
      ctx.device.queue.writeBuffer(act.tokens, 0, Uint32Array.from(tokens));
      recordForward(rec, ctx, config, weights, act, kv, noExport, {
        M: tokens.length, posStart: start, logitRows: 0, logits: ctx.scratchPlaceholder, save: saved, positionScales,
      });
      rec.submit();
    }

    // The loss and ∂L/∂(final norm's input) of the target rows P-1 … S-1.
    const logits = make('grad-logits');
    const xNorm = make('grad-x-norm');
    const targets = make('grad-targets', T * 4);
    const stats = make('grad-stats', T * LOGPROB_STATS * 4);
    ctx.device.queue.writeBuffer(targets, 0, Uint32Array.from(target));
    recordLogits(rec, ctx, config, weights, { x: saved.xOut, rowOffset: P - 1, rows: T, xNorm, logits });
    recordCrossEntropyBackward(rec, ctx, { logits, targets, stats, rows: T, vocab: vocabSize, cap: config.finalSoftcap });
    recordLinearBackward(rec, ctx, { weight: weights.output, dy: logits, dx: xNorm, M: T });
    const dx = make('grad-dx');
    rec.clear(dx);
    recordRmsNormBackward(rec, ctx, {
      x: saved.xOut, weight: weights.outputNorm, dy: xNorm, dx, rows: T, cols: nEmbd, eps: rmsEps, mode: 'write', xRowOffset: P - 1, dxRowOffset: P - 1,
    });
    rec.submit();

    const dh = make('grad-dh');
    const dproj = make('grad-dproj');
    const dAct = make('grad-act');
    const dAttnOut = make('grad-attn-out');
    const dq = make('grad-dq');
    const dk = make('grad-dk');
    const dv = make('grad-dv');
    const probs = make('grad-probs');
    const dscores = make('grad-dscores');
    const norm = (x: GPUBuffer, weight: GPUBuffer, dy: GPUBuffer, mode: 'write' | 'accumulate' | 'in-place', out?: GPUBuffer, rows = S, cols = nEmbd) =>
      recordRmsNormBackward(rec, ctx, { x, weight, dy, dx: out, rows, cols, eps: rmsEps, mode });
    for (let l = weights.layers.length - 1; l >= 0; l--) {
      check();
      const layer = weights.layers[l];
      const s = saved.layers[l];
      // FFN block: the stream's gradient dx reaches the down projection (through its post-norm).
      let dY = dx;
      if (layer.postFfnNorm && s.ffnProj) norm(s.ffnProj, layer.postFfnNorm, dx, 'write', (dY = dproj));
      recordLinearBackward(rec, ctx, { weight: layer.wDown, dy: dY, dx: dAct, M: S });
      recordGluBackward(rec, ctx, s.gate, s.up, dAct, S * nFf, config.ffnActivation);
      recordLinearBackward(rec, ctx, { weight: layer.wGate, dy: s.gate, dx: dh, M: S });
      recordLinearBackward(rec, ctx, { weight: layer.wUp, dy: s.up, dx: dh, M: S, accumulate: true });
      norm(s.xMid, layer.ffnNorm, dh, 'accumulate', dx);
      // Attention block.
      dY = dx;
      if (layer.postAttnNorm && s.attnProj) norm(s.attnProj, layer.postAttnNorm, dx, 'write', (dY = dproj));
      recordLinearBackward(rec, ctx, { weight: layer.wo, dy: dY, dx: dAttnOut, M: S });
      recordAttentionBackward(rec, ctx, {
        q: s.q, kv: kv.layers[l], dout: dAttnOut, aux: e.aux, probs, dscores, dq, dk, dv, M: S, nHead, nHeadKv, headDim,
        ctxLength: kv.positions, layer: l, scale: config.attentionScale, softcap: config.attnSoftcap,
        window: config.slidingLayers[l] ? config.slidingWindow : 0,
      });
      const rope = { table: kv.ropeTables[l], M: S, headDim, posStart: 0, style: config.ropeStyle, inverse: true };
      recordRope(rec, ctx, { ...rope, x: dq, nHeads: nHead });
      recordRope(rec, ctx, { ...rope, x: dk, nHeads: nHeadKv });
      if (layer.qNorm && layer.kNorm && s.qRaw && s.kRaw) {
        norm(s.qRaw, layer.qNorm, dq, 'in-place', undefined, S * nHead, headDim);
        norm(s.kRaw, layer.kNorm, dk, 'in-place', undefined, S * nHeadKv, headDim);
      }
      recordLinearBackward(rec, ctx, { weight: layer.wq, dy: dq, dx: dh, M: S });
      recordLinearBackward(rec, ctx, { weight: layer.wk, dy: dk, dx: dh, M: S, accumulate: true });
      recordLinearBackward(rec, ctx, { weight: layer.wv, dy: dv, dx: dh, M: S, accumulate: true });
      norm(s.xIn, layer.attnNorm, dh, 'accumulate', dx);
      rec.submit();
    }

    // Read back ∂L/∂x0 of the prompt rows and the target's log-probabilities.
    const gradBytes = P * nEmbd * 4;
    const statsBytes = T * LOGPROB_STATS * 4;
    const readback = make('grad-readback', gradBytes + statsBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    rec.copy(dx, 0, readback, 0, gradBytes);
    rec.copy(stats, 0, readback, gradBytes, statsBytes);
    rec.submit();
    await e.map(readback);
    ctx.assertAlive();
    const range = readback.getMappedRange();
    const grad = new Float32Array(range.slice(0, gradBytes));
    const statValues = new Float32Array(range.slice(gradBytes, gradBytes + statsBytes));
    readback.unmap();
    const logprobs = Float64Array.from(target, (_, r) => logprobFromStats(statValues, r));
    // From the stream's first values to the looked-up rows: x0_i = e_i · embeddingScale · scale_i.
    for (let i = 0; i < P; i++) {
      const factor = config.embeddingScale * (plan.scales?.[i] ?? 1);
      if (factor !== 1) for (let j = i * nEmbd; j < (i + 1) * nEmbd; j++) grad[j] *= factor;
    }
    const loss = -logprobs.reduce((a, b) => a + b, 0) / T;
    const oneHot = options.oneHot ? await oneHotGradient(e, grad, options.oneHot, make) : undefined;
    return { loss, logprobs, grad, ...(oneHot ? { oneHot } : {}) };
  } finally {
    for (const b of buffers) b.destroy();
  }
}

/** G = ∂L/∂e · Eᵀ for prompt rows [start, end): (end − start, vocab), the output of `recordMatmul` over E. */
async function oneHotGradient(
  e: GradientEngine,
  grad: Float32Array,
  span: { start: number; end: number },
  make: (label: string, bytes: number, usage?: number) => GPUBuffer,
): Promise<Float32Array> {
  const { ctx, config, weights, rec } = e;
  const n = span.end - span.start;
  const rows = make('one-hot-rows', n * config.nEmbd * 4);
  const out = make('one-hot', n * config.vocabSize * 4);
  const readback = make('one-hot-readback', n * config.vocabSize * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  ctx.device.queue.writeBuffer(rows, 0, grad.subarray(span.start * config.nEmbd, span.end * config.nEmbd));
  recordMatmul(rec, ctx, { weight: weights.embedding, x: rows, y: out, M: n });
  rec.copy(out, 0, readback, 0, n * config.vocabSize * 4);
  rec.submit();
  await e.map(readback);
  ctx.assertAlive();
  const values = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  return values;
}
