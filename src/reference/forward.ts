// Float64 forward pass of a whole prompt (Llama, Qwen2): logits and attention probabilities per position.

import type { Architecture, ModelConfig } from '../engine/config';
import { EngineInputError } from '../engine/errors';
import type { ReferenceLayer, ReferenceModel } from './model';
import { addBias, causalAttention, matVec, rmsNorm, rope, swiglu, type AttentionResult, type RopeOptions } from './ops';

export { loadReferenceModel, referenceModelFromTensors, referenceTensorShapes } from './model';
export type { ReferenceLayer, ReferenceModel } from './model';

export interface ReferenceForwardOptions {
  /** (nLayer, nHead) row-major attention softmax temperatures; absent = all 1. */
  readonly attentionTemperature?: Float64Array;
  /** Also return the residual stream entering every layer (for layer-by-layer debugging). */
  readonly captureHidden?: boolean;
}

export interface ReferenceForwardResult {
  /** Per position: (vocabSize) */
  readonly logits: Float64Array[];
  /** [layer][head][query]: (nTokens) probabilities over keys, 0 past the query */
  readonly attention: Float64Array[][][];
  /** [layer][position]: (nEmbd) stream entering layer; index nLayer is the stream before output_norm */
  readonly hidden?: Float64Array[][];
}

/**
 * What differs between architectures, as hooks on the shared Llama skeleton. Gemma 2 (embedding
 * scale, GeGLU, post-norms, soft-capping, sliding window) and Qwen3 (q/k norm) become new entries
 * plus hooks here.
 */
interface ArchitectureTraits {
  /** Multiplies every embedding row (Gemma: sqrt(nEmbd)). */
  readonly embeddingScale: (config: ModelConfig) => number;
  /** The FFN's gated activation act(gate) ⊙ up. */
  readonly gatedActivation: (gate: Float64Array, up: Float64Array) => Float64Array;
}

const LLAMA_TRAITS: ArchitectureTraits = { embeddingScale: () => 1, gatedActivation: swiglu };
// Qwen2 differs from Llama only in data: q/k/v biases (in the weights) and NeoX RoPE (in the config).
const TRAITS: Record<Architecture, ArchitectureTraits> = { llama: LLAMA_TRAITS, qwen2: LLAMA_TRAITS };

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
  const scale = TRAITS[model.config.arch].embeddingScale(model.config);
  return tokens.map((t) => data.slice(t * cols, (t + 1) * cols).map((v) => v * scale));
}

/** Self-attention block of one layer.  x: per position (nEmbd) → per position (nEmbd), plus probabilities. */
function attentionBlock(model: ReferenceModel, layer: ReferenceLayer, x: Float64Array[], temperature?: Float64Array): AttentionResult {
  const { config } = model;
  const ropeOptions: RopeOptions = { base: config.ropeTheta, style: config.ropeStyle, freqFactors: model.ropeFreqFactors };
  const h = x.map((xi) => rmsNorm(xi, layer.attnNorm, config.rmsEps));
  const q = h.map((hi, pos) => rope(withBias(matVec(layer.wq, hi), layer.bq), config.headDim, pos, ropeOptions)); // (nHead·headDim)
  const k = h.map((hi, pos) => rope(withBias(matVec(layer.wk, hi), layer.bk), config.headDim, pos, ropeOptions)); // (nHeadKv·headDim)
  const v = h.map((hi) => withBias(matVec(layer.wv, hi), layer.bv)); // (nHeadKv·headDim)
  const attended = causalAttention(q, k, v, config, temperature);
  return { output: attended.output.map((o) => matVec(layer.wo, o)), probabilities: attended.probabilities };
}

/** Gated feed-forward block of one layer.  x: (nEmbd) → (nEmbd) */
function feedForwardBlock(model: ReferenceModel, layer: ReferenceLayer, x: Float64Array): Float64Array {
  const h = rmsNorm(x, layer.ffnNorm, model.config.rmsEps);
  const activated = TRAITS[model.config.arch].gatedActivation(matVec(layer.wGate, h), matVec(layer.wUp, h)); // (nFf)
  return matVec(layer.wDown, activated);
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
    const attended = attentionBlock(model, layer, x, temperature);
    x = x.map((xi, pos) => add(xi, attended.output[pos]));
    x = x.map((xi) => add(xi, feedForwardBlock(model, layer, xi)));
    attention.push(attended.probabilities);
  });
  if (options.captureHidden) hidden.push(x);
  const logits = x.map((xi) => matVec(model.output, rmsNorm(xi, model.outputNorm, config.rmsEps))); // (vocab)
  return { logits, attention, ...(options.captureHidden ? { hidden } : {}) };
}
