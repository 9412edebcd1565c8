// LoadedModel on the GPU: prefill in chunks, greedy or sampled decode, attention export (rows
// of chosen queries, one head's full map), and scoring many continuations of one prefix at once.

import {
  MAX_SCORED_CONTINUATION,
  type GenerateOptions,
  type GenerateResult,
  type GradientOptions,
  type GradientResult,
  type LoadedModel,
  type LogprobsBatchOptions,
  type LogprobsOptions,
  type SamplingOptions,
} from './api';
import { planGradient, runGradient } from './backward';
import type { ModelConfig } from './config';
import { EngineInputError, NonFiniteOutputError } from '../errors';
import { Activations, KvCache, recordForward, recordLogits, type AttentionTargets } from './forward';
import type { GpuContext } from './gpu';
import type { ModelWeights } from './model';
import { NO_SLOT } from './ops/attention';
import { LOGPROB_STATS, logprobFromStats, recordLogprobStats } from './ops/logprob';
import { recordSample } from './ops/sample';
import { Recorder } from './recorder';
import { checkScoringBatch, checkTokenIds, planSequenceChunks, type ScoringBatchShape } from './score-batch';
import { mulberry32 } from '../util/random';

/**
 * Tokens per prefill chunk: bounds activation memory for long prompts. A scored continuation, or
 * one sequence of a scoring batch, fits in one.
 */
const PREFILL_CHUNK = MAX_SCORED_CONTINUATION;
/** Logits of the sampled row read back to check they are finite when no logits were asked for. */
const PROBE_LOGITS = 256;

