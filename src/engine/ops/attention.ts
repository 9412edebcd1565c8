// Causal GQA attention with per-(layer, head) temperature and probability export
// (shaders/attention.wgsl); a batch layout for many sequences after one shared prefix.

import type { Capabilities, GpuContext, PipelineKey } from '../gpu';
import { grid, type Recorder } from '../recorder';
import { defineUniform } from '../uniforms';

export const NO_SLOT = 0xffffffff;
/**
 * Longest head the kernel holds in workgroup memory. The shader keeps its own `const MAX_HEAD_DIM`
 * because it sizes a per-thread array, which WGSL cannot size by an override;
 * tests/unit/kernels-uniforms.test.ts holds the two equal.
 */
export const MAX_HEAD_DIM = 256;

/** `Params` of shaders/attention.wgsl. */
export const ATTENTION_PARAMS = defineUniform({
  M: 'u32', queryStart: 'u32', nHead: 'u32', nHeadKv: 'u32', headDim: 'u32', ctx: 'u32', layer: 'u32', nSlots: 'u32',
  exportKeys: 'u32', mapHead: 'u32', mapKeys: 'u32', slotOffset: 'u32', scale: 'f32', softcap: 'f32', window: 'u32', seqLen: 'u32',
});

export interface AttentionArgs {
  readonly q: GPUBuffer;    // (M, nHead, headDim)
  readonly kv: GPUBuffer;   // (2, ctx, nHeadKv, headDim)
  readonly out: GPUBuffer;  // (M, nHead, headDim)
  /** [0, nLayer·nHead): bits of 1/T; [slotOffset, slotOffset + M): export slot per query. */
  readonly aux: GPUBuffer;
  readonly rows: GPUBuffer; // (nLayer, nSlots, nHead, exportKeys)
  readonly map: GPUBuffer;  // (queries, mapKeys)
  readonly M: number;
  readonly queryStart: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  readonly ctxLength: number;
  readonly layer: number;
  readonly nSlots: number;
  readonly exportKeys: number;
  readonly mapHead: number;
  readonly mapKeys: number;
  readonly slotOffset: number;
  readonly scale: number;
  /** Gemma 2 attention soft-cap; 0 = off. */
  readonly softcap: number;
  /** Sliding window in positions for this layer; 0 = full causal attention. */
  readonly window: number;
  /**
   * 0 or absent: the M queries are one sequence at positions queryStart…. > 0: they are sequences
   * of seqLen tokens, each continuing the cached positions [0, queryStart) with its own keys (no
   * export: the rows and the map are indexed by position, which the sequences share).
   */
  readonly seqLen?: number;
  /** Forces a kernel (tests run each on any adapter); default `attentionKernel`. */
  readonly kernel?: AttentionKernel;
}

/**
 * `attention`: one workgroup per (head, query), for GPUs. `attention_rows`: one invocation per
 * (head, query), no barriers, for CPU emulations of a GPU (caps.software). `attention_tiled`: one
 * workgroup per (head, block of TILED_BLOCK_QUERIES queries), key/value tiles in workgroup memory and
 * an online softmax, for GPU prefill. Same semantics and bindings.
 */
export type AttentionKernel = 'attention' | 'attention_rows' | 'attention_tiled';

/**
 * Queries per attention_tiled workgroup: the shader's `const BLOCK_QUERIES` (it sizes workgroup
 * arrays, which WGSL cannot size by an override); kernels-uniforms.test.ts holds the two equal.
 */
export const TILED_BLOCK_QUERIES = 16;
/** GPUs: from this many queries in a chunk, attention_tiled (a block shares each key/value tile). */
export const TILED_MIN_QUERIES = 16;

/** Invocations per workgroup of attention_rows. */
const ROWS_WG = 64;

export const attentionPipeline = (kernel: AttentionKernel = 'attention'): PipelineKey =>
  kernel === 'attention_rows' ? ['attention_rows', { constants: { WG: ROWS_WG } }] : [kernel, {}];

/**
 * The kernel this device takes for a chunk of M queries (every kernel runs anywhere: tests force
 * each with `AttentionArgs.kernel`). GPUs: `attention` for decode and short chunks, `attention_tiled`
 * from TILED_MIN_QUERIES queries on.
 */
export function attentionKernel(caps: Capabilities, M = 1): AttentionKernel {
  if (caps.software) return 'attention_rows';
  return M >= TILED_MIN_QUERIES ? 'attention_tiled' : 'attention';
}

/** Every kernel `attentionKernel` can pick on this device, for precompiling. */
export function attentionKernels(caps: Capabilities): AttentionKernel[] {
  return caps.software ? ['attention_rows'] : ['attention', 'attention_tiled'];
}

export function recordAttention(rec: Recorder, ctx: GpuContext, a: AttentionArgs): void {
  if (a.headDim > MAX_HEAD_DIM) throw new Error(`attention supports head_dim up to ${MAX_HEAD_DIM}, got ${a.headDim}`);
  if (a.nHead % a.nHeadKv !== 0) throw new Error(`n_head ${a.nHead} is not a multiple of n_head_kv ${a.nHeadKv}`);
  // The arguments carry every Params field under its WGSL name except the cache length.
  if (a.seqLen && a.M % a.seqLen !== 0) throw new Error(`a batch of ${a.M} queries is not whole sequences of ${a.seqLen}`);
  const uniform = ATTENTION_PARAMS.encode({ ...a, ctx: a.ctxLength, seqLen: a.seqLen ?? 0 });
  const kernel = a.kernel ?? attentionKernel(ctx.caps, a.M);
  const bindings = [a.q, a.kv, a.out, a.aux, a.rows, a.map];
  if (kernel === 'attention_rows')
    rec.dispatch(ctx.pipeline(...attentionPipeline(kernel)), uniform, bindings, grid(Math.ceil((a.nHead * a.M) / ROWS_WG), ctx.caps.maxComputeWorkgroupsPerDimension));
  else if (kernel === 'attention_tiled')
    rec.dispatch(ctx.pipeline(...attentionPipeline(kernel)), uniform, bindings, [a.nHead, Math.ceil(a.M / TILED_BLOCK_QUERIES)]);
  // One workgroup per (head, query): the workgroup size never enters the dispatch.
  else rec.dispatch(ctx.pipeline(...attentionPipeline()), uniform, bindings, [a.nHead, a.M]);
}
