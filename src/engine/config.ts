// Model hyper-parameters read from GGUF metadata: one shape for every architecture we run, with
// each architecture's differences expressed as data the engine and the reference both follow.

import type { GgufFile, MetadataValue } from '../gguf/reader';
import { CorruptGgufError, UnsupportedArchitectureError, TruncatedGgufError } from '../errors';
import { quoted } from '../gguf/header';
import { checkBlockCount, checkHeadWidth, checkHyperParameters, metadataNumber } from './model-checks';

export type Architecture = 'llama' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3';
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
  /** RoPE base of full-attention layers. */
  readonly ropeTheta: number;
  /** RoPE base of sliding-window layers (Gemma 3: 10 000, its global layers 1 000 000); the same elsewhere. */
  readonly ropeThetaSliding: number;
  /** Linear RoPE scaling of full-attention layers: positions × ropeFreqScale (1 = none). */
  readonly ropeFreqScale: number;
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
  /** Gemma 2: s ← cap·tanh(s/cap) on attention scores; 0 = off (Gemma 3 has none). */
  readonly attnSoftcap: number;
  /** Gemma 2: logits ← cap·tanh(logits/cap); 0 = off. */
  readonly finalSoftcap: number;
  /** Keys a sliding-window layer sees: query − key < slidingWindow; 0 = no sliding window. */
  readonly slidingWindow: number;
  /** Per layer: uses the sliding window (Gemma 2: even layers; Gemma 3: all but every sixth). */
  readonly slidingLayers: readonly boolean[];
  readonly ffnActivation: FfnActivation;
  /** Gemma 2 and 3: RMSNorm on the attention and FFN outputs before the residual add. */
  readonly postNorms: boolean;
  /** Qwen3, Gemma 3: per-head RMSNorm of q and k before RoPE. */
  readonly qkNorm: boolean;
}

const ROPE_STYLE: Record<Architecture, RopeStyle> = { llama: 'normal', qwen2: 'neox', qwen3: 'neox', gemma2: 'neox', gemma3: 'neox' };

export function isSupportedArchitecture(arch: string): arch is Architecture {
  return Object.hasOwn(ROPE_STYLE, arch);
}

export function configFromGguf(file: GgufFile): ModelConfig {
  const meta = file.metadata;
  const arch = String(meta['general.architecture'] ?? 'unknown');
  if (!isSupportedArchitecture(arch))
    throw new UnsupportedArchitectureError(
      `Architecture ${quoted(arch)} is not supported; pick a model of one of these architectures: ${Object.keys(ROPE_STYLE).join(', ')}.`,
    );
  const need = (key: string): number => {
    const v: MetadataValue | undefined = meta[`${arch}.${key}`];
    if (v === undefined) throw new TruncatedGgufError(`${file.source.label} lacks the metadata key ${arch}.${key}; the file is incomplete.`);
    return metadataNumber(file.source.label, `${arch}.${key}`, v);
  };
  const optional = (key: string, fallback: number) => {
    const v = meta[`${arch}.${key}`];
    return v === undefined ? fallback : metadataNumber(file.source.label, `${arch}.${key}`, v);
  };
  const tensor = (name: string) => {
    const t = file.tensors.get(name);
    if (!t) throw new TruncatedGgufError(`${file.source.label} has no tensor ${name}; the file is incomplete.`);
    if (t.dims.length !== 2) throw new CorruptGgufError(`${file.source.label} is corrupt: tensor ${name} has ${t.dims.length} dimensions, not 2; download the file again.`);
    return t;
  };
  const nLayer = need('block_count');
  checkBlockCount(nLayer, file.source.label);
  const nEmbd = need('embedding_length');
  const nHead = need('attention.head_count');
  const headDim = optional('attention.key_length', nEmbd / nHead);
  for (const key of ['rope.dimension_count', 'attention.value_length'])
    checkHeadWidth(file.source.label, `${arch}.${key}`, optional(key, headDim), headDim);
  const gemma2 = arch === 'gemma2';
  const gemma3 = arch === 'gemma3';
  const gemma = gemma2 || gemma3;
  // llama.cpp: the 27B models scale queries by 1/sqrt(nEmbd/nHead), the smaller ones by 1/sqrt(headDim).
  const gemma27b = (gemma2 && nLayer === 46) || (gemma3 && nLayer === 62);
  const slidingWindow = gemma ? optional('attention.sliding_window', gemma3 ? 512 : 4096) : 0;
  const ropeTheta = optional('rope.freq_base', gemma3 ? 1_000_000 : 10000);
  const scaling = meta[`${arch}.rope.scaling.type`];
  const ropeFreqScale = scaling === 'linear' ? 1 / optional('rope.scaling.factor', 1) : 1;
  const config: ModelConfig = {
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
    ropeTheta,
    // llama.cpp: Gemma 3's sliding layers use base 10 000 without scaling, whatever the file says.
    ropeThetaSliding: gemma3 ? 10000 : ropeTheta,
    ropeFreqScale,
    ropeStyle: ROPE_STYLE[arch],
    tiedEmbeddings: !file.tensors.has('output.weight'),
    qkvBias: file.tensors.has('blk.0.attn_q.bias'),
    ropeFreqFactors: file.tensors.has('rope_freqs.weight'),
    embeddingScale: gemma ? Math.sqrt(nEmbd) : 1,
    attentionScale: 1 / Math.sqrt(gemma27b ? nEmbd / nHead : headDim),
    attnSoftcap: gemma2 ? optional('attn_logit_softcapping', 50) : 0,
    finalSoftcap: gemma2 ? optional('final_logit_softcapping', 30) : 0,
    slidingWindow,
    // Gemma 2: even layers slide; Gemma 3: five sliding layers, then one global (l % 6 == 5).
    slidingLayers: Array.from({ length: nLayer }, (_, l) => slidingWindow > 0 && (gemma3 ? l % 6 !== 5 : l % 2 === 0)),
    ffnActivation: gemma ? 'gelu_tanh' : 'silu',
    postNorms: gemma,
    qkNorm: file.tensors.has('blk.0.attn_q_norm.weight'),
  };
  checkHyperParameters(config, file.source.label);
  return config;
}

/** The Llama-family feature set (no soft-caps, windows, post-norms or head norms): for hand-built configs. */
export function llamaFeatures(headDim: number, nLayer: number) {
  return {
    ropeFreqScale: 1,
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

/** The RoPE base and position scale of layer `layer`. */
export function layerRope(config: ModelConfig, layer: number): { readonly base: number; readonly freqScale: number } {
  return config.slidingLayers[layer] ? { base: config.ropeThetaSliding, freqScale: config.arch === 'gemma3' ? 1 : config.ropeFreqScale } : { base: config.ropeTheta, freqScale: config.ropeFreqScale };
}