/** A model on the GPU with its KV cache and activations: prefill, decode, scoring, export. */
export class GpuModel implements LoadedModel {
  private readonly rec: Recorder;
  private act: Activations | undefined;
  private kv: KvCache | undefined;
  private readonly aux: GPUBuffer;
  private readonly slotOffset: number;
  private readonly sampled: GPUBuffer;
  private disposed = false;
  private busy = false;
  /**
   * Tokens whose keys and values the KV cache holds at positions 0…n-1, so a prompt sharing
   * that prefix resumes after it (attack steps and suffix candidates share long prefixes).
   */
  private cachedTokens: number[] = [];
  /** The embedding factor of each cached position (GenerateOptions.embeddingScales); absent = all 1. */
  private cachedScales: number[] | undefined;
  /** The temperatures the cache was computed at, (nLayer × nHead). */
  private temperatures: Float32Array | undefined;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    readonly weightBytes: number,
    readonly vocab: readonly string[] | undefined,
    private readonly releaseWeights: () => void,
  ) {
    this.rec = new Recorder(ctx);
    this.slotOffset = config.nLayer * config.nHead;
    this.aux = this.buffer('attention-aux', (this.slotOffset + PREFILL_CHUNK) * 4);
    this.sampled = this.buffer('sampled-token', 16);
    this.setAttentionTemperature(1);
  }

  private buffer(label: string, size: number, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST) {
    return this.ctx.device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
  }

  setAttentionTemperature(temperature: Float32Array | number): void {
    const { nLayer, nHead } = this.config;
    const all = typeof temperature === 'number' ? new Float32Array(nLayer * nHead).fill(temperature) : temperature;
    if (all.length !== nLayer * nHead)
      throw new EngineInputError(`Attention temperature needs ${nLayer * nHead} values (layers × heads), got ${all.length}.`);
    for (const t of all)
      if (!(t > 0) || !Number.isFinite(t)) throw new EngineInputError(`Attention temperature must be a positive number, got ${t}.`);
    if (this.temperatures && this.temperatures.every((t, i) => t === all[i])) return;
    this.temperatures = Float32Array.from(all);
    // 1/T in f32: T = 1 multiplies by exactly 1, leaving standard attention bit-for-bit.
    this.ctx.device.queue.writeBuffer(this.aux, 0, Float32Array.from(all, (t) => 1 / t));
    // Keys and values of later layers depend on earlier layers' attention.
    this.cachedTokens = [];
  }

  resetCache(): void {
    this.cachedTokens = [];
  }

  private ensureCapacity(chunk: number, positions: number) {
    if (!this.act || this.act.capacity < chunk) {
      this.act?.destroy();
      this.act = new Activations(this.ctx, this.config, chunk);
    }
    if (!this.kv || this.kv.positions < positions) {
      this.kv?.destroy();
      this.cachedTokens = [];
      this.kv = new KvCache(this.ctx, this.config, Math.max(positions, 64), this.weights.ropeFactors);
    }
  }

  private validate(prompt: readonly number[], options: GenerateOptions) {
    const { vocabSize, contextLength } = this.config;
    if (this.disposed) throw new EngineInputError('This model has been unloaded; load it again.');
    if (prompt.length === 0) throw new EngineInputError('The prompt is empty; give at least one token.');
    checkTokenIds(prompt, vocabSize);
    if (!(options.maxNewTokens >= 0)) throw new EngineInputError(`maxNewTokens must be 0 or more, got ${options.maxNewTokens}; pass a whole number.`);
    if (prompt.length + options.maxNewTokens > contextLength)
      throw new EngineInputError(
        `Prompt (${prompt.length}) plus new tokens (${options.maxNewTokens}) exceed the model's context of ${contextLength}; shorten the prompt.`,
      );
    const scales = options.embeddingScales;
    if (scales && (scales.length !== prompt.length || scales.some((v) => !Number.isFinite(v))))
      throw new EngineInputError(`embeddingScales needs one finite number per prompt token (${prompt.length}), got ${scales.length} values; 1 leaves a token as it is.`);
    const map = options.attention?.map;
    if (map && (map.layer < 0 || map.layer >= this.config.nLayer || map.head < 0 || map.head >= this.config.nHead))
      throw new EngineInputError(
        `There is no layer ${map.layer} head ${map.head} in this model; pick a layer below ${this.config.nLayer} and a head below ${this.config.nHead}.`,
      );
  }

  async generate(prompt: readonly number[], options: GenerateOptions): Promise<GenerateResult> {
    this.validate(prompt, options);
    return this.exclusive(() => this.run(prompt, options, 0));
  }

  async logprobs(prefix: readonly number[], continuation: readonly number[], options: LogprobsOptions = {}): Promise<Float64Array> {
    const T = continuation.length;
    if (T === 0) return new Float64Array(0);
    if (T > PREFILL_CHUNK) throw new EngineInputError(`A continuation of ${T} tokens is too long to score; use at most ${PREFILL_CHUNK}.`);
    // Logits at positions P-1 … P+T-2 are the last T rows of prefix + continuation[0 … T-2].
    const sequence = [...prefix, ...continuation.slice(0, -1)];
    this.validate([...prefix, ...continuation], { maxNewTokens: 0 });
    const { logits } = await this.exclusive(() => this.run(sequence, { maxNewTokens: 0, logits: 'generated', signal: options.signal, reuse: options.reuse }, T));
    return Float64Array.from(continuation, (token, i) => logSoftmaxAt(logits[i], token));
  }

  async gradient(prompt: readonly number[], target: readonly number[], options: GradientOptions = {}): Promise<GradientResult> {
    if (this.disposed) throw new EngineInputError('This model has been unloaded; load it again.');
    const plan = planGradient(this.ctx, this.config, prompt, target, options);
    return this.exclusive(async () => {
      const chunk = Math.min(PREFILL_CHUNK, plan.sequence.length);
      this.ensureCapacity(chunk, plan.sequence.length);
      // The gradient's forward overwrites cache rows 0…S-1.
      this.cachedTokens = [];
      const { ctx, config, weights, rec, aux, slotOffset } = this;
      return runGradient(
        { ctx, config, weights, rec, act: this.act!, kv: this.kv!, aux, slotOffset, chunk, map: (b) => this.map(b) },
        plan,
        options,
      );
    });
  }

  async logprobsBatch(
    prefix: readonly number[],
    continuations: readonly (readonly number[])[],
    options: LogprobsBatchOptions = {},
  ): Promise<Float64Array[]> {
    if (this.disposed) throw new EngineInputError('This model has been unloaded; load it again.');
    const shape = checkScoringBatch(this.config, prefix, continuations, options.scoreLast, PREFILL_CHUNK);
    return this.exclusive(() => this.scoreBatch(prefix, continuations, shape, options));
  }

  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.busy) throw new EngineInputError('The model is already generating; wait for it or cancel it first.');
    this.busy = true;
    try {
      return await work();
    } finally {
      this.busy = false;
    }
  }

  /** `tailRows` > 0: no sampling, logits for the last `tailRows` prompt positions instead. */
  private async run(prompt: readonly number[], options: GenerateOptions, tailRows: number): Promise<GenerateResult> {
    const { ctx, config, rec } = this;
    const { nLayer, nHead, vocabSize } = config;
    const P = prompt.length;
    const steps = options.maxNewTokens;
    const sampling: SamplingOptions = options.sampling ?? { kind: 'greedy' };
    const nextUniform = mulberry32(sampling.kind === 'sample' ? sampling.seed : 0);
    const logitMode = options.logits ?? 'generated';
    const request = options.attention;
    const allPrompt = request?.rows === 'all-prompt';

    // Slot s of the export holds the query at position slotQueries[s]: the last prompt token
    // and each position whose output predicts generated token i (P - 1 + i), or every position.
    const slotQueries: number[] = [];
    if (request) {
      const first = allPrompt ? 0 : P - 1;
      for (let q = first; q < P - 1 + Math.max(steps, 1); q++) slotQueries.push(q);
    }
    const nSlots = slotQueries.length;
    const exportKeys = nSlots > 0 ? slotQueries[nSlots - 1] + 1 : 1;
    const rowsBytes = nLayer * nSlots * nHead * exportKeys * 4;
    if (rowsBytes > ctx.caps.maxStorageBufferBindingSize)
      throw new EngineInputError(
        `Exporting ${nSlots} attention rows of ${exportKeys} keys needs ${(rowsBytes / 2 ** 20).toFixed(0)} MiB, over this GPU's binding limit; export fewer rows or use a shorter prompt.`,
      );
    const chunk = Math.min(PREFILL_CHUNK, P);
    this.ensureCapacity(chunk, P + steps);
    const act = this.act!;
    const kv = this.kv!;
    // Resume after the cached prefix unless something needs every prompt position recomputed.
    const needsAllPositions = allPrompt || request?.map !== undefined || logitMode === 'all-prompt' || options.reuse === 'none';
    const scales = options.embeddingScales;
    const reuse = needsAllPositions ? 0 : Math.min(commonPrefix(this.cachedTokens, prompt, this.cachedScales, scales), P - Math.max(tailRows, 1));
    this.cachedTokens = [];

    const temporary: GPUBuffer[] = [];
    const temp = (label: string, size: number, usage?: number) => {
      const b = this.buffer(label, size, usage);
      temporary.push(b);
      return b;
    };
    const rows = nSlots > 0 ? temp('attention-rows', rowsBytes) : ctx.scratchPlaceholder;
    const map = request?.map ? temp('attention-map', P * P * 4) : temp('attention-map-none', 16);
    const targets: AttentionTargets = {
      aux: this.aux,
      slotOffset: this.slotOffset,
      rows,
      nSlots: Math.max(nSlots, 1),
      exportKeys,
      map,
      mapLayer: request?.map?.layer ?? -1,
      mapHead: request?.map?.head ?? NO_SLOT,
      mapKeys: P,
    };
    // Soft Removal's factors, read by the prompt's chunks (decode steps are at factor 1).
    const positionScales = scales ? temp('embedding-scales', P * 4) : undefined;
    if (scales && positionScales) ctx.device.queue.writeBuffer(positionScales, 0, Float32Array.from(scales));
    const logitRowsMax = logitMode === 'all-prompt' ? chunk : Math.max(tailRows, 1);
    const logits = temp('logits', logitRowsMax * vocabSize * 4);
    const readback = temp('readback', (logitRowsMax * vocabSize + 4) * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const slotOf = (position: number) => {
      const s = slotQueries.length ? position - slotQueries[0] : -1;
      return s >= 0 && s < nSlots ? s : NO_SLOT;
    };

    const outLogits: Float32Array[] = [];
    const generated: number[] = [];
    const stop = new Set(options.stopTokens ?? []);

    /**
     * Runs one chunk with logits for its last `logitRows` tokens; returns the sampled next token
     * when `sample` is set. The chunk's tokens join the cache once their K/V are written.
     */
    const step = async (tokens: readonly number[], posStart: number, logitRows: number, sample: boolean, keepLogits: boolean) => {
      ctx.assertAlive();
      if (options.signal?.aborted) throw new DOMException('Generation was cancelled.', 'AbortError');
      const M = tokens.length;
      ctx.device.queue.writeBuffer(act.tokens, 0, Uint32Array.from(tokens));
      ctx.device.queue.writeBuffer(this.aux, this.slotOffset * 4, Uint32Array.from(tokens, (_, m) => slotOf(posStart + m)));
      recordForward(rec, ctx, config, this.weights, act, kv, targets, { M, posStart, logitRows, logits, positionScales: posStart < P ? positionScales : undefined });
      if (sample) {
        recordSample(rec, ctx, { logits, result: this.sampled, vocab: vocabSize, row: logitRows - 1, sampling, uniform01: nextUniform() });
        rec.copy(this.sampled, 0, readback, 0, 4);
      }
      const rowsOut = keepLogits ? logitRows : 0;
      if (rowsOut > 0) rec.copy(logits, 0, readback, 16, rowsOut * vocabSize * 4);
      // The sampler picks a plausible-looking token even from NaNs, so a sampled row nobody reads
      // is probed too: a NaN or infinity anywhere in the hidden state reaches every logit through
      // the final RMSNorm and the output matmul, so its first logits show it, for 1 KiB more readback.
      const probe = sample && rowsOut === 0 ? Math.min(vocabSize, PROBE_LOGITS) : 0;
      if (probe > 0) rec.copy(logits, (logitRows - 1) * vocabSize * 4, readback, 16, probe * 4);
      rec.submit();
      fed.push(...tokens);
      if (!sample && rowsOut === 0) return undefined;
      await this.map(readback);
      ctx.assertAlive();
      const range = readback.getMappedRange();
      const token = new Uint32Array(range, 0, 1)[0];
      const rows = Array.from({ length: rowsOut }, (_, r) => new Float32Array(range, 16 + r * vocabSize * 4, vocabSize).slice());
      const probed = new Float32Array(range, 16, probe).slice();
      readback.unmap();
      for (const values of [...rows, probed]) assertFinite(values);
      outLogits.push(...rows);
      return token;
    };

    const fed: number[] = prompt.slice(0, reuse);
    try {
      if (nSlots > 0) rec.clear(rows);
      let next: number | undefined;
      const pieces = planChunks(reuse, P, chunk, tailRows);
      for (const [start, end] of pieces) {
        const last = end === P;
        const M = end - start;
        const logitRows = logitMode === 'all-prompt' ? M : !last ? 0 : tailRows > 0 ? tailRows : 1;
        const sample = last && steps > 0;
        const keep = logitMode === 'all-prompt' || (last && (logitMode === 'generated' || tailRows > 0));
        next = await step(prompt.slice(start, end), start, logitRows, sample, keep);
      }
      for (let i = 0; i < steps && next !== undefined; i++) {
        generated.push(next);
        options.onToken?.(next, i);
        if (stop.has(next) || i === steps - 1) break;
        next = await step([next], P + i, 1, true, logitMode !== 'none');
      }
      const attention = request ? await this.readAttention(targets, nSlots, exportKeys, slotQueries, P, temporary) : undefined;
      this.cachedTokens = fed;
      this.cachedScales = scales && [...scales];
      return { prompt: [...prompt], reusedPrefix: reuse, generated, logits: outLogits, attention };
    } finally {
      for (const b of temporary) b.destroy();
    }
  }

  /**
   * Sequence b is the prefix's last token followed by continuation b without its last token: its
   * L rows' logits predict continuation b's L tokens, and all sequences continue the same cached
   * positions [0, P-1). So the prefix but its last token is prefilled once (or reused), then the
   * sequences run side by side in the batch layout (forward.ts, `seqLen`), whole sequences per
   * submit, each submit's K/V in the cache rows after the prefix. Only the scored rows reach the
   * output matrix, and only three floats of each come back (ops/logprob.ts).
   */
  private async scoreBatch(
    prefix: readonly number[],
    continuations: readonly (readonly number[])[],
    { length: L, scored }: ScoringBatchShape,
    options: LogprobsBatchOptions,
  ): Promise<Float64Array[]> {
    const { ctx, config, rec } = this;
    const { vocabSize, nEmbd } = config;
    const B = continuations.length;
    const shared = prefix.slice(0, -1);
    const start = shared.length;
    const maxLogitRows = Math.floor(Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize) / (vocabSize * 4));
    const plan = planSequenceChunks(B, L, scored, PREFILL_CHUNK, maxLogitRows);
    const perChunk = plan[0].count;
    this.ensureCapacity(Math.max(perChunk * L, Math.min(PREFILL_CHUNK, start)), start + perChunk * L);
    const act = this.act!;
    const kv = this.kv!;
    const reuse = options.reuse === 'none' ? 0 : commonPrefix(this.cachedTokens, shared);
    this.cachedTokens = [];

    const temporary: GPUBuffer[] = [];
    const temp = (label: string, size: number, usage?: number) => {
      const b = this.buffer(label, size, usage);
      temporary.push(b);
      return b;
    };
    const statsBytes = B * scored * LOGPROB_STATS * 4;
    const logits = temp('batch-logits', perChunk * scored * vocabSize * 4); // (perChunk · scored, vocab)
    const targetIds = temp('batch-targets', B * scored * 4);                // (B · scored) u32
    const stats = temp('batch-logprob-stats', statsBytes);                  // (B · scored, LOGPROB_STATS)
    const readback = temp('batch-readback', statsBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    // Nothing is exported: every query's slot is NONE, and no layer writes the map.
    const noExport: AttentionTargets = {
      aux: this.aux,
      slotOffset: this.slotOffset,
      rows: ctx.scratchPlaceholder,
      nSlots: 1,
      exportKeys: 1,
      map: temp('attention-map-none', 16),
      mapLayer: -1,
      mapHead: NO_SLOT,
      mapKeys: 1,
    };
    const feed = (tokens: readonly number[]) => {
      ctx.assertAlive();
      if (options.signal?.aborted) throw new DOMException('Scoring was cancelled.', 'AbortError');
      ctx.device.queue.writeBuffer(act.tokens, 0, Uint32Array.from(tokens));
    };
    try {
      ctx.device.queue.writeBuffer(this.aux, this.slotOffset * 4, new Uint32Array(PREFILL_CHUNK).fill(NO_SLOT));
      ctx.device.queue.writeBuffer(targetIds, 0, Uint32Array.from(continuations.flatMap((c) => c.slice(L - scored))));
      for (let s = reuse; s < start; s += PREFILL_CHUNK) {
        const tokens = shared.slice(s, Math.min(s + PREFILL_CHUNK, start));
        feed(tokens);
        recordForward(rec, ctx, config, this.weights, act, kv, noExport, { M: tokens.length, posStart: s, logitRows: 0, logits });
        rec.submit();
      }
      const rowBytes = nEmbd * 4;
      for (const { first, count } of plan) {
        feed(continuations.slice(first, first + count).flatMap((c) => [prefix[start], ...c.slice(0, L - 1)]));
        recordForward(rec, ctx, config, this.weights, act, kv, noExport, { M: count * L, posStart: start, logitRows: 0, logits, seqLen: L });
        // Each sequence's scored rows (its last `scored`), gathered in front of proj (free after the last layer).
        const gather = scored < L;
        if (gather) for (let i = 0; i < count; i++) rec.copy(act.x, ((i + 1) * L - scored) * rowBytes, act.proj, i * scored * rowBytes, scored * rowBytes);
        recordLogits(rec, ctx, config, this.weights, { x: gather ? act.proj : act.x, rowOffset: 0, rows: count * scored, xNorm: act.xNorm, logits });
        recordLogprobStats(rec, ctx, { logits, targets: targetIds, stats, rows: count * scored, vocab: vocabSize, firstRow: first * scored });
        rec.submit();
      }
      rec.copy(stats, 0, readback, 0, statsBytes);
      rec.submit();
      await this.map(readback);
      ctx.assertAlive();
      const values = new Float32Array(readback.getMappedRange().slice(0, statsBytes));
      readback.unmap();
      assertFinite(values);
      // Every submit wrote the prefix's last token to row P-1 like a prefill would: the cache holds the prefix.
      this.cachedTokens = [...prefix];
      this.cachedScales = undefined;
      return continuations.map((_, b) => Float64Array.from({ length: scored }, (_, r) => logprobFromStats(values, b * scored + r)));
    } finally {
      for (const b of temporary) b.destroy();
    }
  }

  private async readAttention(
    targets: AttentionTargets,
    nSlots: number,
    exportKeys: number,
    slotQueries: number[],
    P: number,
    temporary: GPUBuffer[],
  ): Promise<NonNullable<GenerateResult['attention']>> {
    const { ctx, rec, config } = this;
    const { nLayer, nHead } = config;
    const nRows = nLayer * nSlots * nHead;
    const readable = (label: string, size: number) => {
      const b = this.buffer(label, size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      temporary.push(b);
      return b;
    };
    const rowsRead = readable('rows-read', nRows * exportKeys * 4);
    rec.copy(targets.rows, 0, rowsRead, 0, nRows * exportKeys * 4);
    let mapRead: GPUBuffer | undefined;
    if (targets.mapLayer >= 0) {
      mapRead = readable('map-read', P * P * 4);
      rec.copy(targets.map, 0, mapRead, 0, P * P * 4);
    }
    rec.submit();
    await ctx.device.queue.onSubmittedWorkDone();
    ctx.assertAlive();
    const read = async (b: GPUBuffer) => {
      await this.map(b);
      const data = new Float32Array(b.getMappedRange().slice(0));
      b.unmap();
      return data;
    };
    const rows = await read(rowsRead);
    const map = mapRead ? await read(mapRead) : undefined;
    for (const values of [rows, map]) if (values) assertFinite(values);
    return {
      rows: { queries: slotQueries, keys: exportKeys, data: rows },
      map: map ? { layer: targets.mapLayer, head: targets.mapHead, size: P, data: map } : undefined,
    };
  }

  private async map(buffer: GPUBuffer) {
    try {
      await buffer.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.ctx.assertAlive();
      throw e;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.act?.destroy();
    this.kv?.destroy();
    this.aux.destroy();
    this.sampled.destroy();
    this.rec.destroy();
    this.releaseWeights();
  }
}

/** Output is never NaN or infinite: such numbers come from corrupt weights, and would pass for results. */
function assertFinite(values: Float32Array): void {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i]))
      throw new NonFiniteOutputError('The model produced non-finite numbers (NaN or infinity); the file is probably corrupt, so download it again.');
}

/** Length of the longest common prefix of two token lists whose positions also carry the same embedding factor (absent = 1). */
function commonPrefix(a: readonly number[], b: readonly number[], scalesA?: readonly number[], scalesB?: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n] && (scalesA?.[n] ?? 1) === (scalesB?.[n] ?? 1)) n++;
  return n;
}

/**
 * Splits positions [start, end) into prefill chunks of at most `chunk` tokens whose last chunk
 * holds at least `tailRows` tokens (so their logits come from one dispatch).
 */
export function planChunks(start: number, end: number, chunk: number, tailRows: number): Array<[number, number]> {
  const lastStart = Math.max(start, Math.min(end - 1, end - tailRows, start + Math.floor((end - start - 1) / chunk) * chunk));
  const pieces: Array<[number, number]> = [];
  for (let s = start; s < lastStart; s += chunk) pieces.push([s, Math.min(s + chunk, lastStart)]);
  pieces.push([lastStart, end]);
  return pieces;
}

/** log softmax(logits)[token] in float64. */
function logSoftmaxAt(logits: Float32Array, token: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return logits[token] - max - Math.log(sum);
}
