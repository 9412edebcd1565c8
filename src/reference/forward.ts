// Float64 forward pass of a whole prompt (Llama, Qwen2, Qwen3, Gemma 2, Gemma 3): logits and attention probabilities per position.

import { layerRope, type ModelConfig } from '../engine/config';
import { EngineInputError } from '../errors';
import type { ReferenceLayer, ReferenceModel } from './model';
import { addBias, causalAttention, geglu, matVec, rmsNorm, rope, softcap, swiglu, type AttentionResult, type RopeOptions } from './ops';

export { loadReferenceModel, referenceModelFromTensors, referenceTensorShapes } from './model';
export type { ReferenceLayer, ReferenceModel } from './model';

export interface ReferenceForwardOptions {
  /** (nLayer, nHead) row-major attention softmax temperatures; absent = all 1. */
  readonly attentionTemperature?: Float64Array;
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

function checkInputs(config: ModelConfig, tokens: readonly number[], temperature?: Float64Array): void {
  if (tokens.length === 0) throw new EngineInputError('The prompt is empty; give at least one token.');
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= config.vocabSize);
  if (bad !== undefined)
    throw new EngineInputError(`Token id ${bad} is outside the vocabulary 0…${config.vocabSize - 1}; check the tokenizer matches the model.`);
  if (temperature && temperature.length !== config.nLayer * config.nHead)
    throw new EngineInputError(
      `attentionTemperature has ${temperature.length} values; this model needs nLayer × nHead = ${config.nLayer * config.nHead}.`,
    );
}

function embed(model: ReferenceModel, tokens: readonly number[]): Float64Array[] {
  const { cols, data } = model.tokenEmbedding;
  const scale = model.config.embeddingScale;
  return tokens.map((t) => data.slice(t * cols, (t + 1) * cols).map((v) => v * scale));
}

/** Self-attention block of one layer.  x: per position (nEmbd) → per position (nEmbd), plus probabilities. */
function attentionBlock(model: ReferenceModel, l: number, x: Float64Array[], temperature?: Float64Array): AttentionResult {
  const { config } = model;
  const layer = model.layers[l];
  const { base, freqScale } = layerRope(config, l);
  const ropeOptions: RopeOptions = { base, freqScale, style: config.ropeStyle, freqFactors: model.ropeFreqFactors };
  const h = x.map((xi) => rmsNorm(xi, layer.attnNorm, config.rmsEps));
  const project = (w: ReferenceLayer['wq'], b: Float64Array | undefined, headNorm: Float64Array | undefined, hi: Float64Array) => {
    const y = withBias(matVec(w, hi), b);
    return headNorm ? normEachHead(y, headNorm, config) : y;
  };
  const q = h.map((hi, pos) => rope(project(layer.wq, layer.bq, layer.qNorm, hi), config.headDim, pos, ropeOptions)); // (nHead·headDim)
  const k = h.map((hi, pos) => rope(project(layer.wk, layer.bk, layer.kNorm, hi), config.headDim, pos, ropeOptions)); // (nHeadKv·headDim)
  const v = h.map((hi) => withBias(matVec(layer.wv, hi), layer.bv)); // (nHeadKv·headDim)
  const window = config.slidingLayers[l] ? config.slidingWindow : 0;
  const attended = causalAttention(q, k, v, { ...config, window }, temperature);
  const output = attended.output.map((o) => postNorm(matVec(layer.wo, o), layer.postAttnNorm, config));
  return { output, probabilities: attended.probabilities };
}

/** Qwen3's and Gemma 3's q/k norm: RMSNorm of each head's slice.  (nHeads·headDim) → same */
function normEachHead(y: Float64Array, weight: Float64Array, config: ModelConfig): Float64Array {
  const out = new Float64Array(y.length);
  for (let start = 0; start < y.length; start += config.headDim)
    out.set(rmsNorm(y.subarray(start, start + config.headDim), weight, config.rmsEps), start);
  return out;
}

/** Gemma's post-norms on a block's output, when the model has them. */
function postNorm(y: Float64Array, weight: Float64Array | undefined, config: ModelConfig): Float64Array {
  return weight ? rmsNorm(y, weight, config.rmsEps) : y;
}

/** Gated feed-forward block of one layer.  x: (nEmbd) → (nEmbd) */
function feedForwardBlock(model: ReferenceModel, layer: ReferenceLayer, x: Float64Array): Float64Array {
  const h = rmsNorm(x, layer.ffnNorm, model.config.rmsEps);
  const gated = model.config.ffnActivation === 'gelu_tanh' ? geglu : swiglu;
  const activated = gated(matVec(layer.wGate, h), matVec(layer.wUp, h)); // (nFf)
  return postNorm(matVec(layer.wDown, activated), layer.postFfnNorm, model.config);
}

/** Runs the whole prompt at once with a causal mask, as a prefill would. */
export function referenceForward(
  model: ReferenceModel,
  tokens: readonly number[],
  options: ReferenceForwardOptions = {},
): ReferenceForwardResult {
  const { config } = model;
  const { attentionTemperature } = options;
  checkInputs(config, tokens, attentionTemperature);
  let x = embed(model, tokens); // per position (nEmbd)
  const attention: Float64Array[][][] = [];
  const hidden: Float64Array[][] = [];
  model.layers.forEach((layer, l) => {
    if (options.captureHidden) hidden.push(x);
    const temperature = attentionTemperature?.subarray(l * config.nHead, (l + 1) * config.nHead); // (nHead)
    const attended = attentionBlock(model, l, x, temperature);
    x = x.map((xi, pos) => add(xi, attended.output[pos]));
    x = x.map((xi) => add(xi, feedForwardBlock(model, layer, xi)));
    attention.push(attended.probabilities);
  });
  if (options.captureHidden) hidden.push(x);
  const cap = (logit: number) => (config.finalSoftcap ? softcap(logit, config.finalSoftcap) : logit);
  const logits = options.logits === 'none' ? [] : x.map((xi) => matVec(model.output, rmsNorm(xi, model.outputNorm, config.rmsEps)).map(cap)); // (vocab)
  return { logits, attention, ...(options.captureHidden ? { hidden } : {}) };
}
