// Model hyper-parameters read from GGUF metadata: one shape for every architecture we run, with
// each architecture's differences expressed as data the engine and the reference both follow.

import type { GgufFile, MetadataValue } from '../gguf/reader';
import { UnsupportedArchitectureError, TruncatedGgufError } from '../errors';

export type Architecture = 'llama' | 'qwen2' | 'qwen3' | 'gemma2';
/** `normal`: rotate adjacent pairs (x0,x1); `neox`: rotate (x_i, x_{i+d/2}). */
export type RopeStyle = 'normal' | 'neox';
/** The FFN's gated activation: SwiGLU silu(gate)·up, or GeGLU gelu_tanh(gate)·up. */
export type FfnActivation = 'silu' | 'gelu_tanh';

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
  /** Multiplies embedding rows on input (Gemma: sqrt(nEmbd)); the tied output uses them unscaled. */
  readonly embeddingScale: number;
  /** Scores are (q·k)·attentionScale before soft-capping and temperature. */
  readonly attentionScale: number;
  /** Gemma 2: s ← cap·tanh(s/cap) on attention scores; 0 = off. */
  readonly attnSoftcap: number;
  /** Gemma 2: logits ← cap·tanh(logits/cap); 0 = off. */
  readonly finalSoftcap: number;
  /** Keys a sliding-window layer sees: query − key < slidingWindow; 0 = no sliding window. */
  readonly slidingWindow: number;
  /** Per layer: uses the sliding window (Gemma 2: even layers). */
  readonly slidingLayers: readonly boolean[];
  readonly ffnActivation: FfnActivation;
  /** Gemma 2: RMSNorm on the attention and FFN outputs before the residual add. */
  readonly postNorms: boolean;
  /** Qwen3: per-head RMSNorm of q and k before RoPE. */
  readonly qkNorm: boolean;
}

const ROPE_STYLE: Record<Architecture, RopeStyle> = { llama: 'normal', qwen2: 'neox', qwen3: 'neox', gemma2: 'neox' };

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
  const nLayer = need('block_count');
  const nEmbd = need('embedding_length');
  const nHead = need('attention.head_count');
  const headDim = optional('attention.key_length', nEmbd / nHead);
  const gemma = arch === 'gemma2';
  // llama.cpp: Gemma 2 27B scales queries by 1/sqrt(nEmbd/nHead), the smaller ones by 1/sqrt(headDim).
  const gemma27b = gemma && nLayer === 46;
  const slidingWindow = gemma ? optional('attention.sliding_window', 4096) : 0;
  return {
    arch,
    nLayer,
    nEmbd,
    nHead,
    nHeadKv: optional('attention.head_count_kv', nHead),
    headDim,
    nFf: need('feed_forward_length'),
    vocabSize: tensor('token_embd.weight').dims[1],
    contextLength: optional('context_length', 2048),
    rmsEps: optional('attention.layer_norm_rms_epsilon', 1e-5),
    ropeTheta: optional('rope.freq_base', 10000),
    ropeStyle: ROPE_STYLE[arch],
    tiedEmbeddings: !file.tensors.has('output.weight'),
    qkvBias: file.tensors.has('blk.0.attn_q.bias'),
    ropeFreqFactors: file.tensors.has('rope_freqs.weight'),
    embeddingScale: gemma ? Math.sqrt(nEmbd) : 1,
    attentionScale: 1 / Math.sqrt(gemma27b ? nEmbd / nHead : headDim),
    attnSoftcap: gemma ? optional('attn_logit_softcapping', 50) : 0,
    finalSoftcap: gemma ? optional('final_logit_softcapping', 30) : 0,
    slidingWindow,
    slidingLayers: Array.from({ length: nLayer }, (_, l) => slidingWindow > 0 && l % 2 === 0),
    ffnActivation: gemma ? 'gelu_tanh' : 'silu',
    postNorms: gemma,
    qkNorm: file.tensors.has('blk.0.attn_q_norm.weight'),
  };
}

/** The Llama-family feature set (no soft-caps, windows, post-norms or head norms): for hand-built configs. */
export function llamaFeatures(headDim: number, nLayer: number) {
  return {
    embeddingScale: 1,
    attentionScale: 1 / Math.sqrt(headDim),
    attnSoftcap: 0,
    finalSoftcap: 0,
    slidingWindow: 0,
    slidingLayers: new Array<boolean>(nLayer).fill(false),
    ffnActivation: 'silu',
    postNorms: false,
    qkNorm: false,
  } as const;
}
