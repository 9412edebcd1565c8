// Causal GQA attention with per-(layer, head) temperature and probability export (shaders/attention.wgsl).

import type { GpuContext } from '../gpu';
import { f32, type Recorder } from '../recorder';

export const NO_SLOT = 0xffffffff;
export const MAX_HEAD_DIM = 256;

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
}

export function recordAttention(rec: Recorder, ctx: GpuContext, a: AttentionArgs): void {
  if (a.headDim > MAX_HEAD_DIM) throw new Error(`attention supports head_dim up to ${MAX_HEAD_DIM}, got ${a.headDim}`);
  if (a.nHead % a.nHeadKv !== 0) throw new Error(`n_head ${a.nHead} is not a multiple of n_head_kv ${a.nHeadKv}`);
  const uniform = [
    a.M, a.queryStart, a.nHead, a.nHeadKv, a.headDim, a.ctxLength, a.layer, a.nSlots,
    a.exportKeys, a.mapHead, a.mapKeys, a.slotOffset, f32(a.scale), f32(a.softcap), a.window, 0,
  ];
  rec.dispatch(ctx.pipeline('attention'), uniform, [a.q, a.kv, a.out, a.aux, a.rows, a.map], [a.nHead, a.M]);
}
