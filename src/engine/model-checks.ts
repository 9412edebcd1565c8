// Sanity checks of a model read from GGUF: hyper-parameters a forward pass can run with, and tensor
// shapes that agree with them (llama.cpp's create_tensor checks), so a corrupt file fails in one
// sentence before any upload rather than computing NaNs or reading past a buffer.

import { printable } from '../gguf/header';
import type { GgufFile, MetadataValue } from '../gguf/reader';
import { CorruptGgufError, UnsupportedArchitectureError } from '../errors';
import type { ModelConfig } from './config';

/** llama.cpp's LLAMA_MAX_LAYERS. */
const MAX_LAYERS = 512;
/** RMSNorm's epsilon only guards a division: anything this large means a corrupt value. */
const MAX_RMS_EPS = 1e-2;

const corrupt = (label: string, what: string) => new CorruptGgufError(`${label} is corrupt: ${what}; download the file again.`);

/** A numeric metadata value as a number: strings, booleans and per-layer arrays are refused. */
export function metadataNumber(label: string, key: string, value: MetadataValue): number {
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  if (Array.isArray(value))
    throw new UnsupportedArchitectureError(`${label} gives ${key} per layer, which this app does not support; pick another model.`);
  throw corrupt(label, `the metadata key ${key} holds ${printable(String(value))} where a number belongs`);
}

/** Refuses a block count no model has; checked before per-layer arrays are built from it. */
export function checkBlockCount(nLayer: number, label: string): void {
  checkWhole(label, 'the block count', nLayer, 1, MAX_LAYERS);
}

function checkWhole(label: string, name: string, value: number, min: number, max = 2 ** 32): void {
  if (!Number.isInteger(value) || value < min || value > max) throw corrupt(label, `${name} is ${value}, not a whole number from ${min} to ${max}`);
}

/** Refuses hyper-parameters no model has: the engine divides by, allocates with or exponentiates them. */
export function checkHyperParameters(config: ModelConfig, label: string): void {
  const fail = (what: string) => {
    throw corrupt(label, what);
  };
  const whole = (name: string, value: number, min: number, max?: number) => checkWhole(label, name, value, min, max);
  const c = config;
  checkBlockCount(c.nLayer, label);
  whole('the embedding length', c.nEmbd, 1);
  whole('the head count', c.nHead, 1);
  whole('the key-value head count', c.nHeadKv, 1, c.nHead);
  if (c.nHead % c.nHeadKv !== 0) fail(`the head count ${c.nHead} is not a multiple of the key-value head count ${c.nHeadKv}`);
  whole('the head dimension (embedding length / head count, or key_length)', c.headDim, 1);
  whole('the feed-forward length', c.nFf, 1);
  whole('the vocabulary size', c.vocabSize, 1);
  whole('the context length', c.contextLength, 1);
  whole('the sliding window', c.slidingWindow, 0);
  if (!(c.rmsEps > 0 && c.rmsEps <= MAX_RMS_EPS)) fail(`the RMSNorm epsilon is ${c.rmsEps}, not a small positive number (at most ${MAX_RMS_EPS})`);
  for (const [name, value] of [['RoPE base', c.ropeTheta], ['sliding-layer RoPE base', c.ropeThetaSliding], ['RoPE scale', c.ropeFreqScale]] as const)
    if (!(value > 0 && Number.isFinite(value))) fail(`the ${name} is ${value}, not a finite positive number`);
  for (const [name, value] of [['attention soft-cap', c.attnSoftcap], ['final logit soft-cap', c.finalSoftcap]] as const)
    if (!(value >= 0 && Number.isFinite(value))) fail(`the ${name} is ${value}, not a finite number of 0 or more`);
}

/**
 * The engine rotates and attends over whole heads, as llama.cpp requires of these architectures:
 * a RoPE width or value width in the metadata other than the head dimension is refused.
 */
export function checkHeadWidth(label: string, key: string, value: number, headDim: number): void {
  if (value !== headDim) throw corrupt(label, `${key} is ${value} but the head dimension is ${headDim}`);
}

/** Dims (GGUF order, row length first) of every tensor the forward pass may read, for `config`. */
export function expectedTensorShapes(config: ModelConfig): Map<string, readonly number[]> {
  const { nEmbd, nHead, nHeadKv, headDim, nFf, vocabSize } = config;
  const q = nHead * headDim;
  const kv = nHeadKv * headDim;
  const shapes = new Map<string, readonly number[]>([
    ['token_embd.weight', [nEmbd, vocabSize]],
    ['output.weight', [nEmbd, vocabSize]],
    ['output_norm.weight', [nEmbd]],
    ['rope_freqs.weight', [headDim / 2]],
  ]);
  for (let l = 0; l < config.nLayer; l++) {
    const b = `blk.${l}.`;
    const layer: Array<[string, number[]]> = [
      ['attn_norm.weight', [nEmbd]],
      ['attn_q.weight', [nEmbd, q]],
      ['attn_k.weight', [nEmbd, kv]],
      ['attn_v.weight', [nEmbd, kv]],
      ['attn_output.weight', [q, nEmbd]],
      ['attn_q.bias', [q]],
      ['attn_k.bias', [kv]],
      ['attn_v.bias', [kv]],
      ['attn_q_norm.weight', [headDim]],
      ['attn_k_norm.weight', [headDim]],
      ['post_attention_norm.weight', [nEmbd]],
      ['post_ffw_norm.weight', [nEmbd]],
      ['ffn_norm.weight', [nEmbd]],
      ['ffn_gate.weight', [nEmbd, nFf]],
      ['ffn_up.weight', [nEmbd, nFf]],
      ['ffn_down.weight', [nFf, nEmbd]],
    ];
    for (const [name, dims] of layer) shapes.set(b + name, dims);
  }
  return shapes;
}

/**
 * Every tensor the engine would read has exactly the shape the hyper-parameters give it (a missing
 * one is reported where it is needed), and the vocabulary list matches the embedding's rows.
 */
export function checkTensorShapes(file: GgufFile, config: ModelConfig): void {
  const label = file.source.label;
  for (const [name, want] of expectedTensorShapes(config)) {
    const info = file.tensors.get(name);
    if (info && (info.dims.length !== want.length || info.dims.some((d, i) => d !== want[i])))
      throw corrupt(label, `tensor ${name} has dims [${info.dims.join(', ')}] but the model's hyper-parameters give it [${want.join(', ')}]`);
  }
  const tokens = file.metadata['tokenizer.ggml.tokens'];
  if (Array.isArray(tokens) && tokens.length !== config.vocabSize)
    throw corrupt(label, `its vocabulary lists ${tokens.length} tokens but token_embd.weight has ${config.vocabSize} rows`);
}
