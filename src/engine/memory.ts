// How much GPU memory a model will take, from its GGUF header alone, so a model too big for the
// device is refused before a long download or upload rather than failing half-way through it.

import type { GgufFile } from '../gguf/reader';
import { blockGeometry, GGMLType } from '../gguf/types';
import type { ModelConfig } from './config';
import { packedRowBytes } from './weights';

export interface GpuMemoryEstimate {
  /** Weights as uploaded: quantized blocks repacked into words, vectors as f32. */
  readonly weights: number;
  /** Keys and values of every layer for `contextTokens` positions, f32. */
  readonly kvCache: number;
  /** Activations of one prefill chunk, the logits and the attention export. */
  readonly working: number;
  readonly total: number;
}

/** Tokens a lab run typically holds (a long in-context attack plus its answer). */
export const TYPICAL_CONTEXT_TOKENS = 2048;
/** Tokens per prefill chunk (see generate.ts). */
const CHUNK = 128;

export function estimateGpuMemory(file: GgufFile, config: ModelConfig, contextTokens = TYPICAL_CONTEXT_TOKENS): GpuMemoryEstimate {
  let weights = 0;
  for (const tensor of file.tensors.values()) {
    const [cols, ...rest] = tensor.dims;
    const rows = rest.reduce((a, b) => a * b, 1);
    const gpuType = tensor.dims.length === 1 || tensor.type === GGMLType.F32 ? GGMLType.F32 : tensor.type;
    weights += blockGeometry(gpuType) ? packedRowBytes(gpuType, cols) * rows : tensor.byteSize;
  }
  const { nLayer, nEmbd, nHead, nHeadKv, headDim, nFf, vocabSize } = config;
  const positions = Math.min(contextTokens, config.contextLength);
  const kvCache = 2 * nLayer * positions * nHeadKv * headDim * 4;
  const activations = CHUNK * (3 * nEmbd + 2 * nHead * headDim + 2 * nHeadKv * headDim + 2 * nFf) * 4;
  const logits = CHUNK * vocabSize * 4;
  const exportRows = nLayer * nHead * positions * 4 * 64;
  const working = activations + logits + exportRows;
  return { weights, kvCache, working, total: weights + kvCache + working };
}
