// Float64 weights of the reference model: the GGUF tensor table, construction from arrays, loading from a file.

import { configFromGguf, type ModelConfig } from '../engine/config';
import { TruncatedGgufError } from '../errors';
import type { GgufFile } from '../gguf/reader';
import { dequantize } from './dequant';
import type { Matrix } from './ops';

export interface ReferenceLayer {
  /** (nEmbd) */
  readonly attnNorm: Float64Array;
  /** (nHead·headDim, nEmbd) */
  readonly wq: Matrix;
  /** (nHeadKv·headDim, nEmbd) */
  readonly wk: Matrix;
  /** (nHeadKv·headDim, nEmbd) */
  readonly wv: Matrix;
  /** Qwen2 only: (nHead·headDim), (nHeadKv·headDim), (nHeadKv·headDim) */
  readonly bq?: Float64Array;
  readonly bk?: Float64Array;
  readonly bv?: Float64Array;
  /** (nEmbd, nHead·headDim) */
  readonly wo: Matrix;
  /** Qwen3 only: (headDim) per-head q / k norm weights */
  readonly qNorm?: Float64Array;
  readonly kNorm?: Float64Array;
  /** Gemma 2 only: (nEmbd) norms on the attention and FFN outputs */
  readonly postAttnNorm?: Float64Array;
  readonly postFfnNorm?: Float64Array;
  /** (nEmbd) */
  readonly ffnNorm: Float64Array;
  /** (nFf, nEmbd) */
  readonly wGate: Matrix;
  /** (nFf, nEmbd) */
  readonly wUp: Matrix;
  /** (nEmbd, nFf) */
  readonly wDown: Matrix;
}

export interface ReferenceModel {
  readonly config: ModelConfig;
  /** (vocab, nEmbd) */
  readonly tokenEmbedding: Matrix;
  /** (nEmbd) */
  readonly outputNorm: Float64Array;
  /** (vocab, nEmbd); the same matrix as tokenEmbedding when tied */
  readonly output: Matrix;
  /** (headDim/2), from rope_freqs.weight */
  readonly ropeFreqFactors?: Float64Array;
  readonly layers: readonly ReferenceLayer[];
}

/** GGUF dims of a tensor: [n] for vectors, [cols, rows] for matrices. */
type Dims = readonly number[];

/** Every tensor the forward pass reads, by GGUF name, with the dims the config implies. */
export function referenceTensorShapes(config: ModelConfig): Map<string, Dims> {
  const { nEmbd, nFf, vocabSize, headDim } = config;
  const qDim = config.nHead * headDim;
  const kvDim = config.nHeadKv * headDim;
  const shapes = new Map<string, Dims>([
    ['token_embd.weight', [nEmbd, vocabSize]],
    ['output_norm.weight', [nEmbd]],
  ]);
  if (!config.tiedEmbeddings) shapes.set('output.weight', [nEmbd, vocabSize]);
  if (config.ropeFreqFactors) shapes.set('rope_freqs.weight', [headDim / 2]);
  for (let l = 0; l < config.nLayer; l++) {
    const blk = (name: string, dims: Dims) => shapes.set(`blk.${l}.${name}`, dims);
    blk('attn_norm.weight', [nEmbd]);
    blk('attn_q.weight', [nEmbd, qDim]);
    blk('attn_k.weight', [nEmbd, kvDim]);
    blk('attn_v.weight', [nEmbd, kvDim]);
    if (config.qkvBias) {
      blk('attn_q.bias', [qDim]);
      blk('attn_k.bias', [kvDim]);
      blk('attn_v.bias', [kvDim]);
    }
    if (config.qkNorm) {
      blk('attn_q_norm.weight', [headDim]);
      blk('attn_k_norm.weight', [headDim]);
    }
    blk('attn_output.weight', [qDim, nEmbd]);
    if (config.postNorms) {
      blk('post_attention_norm.weight', [nEmbd]);
      blk('post_ffw_norm.weight', [nEmbd]);
    }
    blk('ffn_norm.weight', [nEmbd]);
    blk('ffn_gate.weight', [nEmbd, nFf]);
    blk('ffn_up.weight', [nEmbd, nFf]);
    blk('ffn_down.weight', [nFf, nEmbd]);
  }
  return shapes;
}

