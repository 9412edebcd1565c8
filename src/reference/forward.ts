// Float64 forward pass of a whole prompt (Llama, Qwen2, Qwen3, Gemma 2, Gemma 3): logits and attention probabilities per position.

import { layerRope, type ModelConfig } from '../engine/config';
import { EngineInputError } from '../errors';
import type { ReferenceLayer, ReferenceModel } from './model';
import { addBias, causalAttention, geglu, matVec, rmsNorm, rope, softcap, swiglu, type AttentionResult, type AttentionShape, type RopeOptions } from './ops';

export { loadReferenceModel, referenceModelFromTensors, referenceTensorShapes } from './model';
export type { ReferenceLayer, ReferenceModel } from './model';

export interface ReferenceForwardOptions {
  /** (nLayer, nHead) row-major attention softmax temperatures; absent = all 1. */
  readonly attentionTemperature?: Float64Array;
  /** (nTokens) factor on each position's embedding row, on top of config.embeddingScale (Token Highlighter's soft removal); absent = all 1. */
  readonly embeddingScales?: ArrayLike<number>;
  /** Also return the residual stream entering every layer (for layer-by-layer debugging). */
  readonly captureHidden?: boolean;
  /** 'none': skip the output projection (attention only; a 262k-token vocabulary makes it the slow part). */
  readonly logits?: 'all' | 'none';
}

export interface ReferenceForwardResult {
  /** Per position: (vocabSize) */
  readonly logits: Float64Array[];
  /** [layer][head][query]: (nTokens) probabilities over keys, 0 past the query */
  readonly attention: Float64Array[][][];
  /** [layer][position]: (nEmbd) stream entering layer; index nLayer is the stream before output_norm */
  readonly hidden?: Float64Array[][];
}

const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);
const withBias = (y: Float64Array, b?: Float64Array) => (b ? addBias(y, b) : y);

/** Refuses tokens, temperatures or embedding scales the model cannot run with, in one sentence. */
export function checkInputs(config: ModelConfig, tokens: readonly number[], temperature?: Float64Array, embeddingScales?: ArrayLike<number>): void {
  if (tokens.length === 0) throw new EngineInputError('The prompt is empty; give at least one token.');
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= config.vocabSize);
  if (bad !== undefined)
    throw new EngineInputError(`Token id ${bad} is outside the vocabulary 0…${config.vocabSize - 1}; check the tokenizer matches the model.`);
  if (temperature && temperature.length !== config.nLayer * config.nHead)
    throw new EngineInputError(
      `attentionTemperature has ${temperature.length} values; this model needs nLayer × nHead = ${config.nLayer * config.nHead}.`,
    );
  if (embeddingScales && embeddingScales.length !== tokens.length)
    throw new EngineInputError(`embeddingScales has ${embeddingScales.length} values for ${tokens.length} tokens; give one factor per token.`);
}

/** x0_i = E[token_i] · embeddingScale · embeddingScales[i].  → per position (nEmbd) */
export function embed(model: ReferenceModel, tokens: readonly number[], embeddingScales?: ArrayLike<number>): Float64Array[] {
  const { cols, data } = model.tokenEmbedding;
  const scale = model.config.embeddingScale;
  return tokens.map((t, i) => {
    const factor = embeddingScales?.[i] ?? 1;
    return data.slice(t * cols, (t + 1) * cols).map((v) => v * scale * factor);
  });
}

/** The RoPE of layer l (Gemma 3's sliding layers use their own base). */
export function layerRopeOptions(model: ReferenceModel, l: number): RopeOptions {
  const { base, freqScale } = layerRope(model.config, l);
  return { base, freqScale, style: model.config.ropeStyle, freqFactors: model.ropeFreqFactors };
}

/** The attention shape of layer l: the config's scale and soft-cap, its window on sliding layers. */
export function layerAttentionShape(config: ModelConfig, l: number): AttentionShape {
  return { ...config, window: config.slidingLayers[l] ? config.slidingWindow : 0 };
}

/** Layer l's slice of the (nLayer, nHead) temperatures: (nHead), or undefined for all 1. */
export function layerTemperature(config: ModelConfig, attentionTemperature: Float64Array | undefined, l: number): Float64Array | undefined {
  return attentionTemperature?.subarray(l * config.nHead, (l + 1) * config.nHead);
}

/** The attention block's intermediates, per position: what the backward pass reads. */
export interface AttentionActivations {
  /** q, k after projection and bias, before the head norm and RoPE: (nHead·headDim), (nHeadKv·headDim) */
  readonly qProjected: Float64Array[];
  readonly kProjected: Float64Array[];
  /** The attention's inputs: q (nHead·headDim), k and v (nHeadKv·headDim), q and k after RoPE */
  readonly q: Float64Array[];
  readonly k: Float64Array[];
  readonly v: Float64Array[];
  /** wo · attention output, before the post-norm: (nEmbd) */
  readonly projected: Float64Array[];
}

