// The transformer forward graph for one chunk of tokens, recorded as GPU dispatches.
// One token's path: embedding (· scale) → per layer [RMSNorm → q,k,v (+bias) → (q/k head norm)
// → RoPE → KV cache → attention (soft-cap, temperature, window, export) → output proj →
// (post-norm) → residual → RMSNorm → gated FFN (SwiGLU or GeGLU) → (post-norm) → residual]
// (without post-norms each residual add is the projection's own write: ACCUMULATE)
// → final RMSNorm → logits (→ soft-cap).

import { layerRope, type ModelConfig } from './config';
import type { GpuContext, PipelineKey } from './gpu';
import type { ModelWeights } from './model';
import { attentionKernels, attentionPipeline, recordAttention } from './ops/attention';
import { addPipeline, gluPipeline, recordAdd, recordGatedActivation, recordSoftcap, softcapPipeline } from './ops/elementwise';
import { embeddingPipeline, recordEmbedding } from './ops/embedding';
import { linearKernels, linearPipelines, recordMatmul } from './ops/matmul';
import { rmsNormPipeline, recordRmsNorm } from './ops/rmsnorm';
import { recordRope, ropePipeline, ropeTable } from './ops/rope';
import { logprobPipeline } from './ops/logprob';
import { samplePipeline } from './ops/sample';
import type { Binding, Recorder } from './recorder';

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Activation buffers sized for `capacity` tokens per chunk. */
export class Activations {
  readonly tokens: GPUBuffer;   // (capacity) u32
  readonly x: GPUBuffer;        // (capacity, nEmbd) residual stream
  readonly xNorm: GPUBuffer;    // (capacity, nEmbd)
  readonly q: GPUBuffer;        // (capacity, nHead · headDim)
  readonly k: GPUBuffer;        // (capacity, nHeadKv · headDim)
  readonly v: GPUBuffer;        // (capacity, nHeadKv · headDim)
  readonly attnOut: GPUBuffer;  // (capacity, nHead · headDim)
  readonly proj: GPUBuffer;     // (capacity, nEmbd)
  readonly gate: GPUBuffer;     // (capacity, nFf)
  readonly up: GPUBuffer;       // (capacity, nFf)

  constructor(ctx: GpuContext, readonly config: ModelConfig, readonly capacity: number) {
    const make = (label: string, floats: number) => ctx.device.createBuffer({ label, size: Math.max(16, floats * 4), usage: STORAGE() });
    const { nEmbd, nHead, nHeadKv, headDim, nFf } = config;
    this.tokens = make('tokens', capacity);
    this.x = make('x', capacity * nEmbd);
    this.xNorm = make('x-norm', capacity * nEmbd);
    this.q = make('q', capacity * nHead * headDim);
    this.k = make('k', capacity * nHeadKv * headDim);
    this.v = make('v', capacity * nHeadKv * headDim);
    this.attnOut = make('attn-out', capacity * nHead * headDim);
    this.proj = make('proj', capacity * nEmbd);
    this.gate = make('ffn-gate', capacity * nFf);
    this.up = make('ffn-up', capacity * nFf);
  }

  destroy() {
    for (const b of [this.tokens, this.x, this.xNorm, this.q, this.k, this.v, this.attnOut, this.proj, this.gate, this.up]) b.destroy();
  }
}

/**
 * Per layer (2, ctx, nHeadKv, headDim): keys then values, position-major so a chunk's K/V copy
 * in one piece; plus the RoPE cos/sin table of each layer for the same positions (one table per
 * distinct base: Gemma 3's sliding and global layers differ).
 */