const product = (dims: Dims) => dims.reduce((a, b) => a * b, 1);

/**
 * Builds a reference model from dequantized tensors named as in GGUF (`blk.0.attn_q.weight`, …),
 * each in file order (dims[0] contiguous). Tests build tiny models this way without a file.
 */
export function referenceModelFromTensors(config: ModelConfig, tensors: ReadonlyMap<string, Float64Array>): ReferenceModel {
  const shapes = referenceTensorShapes(config);
  const vector = (name: string): Float64Array => {
    const dims = shapes.get(name);
    const data = tensors.get(name);
    if (!dims) throw new RangeError(`Tensor ${name} is not part of a ${config.arch} model with this config.`);
    if (!data) throw new RangeError(`Tensor ${name} is missing; a ${config.arch} model with this config needs it.`);
    if (data.length !== product(dims))
      throw new RangeError(`Tensor ${name} has ${data.length} values; dims [${dims.join(', ')}] need ${product(dims)}.`);
    return data;
  };
  const matrix = (name: string): Matrix => {
    const [cols, rows] = shapes.get(name) ?? [];
    return { rows, cols, data: vector(name) };
  };
  const optional = (name: string) => (shapes.has(name) ? vector(name) : undefined);
  const tokenEmbedding = matrix('token_embd.weight');
  const layers = Array.from({ length: config.nLayer }, (_, l): ReferenceLayer => {
    const blk = (name: string) => `blk.${l}.${name}`;
    return {
      attnNorm: vector(blk('attn_norm.weight')),
      wq: matrix(blk('attn_q.weight')),
      wk: matrix(blk('attn_k.weight')),
      wv: matrix(blk('attn_v.weight')),
      bq: optional(blk('attn_q.bias')),
      bk: optional(blk('attn_k.bias')),
      bv: optional(blk('attn_v.bias')),
      wo: matrix(blk('attn_output.weight')),
      qNorm: optional(blk('attn_q_norm.weight')),
      kNorm: optional(blk('attn_k_norm.weight')),
      postAttnNorm: optional(blk('post_attention_norm.weight')),
      postFfnNorm: optional(blk('post_ffw_norm.weight')),
      ffnNorm: vector(blk('ffn_norm.weight')),
      wGate: matrix(blk('ffn_gate.weight')),
      wUp: matrix(blk('ffn_up.weight')),
      wDown: matrix(blk('ffn_down.weight')),
    };
  });
  return {
    config,
    tokenEmbedding,
    outputNorm: vector('output_norm.weight'),
    output: config.tiedEmbeddings ? tokenEmbedding : matrix('output.weight'),
    ropeFreqFactors: optional('rope_freqs.weight'),
    layers,
  };
}

async function readTensor(file: GgufFile, name: string, dims: Dims): Promise<Float64Array> {
  const info = file.tensors.get(name);
  if (!info) throw new TruncatedGgufError(`${file.source.label} has no tensor ${name}; the file is incomplete.`);
  if (info.dims.length !== dims.length || info.dims.some((d, i) => d !== dims[i]))
    throw new TruncatedGgufError(
      `Tensor ${name} in ${file.source.label} has dims [${info.dims.join(', ')}] but its metadata implies [${dims.join(', ')}]; the file is inconsistent.`,
    );
  const bytes = await file.source.read(info.offset, info.byteSize);
  if (bytes.byteLength !== info.byteSize)
    throw new TruncatedGgufError(`${file.source.label} ended inside tensor ${name}; download the file again.`);
  return dequantize(info.type, bytes, product(info.dims));
}

/** Reads and dequantizes every tensor the forward pass needs. Float64: 8 bytes per weight, so tiny models only. */
export async function loadReferenceModel(file: GgufFile): Promise<ReferenceModel> {
  const config = configFromGguf(file);
  const tensors = new Map<string, Float64Array>();
  for (const [name, dims] of referenceTensorShapes(config)) tensors.set(name, await readTensor(file, name, dims));
  return referenceModelFromTensors(config, tensors);
}