/** Self-attention block of one layer.  x: per position (nEmbd) → per position (nEmbd), plus probabilities. */
export function attentionBlock(
  model: ReferenceModel,
  l: number,
  x: Float64Array[],
  temperature?: Float64Array,
): AttentionResult & { readonly activations: AttentionActivations } {
  const { config } = model;
  const layer = model.layers[l];
  const ropeOptions = layerRopeOptions(model, l);
  const headNorm = (y: Float64Array, weight: Float64Array | undefined) => (weight ? normEachHead(y, weight, config) : y);
  const normed = x.map((xi) => rmsNorm(xi, layer.attnNorm, config.rmsEps));
  const qProjected = normed.map((hi) => withBias(matVec(layer.wq, hi), layer.bq)); // (nHead·headDim)
  const kProjected = normed.map((hi) => withBias(matVec(layer.wk, hi), layer.bk)); // (nHeadKv·headDim)
  const q = qProjected.map((y, pos) => rope(headNorm(y, layer.qNorm), config.headDim, pos, ropeOptions));
  const k = kProjected.map((y, pos) => rope(headNorm(y, layer.kNorm), config.headDim, pos, ropeOptions));
  const v = normed.map((hi) => withBias(matVec(layer.wv, hi), layer.bv)); // (nHeadKv·headDim)
  const attended = causalAttention(q, k, v, layerAttentionShape(config, l), temperature);
  const projected = attended.output.map((o) => matVec(layer.wo, o)); // (nEmbd)
  const output = projected.map((y) => postNorm(y, layer.postAttnNorm, config));
  return { output, probabilities: attended.probabilities, activations: { qProjected, kProjected, q, k, v, projected } };
}

/** Qwen3's and Gemma 3's q/k norm: RMSNorm of each head's slice.  (nHeads·headDim) → same */
export function normEachHead(y: Float64Array, weight: Float64Array, config: ModelConfig): Float64Array {
  const out = new Float64Array(y.length);
  for (let start = 0; start < y.length; start += config.headDim)
    out.set(rmsNorm(y.subarray(start, start + config.headDim), weight, config.rmsEps), start);
  return out;
}

/** Gemma's post-norms on a block's output, when the model has them. */
function postNorm(y: Float64Array, weight: Float64Array | undefined, config: ModelConfig): Float64Array {
  return weight ? rmsNorm(y, weight, config.rmsEps) : y;
}

/** The FFN block's intermediates at one position. */
export interface FeedForwardActivations {
  /** wGate·h and wUp·h, before the gated activation: (nFf) */
  readonly gate: Float64Array;
  readonly up: Float64Array;
  /** wDown · activated, before the post-norm: (nEmbd) */
  readonly projected: Float64Array;
}

/** Gated feed-forward block of one layer.  x: (nEmbd) → (nEmbd) */
export function feedForwardBlock(
  model: ReferenceModel,
  layer: ReferenceLayer,
  x: Float64Array,
): { readonly output: Float64Array; readonly activations: FeedForwardActivations } {
  const h = rmsNorm(x, layer.ffnNorm, model.config.rmsEps);
  const gated = model.config.ffnActivation === 'gelu_tanh' ? geglu : swiglu;
  const gate = matVec(layer.wGate, h); // (nFf)
  const up = matVec(layer.wUp, h); // (nFf)
  const projected = matVec(layer.wDown, gated(gate, up)); // (nEmbd)
  return { output: postNorm(projected, layer.postFfnNorm, model.config), activations: { gate, up, projected } };
}

/** One layer's intermediates, per position. */
export interface LayerActivations {
  /** The stream entering the layer, and after the attention residual (the FFN's input): (nEmbd) */
  readonly input: Float64Array[];
  readonly middle: Float64Array[];
  readonly attention: AttentionActivations;
  readonly ffn: readonly FeedForwardActivations[];
}

/** One transformer layer: x + attention(x), then + FFN.  x: per position (nEmbd) → same. */
export function transformerLayer(
  model: ReferenceModel,
  l: number,
  x: Float64Array[],
  temperature?: Float64Array,
): { readonly output: Float64Array[]; readonly probabilities: Float64Array[][]; readonly activations: LayerActivations } {
  const attended = attentionBlock(model, l, x, temperature);
  const middle = x.map((xi, pos) => add(xi, attended.output[pos]));
  const ffn = middle.map((xi) => feedForwardBlock(model, model.layers[l], xi));
  const output = middle.map((xi, pos) => add(xi, ffn[pos].output));
  const activations = { input: x, middle, attention: attended.activations, ffn: ffn.map((f) => f.activations) };
  return { output, probabilities: attended.probabilities, activations };
}

/** Final norm, output projection and (Gemma 2) soft-cap of one position.  x: (nEmbd) → (vocab) */
export function outputLogits(model: ReferenceModel, x: Float64Array): Float64Array {
  const { finalSoftcap, rmsEps } = model.config;
  const logits = matVec(model.output, rmsNorm(x, model.outputNorm, rmsEps));
  return finalSoftcap ? logits.map((logit) => softcap(logit, finalSoftcap)) : logits;
}

/** Runs the whole prompt at once with a causal mask, as a prefill would. */
export function referenceForward(
  model: ReferenceModel,
  tokens: readonly number[],
  options: ReferenceForwardOptions = {},
): ReferenceForwardResult {
  const { config } = model;
  const { attentionTemperature, embeddingScales } = options;
  checkInputs(config, tokens, attentionTemperature, embeddingScales);
  let x = embed(model, tokens, embeddingScales); // per position (nEmbd)
  const attention: Float64Array[][][] = [];
  const hidden: Float64Array[][] = [];
  model.layers.forEach((_, l) => {
    if (options.captureHidden) hidden.push(x);
    const layer = transformerLayer(model, l, x, layerTemperature(config, attentionTemperature, l));
    x = layer.output;
    attention.push(layer.probabilities);
  });
  if (options.captureHidden) hidden.push(x);
  const logits = options.logits === 'none' ? [] : x.map((xi) => outputLogits(model, xi)); // (vocab)
  return { logits, attention, ...(options.captureHidden ? { hidden } : {}) };
}