export class KvCache {
  readonly layers: GPUBuffer[];
  /** Per layer: its RoPE table (layers with the same base share one buffer). */
  readonly ropeTables: GPUBuffer[];
  private readonly tableBuffers: GPUBuffer[] = [];
  constructor(ctx: GpuContext, readonly config: ModelConfig, readonly positions: number, ropeFactors?: Float32Array) {
    const byKey = new Map<string, GPUBuffer>();
    this.ropeTables = Array.from({ length: config.nLayer }, (_, l) => {
      const { base, freqScale } = layerRope(config, l);
      const key = `${base}:${freqScale}`;
      let buffer = byKey.get(key);
      if (!buffer) {
        const table = ropeTable(positions, config.headDim, base, ropeFactors, freqScale);
        buffer = ctx.device.createBuffer({ label: `rope-table-${base}`, size: table.byteLength, usage: STORAGE() });
        ctx.device.queue.writeBuffer(buffer, 0, table);
        byKey.set(key, buffer);
        this.tableBuffers.push(buffer);
      }
      return buffer;
    });
    const bytes = 2 * positions * config.nHeadKv * config.headDim * 4;
    this.layers = Array.from({ length: config.nLayer }, (_, l) =>
      ctx.device.createBuffer({ label: `kv-${l}`, size: bytes, usage: STORAGE() }),
    );
  }
  destroy() {
    for (const b of this.layers) b.destroy();
    for (const b of this.tableBuffers) b.destroy();
  }
}

/** Where attention probabilities go; see shaders/attention.wgsl. */
export interface AttentionTargets {
  readonly aux: GPUBuffer;
  readonly slotOffset: number;
  readonly rows: GPUBuffer;
  readonly nSlots: number;
  readonly exportKeys: number;
  readonly map: GPUBuffer;
  readonly mapLayer: number;
  readonly mapHead: number;
  readonly mapKeys: number;
}

export interface ForwardStep {
  readonly M: number;
  readonly posStart: number;
  /** Logits for the last `logitRows` tokens of the chunk (0: none). */
  readonly logitRows: number;
  readonly logits: GPUBuffer;
  /**
   * 0 or absent: the chunk is one sequence at positions posStart…. > 0: it is M / seqLen sequences
   * of seqLen tokens, each continuing positions [0, posStart) at positions posStart…posStart+seqLen-1,
   * their K/V one after another from cache row posStart (see shaders/attention.wgsl).
   */
  readonly seqLen?: number;
  /** Per-position embedding factors (GenerateOptions.embeddingScales) from buffer index posStart. */
  readonly positionScales?: GPUBuffer;
  /** Copies of what the backward needs, at rows posStart… (the gradient's forward). */
  readonly save?: SavedActivations;
}

/**
 * What the backward (backward.ts) needs of a forward, per layer, for every position of the
 * sequence: each RMSNorm's input (the stream entering the layer and after its attention; the
 * pre-norm q and k with per-head norms; the projections before post-norms), q after RoPE (keys
 * and values stay in the KV cache), and the FFN's gate and up before the activation.
 */
export interface SavedLayer {
  readonly xIn: GPUBuffer;   // (rows, nEmbd)
  readonly xMid: GPUBuffer;  // (rows, nEmbd)
  readonly q: GPUBuffer;     // (rows, nHead·headDim)
  readonly gate: GPUBuffer;  // (rows, nFf)
  readonly up: GPUBuffer;    // (rows, nFf)
  readonly qRaw?: GPUBuffer; // (rows, nHead·headDim), with q/k norms
  readonly kRaw?: GPUBuffer; // (rows, nHeadKv·headDim), with q/k norms
  readonly attnProj?: GPUBuffer; // (rows, nEmbd), with post-norms
  readonly ffnProj?: GPUBuffer;  // (rows, nEmbd), with post-norms
}

export interface SavedActivations {
  readonly layers: readonly SavedLayer[];
  /** (rows, nEmbd): the stream entering the final RMSNorm. */
  readonly xOut: GPUBuffer;
}

const NONE = 0xffffffff;
/**
 * Storage bindings may start only at multiples of the device's minStorageBufferOffsetAlignment,
 * which WebGPU caps at 256 bytes: offsets that are multiples of 256 are valid on every device.
 */
const STORAGE_OFFSET_ALIGNMENT = 256;

