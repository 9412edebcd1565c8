// Model hyper-parameters read from GGUF metadata, one shape for every architecture we run.

import type { GgufFile, MetadataValue } from '../gguf/reader';
import { UnsupportedArchitectureError, TruncatedGgufError } from './errors';

export type Architecture = 'llama' | 'qwen2';
/** `normal`: rotate adjacent pairs (x0,x1); `neox`: rotate (x_i, x_{i+d/2}). */
export type RopeStyle = 'normal' | 'neox';

export interface ModelConfig {
  readonly arch: Architecture;
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  readonly nFf: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly rmsEps: number;
  readonly ropeTheta: number;
  readonly ropeStyle: RopeStyle;
  /** Output projection shares the token embedding (no `output.weight`). */
  readonly tiedEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  readonly qkvBias: boolean;
  /** Llama 3 `rope_freqs.weight`: per-pair frequency divisors (length headDim/2). */
  readonly ropeFreqFactors: boolean;
}

const ROPE_STYLE: Record<Architecture, RopeStyle> = { llama: 'normal', qwen2: 'neox' };

export function isSupportedArchitecture(arch: string): arch is Architecture {
  return arch in ROPE_STYLE;
}

export function configFromGguf(file: GgufFile): ModelConfig {
  const meta = file.metadata;
  const arch = String(meta['general.architecture'] ?? 'unknown');
  if (!isSupportedArchitecture(arch))
    throw new UnsupportedArchitectureError(
      `Architecture "${arch}" is not supported; pick a model of one of these architectures: ${Object.keys(ROPE_STYLE).join(', ')}.`,
    );
  const need = (key: string): number => {
    const v: MetadataValue | undefined = meta[`${arch}.${key}`];
    if (v === undefined) throw new TruncatedGgufError(`${file.source.label} lacks the metadata key ${arch}.${key}; the file is incomplete.`);
    return Number(v);
  };
  const optional = (key: string, fallback: number) => {
    const v = meta[`${arch}.${key}`];
    return v === undefined ? fallback : Number(v);
  };
  const tensor = (name: string) => {
    const t = file.tensors.get(name);
    if (!t) throw new TruncatedGgufError(`${file.source.label} has no tensor ${name}; the file is incomplete.`);
    return t;
  };
  const nEmbd = need('embedding_length');
  const nHead = need('attention.head_count');
  const headDim = optional('attention.key_length', nEmbd / nHead);
  const embedding = tensor('token_embd.weight');
  return {
    arch,
    nLayer: need('block_count'),
    nEmbd,
    nHead,
    nHeadKv: optional('attention.head_count_kv', nHead),
    headDim,
    nFf: need('feed_forward_length'),
    vocabSize: embedding.dims[1],
    contextLength: optional('context_length', 2048),
    rmsEps: optional('attention.layer_norm_rms_epsilon', 1e-5),
    ropeTheta: optional('rope.freq_base', 10000),
    ropeStyle: ROPE_STYLE[arch],
    tiedEmbeddings: !file.tensors.has('output.weight'),
    qkvBias: file.tensors.has('blk.0.attn_q.bias'),
    ropeFreqFactors: file.tensors.has('rope_freqs.weight'),
  };
}