export function recordForward(
  rec: Recorder,
  ctx: GpuContext,
  config: ModelConfig,
  weights: ModelWeights,
  act: Activations,
  kv: KvCache,
  targets: AttentionTargets,
  step: ForwardStep,
): void {
  const { M, posStart } = step;
  const { nEmbd, nHead, nHeadKv, headDim, nFf, rmsEps } = config;
  const kvRowBytes = nHeadKv * headDim * 4;
  const positionScales = step.positionScales && { buffer: step.positionScales, start: posStart };
  recordEmbedding(rec, ctx, { embedding: weights.embedding, tokens: act.tokens, out: act.x, M, scale: config.embeddingScale, positionScales });
  // The backward's copies: rows [posStart, posStart + M) of a saved buffer of `width` floats a row.
  const keep = (src: Binding, to: GPUBuffer | undefined, width: number) => {
    if (!to) return;
    const { buffer, offset = 0 } = src instanceof GPUBuffer ? { buffer: src } : src;
    rec.copy(buffer, offset, to, posStart * width * 4, M * width * 4);
  };
  weights.layers.forEach((layer, l) => {
    const saved = step.save?.layers[l];
    keep(act.x, saved?.xIn, nEmbd);
    recordRmsNorm(rec, ctx, { x: act.x, weight: layer.attnNorm, out: act.xNorm, rows: M, cols: nEmbd, eps: rmsEps });
    // Keys and values go straight into this chunk's cache rows (then RoPE rotates the keys there)
    // where those rows start on a storage-binding boundary; otherwise through act.k / act.v and a copy.
    const kRows = { buffer: kv.layers[l], offset: posStart * kvRowBytes, size: M * kvRowBytes };
    const vRows = { buffer: kv.layers[l], offset: (kv.positions + posStart) * kvRowBytes, size: M * kvRowBytes };
    const direct = kRows.offset % STORAGE_OFFSET_ALIGNMENT === 0 && vRows.offset % STORAGE_OFFSET_ALIGNMENT === 0;
    const kOut = direct ? kRows : act.k;
    recordMatmul(rec, ctx, { weight: layer.wq, x: act.xNorm, y: act.q, M, bias: layer.bq });
    recordMatmul(rec, ctx, { weight: layer.wk, x: act.xNorm, y: kOut, M, bias: layer.bk });
    recordMatmul(rec, ctx, { weight: layer.wv, x: act.xNorm, y: direct ? vRows : act.v, M, bias: layer.bv });
    if (layer.qNorm && layer.kNorm) {
      keep(act.q, saved?.qRaw, nHead * headDim);
      keep(kOut, saved?.kRaw, nHeadKv * headDim);
      recordRmsNorm(rec, ctx, { x: act.q, weight: layer.qNorm, rows: M * nHead, cols: headDim, eps: rmsEps });
      recordRmsNorm(rec, ctx, { x: kOut, weight: layer.kNorm, rows: M * nHeadKv, cols: headDim, eps: rmsEps });
    }
    const rope = { table: kv.ropeTables[l], M, headDim, posStart, style: config.ropeStyle, seqLen: step.seqLen };
    recordRope(rec, ctx, { ...rope, x: act.q, nHeads: nHead });
    recordRope(rec, ctx, { ...rope, x: kOut, nHeads: nHeadKv });
    keep(act.q, saved?.q, nHead * headDim);
    if (!direct) {
      rec.copy(act.k, 0, kv.layers[l], kRows.offset, kRows.size);
      rec.copy(act.v, 0, kv.layers[l], vRows.offset, vRows.size);
    }
    recordAttention(rec, ctx, {
      q: act.q,
      kv: kv.layers[l],
      out: act.attnOut,
      aux: targets.aux,
      rows: targets.rows,
      map: targets.map,
      M,
      queryStart: posStart,
      nHead,
      nHeadKv,
      headDim,
      ctxLength: kv.positions,
      layer: l,
      nSlots: targets.nSlots,
      exportKeys: targets.exportKeys,
      // The map is (mapKeys × mapKeys) over the prompt: decode steps must not write into it.
      mapHead: l === targets.mapLayer && posStart + M <= targets.mapKeys ? targets.mapHead : NONE,
      mapKeys: targets.mapKeys,
      slotOffset: targets.slotOffset,
      scale: config.attentionScale,
      softcap: config.attnSoftcap,
      window: config.slidingLayers[l] ? config.slidingWindow : 0,
      seqLen: step.seqLen,
    });
    // The residual add rides on the output projection's write (ACCUMULATE) unless a post-norm
    // (Gemma) must see the projection alone first.
    if (layer.postAttnNorm) {
      recordMatmul(rec, ctx, { weight: layer.wo, x: act.attnOut, y: act.proj, M });
      keep(act.proj, saved?.attnProj, nEmbd);
      recordRmsNorm(rec, ctx, { x: act.proj, weight: layer.postAttnNorm, rows: M, cols: nEmbd, eps: rmsEps });
      recordAdd(rec, ctx, act.x, act.proj, M * nEmbd);
    } else recordMatmul(rec, ctx, { weight: layer.wo, x: act.attnOut, y: act.x, M, accumulate: true });
    keep(act.x, saved?.xMid, nEmbd);
    recordRmsNorm(rec, ctx, { x: act.x, weight: layer.ffnNorm, out: act.xNorm, rows: M, cols: nEmbd, eps: rmsEps });
    recordMatmul(rec, ctx, { weight: layer.wGate, x: act.xNorm, y: act.gate, M });
    recordMatmul(rec, ctx, { weight: layer.wUp, x: act.xNorm, y: act.up, M });
    keep(act.gate, saved?.gate, nFf);
    keep(act.up, saved?.up, nFf);
    recordGatedActivation(rec, ctx, act.gate, act.up, M * nFf, config.ffnActivation);
    if (layer.postFfnNorm) {
      recordMatmul(rec, ctx, { weight: layer.wDown, x: act.gate, y: act.proj, M });
      keep(act.proj, saved?.ffnProj, nEmbd);
      recordRmsNorm(rec, ctx, { x: act.proj, weight: layer.postFfnNorm, rows: M, cols: nEmbd, eps: rmsEps });
      recordAdd(rec, ctx, act.x, act.proj, M * nEmbd);
    } else recordMatmul(rec, ctx, { weight: layer.wDown, x: act.gate, y: act.x, M, accumulate: true });
  });
  keep(act.x, step.save?.xOut, nEmbd);
  const rows = step.logitRows;
  if (rows > 0) recordLogits(rec, ctx, config, weights, { x: act.x, rowOffset: M - rows, rows, xNorm: act.xNorm, logits: step.logits });
}

/** Final RMSNorm, output matrix and soft-cap: logits (rows, vocab) of x's rows [rowOffset, rowOffset + rows). */
export function recordLogits(
  rec: Recorder,
  ctx: GpuContext,
  config: ModelConfig,
  weights: ModelWeights,
  a: { x: GPUBuffer; rowOffset: number; rows: number; xNorm: GPUBuffer; logits: GPUBuffer },
): void {
  const { nEmbd, rmsEps } = config;
  recordRmsNorm(rec, ctx, { x: a.x, weight: weights.outputNorm, out: a.xNorm, rows: a.rows, cols: nEmbd, eps: rmsEps, inRowOffset: a.rowOffset });
  recordMatmul(rec, ctx, { weight: weights.output, x: a.xNorm, y: a.logits, M: a.rows });
  if (config.finalSoftcap > 0) recordSoftcap(rec, ctx, a.logits, a.rows * config.vocabSize, config.finalSoftcap);
}

/** Every pipeline variant `recordForward` and generation will use for this model. */
export function forwardPipelines(ctx: GpuContext, config: ModelConfig, weights: ModelWeights): PipelineKey[] {
  const matrices = [weights.output, ...weights.layers.flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown])];
  const list: PipelineKey[] = [];
  const seen = new Set<string>();
  const add = (key: PipelineKey) => {
    const id = JSON.stringify(key);
    if (!seen.has(id)) seen.add(id), list.push(key);
  };
  for (const m of matrices)
    for (const kernel of linearKernels(ctx.caps))
      for (const bias of config.qkvBias ? [false, true] : [false]) for (const key of linearPipelines(kernel, m.type, bias)) add(key);
  // The output and down projections write into the residual stream (ACCUMULATE) unless post-normed.
  if (!config.postNorms)
    for (const m of weights.layers.flatMap((l) => [l.wo, l.wDown]))
      for (const kernel of linearKernels(ctx.caps)) for (const key of linearPipelines(kernel, m.type, false, true)) add(key);
  add(embeddingPipeline(weights.embedding.type));
  for (const inPlace of config.qkNorm || config.postNorms ? [false, true] : [false]) add(rmsNormPipeline(inPlace, ctx.caps.software));
  add(ropePipeline(config.ropeStyle));
  for (const kernel of attentionKernels(ctx.caps)) add(attentionPipeline(kernel));
  add(addPipeline());
  add(gluPipeline(config.ffnActivation));
  if (config.finalSoftcap > 0) add(softcapPipeline());
  add(samplePipeline(true));
  add(samplePipeline(false));
  add(logprobPipeline());
  return list;
}
