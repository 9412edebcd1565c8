// Float64 backward pass: activation gradients (no weight gradients), one function per forward op,
// and the gradient of the target cross-entropy with respect to the prompt's input embeddings
// (Token Highlighter, GCG): the ground truth the GPU backward is tested against.
//
// referenceGradient runs the forward keeping each layer's activations, then walks back:
//   loss ← cross-entropy of the final logits (through the final soft-cap)
//   → output projectionᵀ → final RMSNorm
//   per layer, last first: the stream gradient passes the residuals unchanged and adds
//     FFN branch:       post-norm → wDownᵀ → GLU → wGateᵀ + wUpᵀ → ffn RMSNorm
//     attention branch: post-norm → woᵀ → attention (softmax, temperature, soft-cap, scale)
//                       → inverse RoPE → head norm → wqᵀ + wkᵀ + wvᵀ → attn RMSNorm
//   → × embeddingScale · embeddingScales[i] at each prompt position.

import type { FfnActivation, ModelConfig } from '../engine/config';
import { EngineInputError } from '../errors';
import {
  checkInputs,
  embed,
  layerAttentionShape,
  layerRopeOptions,
  layerTemperature,
  outputLogits,
  transformerLayer,
  type FeedForwardActivations,
  type LayerActivations,
} from './forward';
import type { ReferenceLayer, ReferenceModel } from './model';
import { attentionRow, geluTanh, kvHeadOf, rope, silu, type AttentionShape, type Matrix, type RopeOptions } from './ops';

/** dx of y = rmsNorm(x, w, eps) given dy.  (n) */
export function rmsNormBackward(x: Float64Array, w: Float64Array, eps: number, dy: Float64Array): Float64Array {
  // y = x·r⊙w with r = (mean(x²) + eps)^(−1/2); ∂r/∂x_j = −r³·x_j/n.
  const n = x.length;
  let sumSquares = 0;
  let projection = 0; // Σ dy_i·w_i·x_i
  for (let i = 0; i < n; i++) {
    sumSquares += x[i] * x[i];
    projection += dy[i] * w[i] * x[i];
  }
  const r = 1 / Math.sqrt(sumSquares / n + eps);
  const dx = new Float64Array(n);
  for (let j = 0; j < n; j++) dx[j] = r * w[j] * dy[j] - ((r * r * r) / n) * x[j] * projection;
  return dx;
}

/** Wᵀ·dy: the gradient of x for y = W·x.  W (rows, cols), dy (rows) → (cols) */
export function matVecTransposed(w: Matrix, dy: Float64Array): Float64Array {
  if (dy.length !== w.rows) throw new RangeError(`matVecTransposed: dy has ${dy.length} values, the weight has ${w.rows} rows.`);
  const dx = new Float64Array(w.cols);
  for (let r = 0; r < w.rows; r++) {
    const row = r * w.cols;
    for (let c = 0; c < w.cols; c++) dx[c] += w.data[row + c] * dy[r];
  }
  return dx;
}

/** Gradient through rope(x, headDim, pos, options): the inverse rotation of dy.  (nHeads·headDim) */
export function ropeBackward(dy: Float64Array, headDim: number, pos: number, options: RopeOptions): Float64Array {
  // Each pair turns by θ, an orthogonal map: its transpose turns by −θ, which is RoPE at −pos.
  return rope(dy, headDim, -pos, options);
}

/** f′ of the reference's activation f (silu or gelu_tanh), elementwise.  (n) → (n) */
function activationDerivative(kind: FfnActivation, x: Float64Array): Float64Array {
  if (kind === 'silu')
    return x.map((v) => {
      const sigmoid = 1 / (1 + Math.exp(-v));
      return sigmoid * (1 + v * (1 - sigmoid));
    });
  // f = ½v(1 + tanh u), u = c(v + 0.044715v³): f′ = ½(1 + tanh u) + ½v(1 − tanh²u)·c(1 + 3·0.044715v²)
  const c = Math.sqrt(2 / Math.PI);
  return x.map((v) => {
    const t = Math.tanh(c * (v + 0.044715 * v ** 3));
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v);
  });
}

/** Gradients of gate and up for out = f(gate)·up, f = silu or gelu_tanh (exactly the reference's f).  (nFf) each */
export function gluBackward(
  kind: FfnActivation,
  gate: Float64Array,
  up: Float64Array,
  dOut: Float64Array,
): { dGate: Float64Array; dUp: Float64Array } {
  const activated = kind === 'gelu_tanh' ? geluTanh(gate) : silu(gate);
  const slope = activationDerivative(kind, gate);
  return { dGate: slope.map((s, i) => s * up[i] * dOut[i]), dUp: activated.map((f, i) => f * dOut[i]) };
}

/**
 * Gradients of q, k, v (per position, same shapes as causalAttention's inputs) given dOut (per
 * position nHead·headDim): through softmax, temperature, soft-cap (d/ds cap·tanh(s/cap) = 1 − tanh²),
 * score scale, sliding window and GQA (key/value heads accumulate over their query heads).
 */
export function causalAttentionBackward(
  q: readonly Float64Array[],
  k: readonly Float64Array[],
  v: readonly Float64Array[],
  shape: AttentionShape,
  temperature: Float64Array | undefined,
  dOut: readonly Float64Array[],
): { dq: Float64Array[]; dk: Float64Array[]; dv: Float64Array[] } {
  const { nHead, headDim } = shape;
  const scale = shape.attentionScale ?? 1 / Math.sqrt(headDim);
  const cap = shape.attnSoftcap ?? 0;
  const dq = q.map((qi) => new Float64Array(qi.length)); // per position (nHead·headDim)
  const dk = k.map((ki) => new Float64Array(ki.length)); // per position (nHeadKv·headDim)
  const dv = v.map((vi) => new Float64Array(vi.length)); // per position (nHeadKv·headDim)
  for (let head = 0; head < nHead; head++) {
    const qOffset = head * headDim;
    const kvOffset = kvHeadOf(head, shape) * headDim;
    const t = temperature?.[head] ?? 1;
    for (let query = 0; query < q.length; query++) {
      const p = attentionRow(q, k, head, query, shape, t); // (nTokens), 0 outside the window
      const first = shape.window ? Math.max(0, query - shape.window + 1) : 0;
      // out = Σ p_j·v_j: dv_j += p_j·dOut, dp_j = dOut·v_j
      const dp = new Float64Array(query + 1);
      let expected = 0; // Σ p_j·dp_j
      for (let key = first; key <= query; key++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) {
          dv[key][kvOffset + d] += p[key] * dOut[query][qOffset + d];
          dot += dOut[query][qOffset + d] * v[key][kvOffset + d];
        }
        dp[key] = dot;
        expected += p[key] * dot;
      }
      for (let key = first; key <= query; key++) {
        // softmax: ds_j = p_j(dp_j − Σ p·dp); s = cap(a)/T; a = (q·k)·scale
        const ds = p[key] * (dp[key] - expected);
        let da = ds / t;
        if (cap) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[query][qOffset + d] * k[key][kvOffset + d];
          const tanh = Math.tanh((dot * scale) / cap);
          da *= 1 - tanh * tanh;
        }
        const dDot = da * scale;
        for (let d = 0; d < headDim; d++) {
          dq[query][qOffset + d] += dDot * k[key][kvOffset + d];
          dk[key][kvOffset + d] += dDot * q[query][qOffset + d];
        }
      }
    }
  }
  return { dq, dk, dv };
}

/**
 * For one row of final logits z (after the final soft-cap if the model has one; pass cap = 0 for
 * none): −log softmax(z)[target] and its gradient with respect to the PRE-cap logits.  (vocab)
 */
export function crossEntropyBackward(z: Float64Array, target: number, cap: number): { loss: number; dRaw: Float64Array } {
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  let sum = 0;
  for (const v of z) sum += Math.exp(v - max);
  const logSumExp = max + Math.log(sum);
  // dL/dz = softmax(z) − onehot(target); z = cap·tanh(raw/cap) gives dz/draw = 1 − (z/cap)².
  const dRaw = z.map((v, i) => {
    const dz = Math.exp(v - logSumExp) - (i === target ? 1 : 0);
    return cap ? dz * (1 - (v / cap) ** 2) : dz;
  });
  return { loss: logSumExp - z[target], dRaw };
}

/** Qwen3's and Gemma 3's per-head q/k norm backward: rmsNormBackward on each head's slice.  (nHeads·headDim) */
function normEachHeadBackward(y: Float64Array, weight: Float64Array, config: ModelConfig, dOut: Float64Array): Float64Array {
  const dy = new Float64Array(y.length);
  for (let start = 0; start < y.length; start += config.headDim) {
    const slice = (a: Float64Array) => a.subarray(start, start + config.headDim);
    dy.set(rmsNormBackward(slice(y), weight, config.rmsEps, slice(dOut)), start);
  }
  return dy;
}

/** Through Gemma's post-norm when the layer has one: dy of its input y.  (nEmbd) */
function postNormBackward(y: Float64Array, weight: Float64Array | undefined, config: ModelConfig, dOut: Float64Array): Float64Array {
  return weight ? rmsNormBackward(y, weight, config.rmsEps, dOut) : dOut;
}

const addInto = (a: Float64Array, b: Float64Array) => {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
};

/** The gradient of the FFN block's input x given that of its output.  (nEmbd) → (nEmbd) */
function feedForwardBackward(model: ReferenceModel, layer: ReferenceLayer, x: Float64Array, saved: FeedForwardActivations, dOut: Float64Array): Float64Array {
  const { config } = model;
  const dProjected = postNormBackward(saved.projected, layer.postFfnNorm, config, dOut); // (nEmbd)
  const dActivated = matVecTransposed(layer.wDown, dProjected); // (nFf)
  const { dGate, dUp } = gluBackward(config.ffnActivation, saved.gate, saved.up, dActivated);
  const dNormed = addInto(matVecTransposed(layer.wGate, dGate), matVecTransposed(layer.wUp, dUp)); // (nEmbd)
  return rmsNormBackward(x, layer.ffnNorm, config.rmsEps, dNormed);
}

/** The gradient of the attention block's input given that of its output.  per position (nEmbd) → same */
function attentionBackward(
  model: ReferenceModel,
  l: number,
  saved: LayerActivations,
  temperature: Float64Array | undefined,
  dOut: Float64Array[],
): Float64Array[] {
  const { config } = model;
  const layer = model.layers[l];
  const act = saved.attention;
  const ropeOptions = layerRopeOptions(model, l);
  const dAttended = dOut.map((d, pos) => matVecTransposed(layer.wo, postNormBackward(act.projected[pos], layer.postAttnNorm, config, d))); // (nHead·headDim)
  const { dq, dk, dv } = causalAttentionBackward(act.q, act.k, act.v, layerAttentionShape(config, l), temperature, dAttended);
  // Back through RoPE, then the head norm; a bias passes the gradient unchanged.
  const beforeRope = (d: Float64Array, pos: number, projected: Float64Array, headNorm: Float64Array | undefined) => {
    const dNormedHeads = ropeBackward(d, config.headDim, pos, ropeOptions);
    return headNorm ? normEachHeadBackward(projected, headNorm, config, dNormedHeads) : dNormedHeads;
  };
  return saved.input.map((x, pos) => {
    const dqProjected = beforeRope(dq[pos], pos, act.qProjected[pos], layer.qNorm); // (nHead·headDim)
    const dkProjected = beforeRope(dk[pos], pos, act.kProjected[pos], layer.kNorm); // (nHeadKv·headDim)
    const dNormed = matVecTransposed(layer.wq, dqProjected); // (nEmbd)
    addInto(dNormed, matVecTransposed(layer.wk, dkProjected));
    addInto(dNormed, matVecTransposed(layer.wv, dv[pos]));
    return rmsNormBackward(x, layer.attnNorm, config.rmsEps, dNormed);
  });
}

export interface ReferenceGradientOptions {
  /** (nLayer, nHead) row-major attention softmax temperatures; absent = all 1. */
  readonly attentionTemperature?: Float64Array;
  /** (prompt length) factor on each prompt position's embedding row; the target's rows are not scaled. Absent = all 1. */
  readonly embeddingScales?: ArrayLike<number>;
}

export interface ReferenceGradient {
  /** Mean over the target of −log p(target[i] | prompt, target[<i]). */
  readonly loss: number;
  /** (target length) log p(target[i] | prompt, target[<i]) */
  readonly logprobs: Float64Array;
  /** Per prompt position: (nEmbd) ∂loss/∂e_i, e_i the embedding row before any scale */
  readonly grad: Float64Array[];
}

/**
 * L = mean over i of −log p(target[i] | prompt, target[<i]) (the sequence fed is prompt + target
 * without its last token; logits at positions P−1 … P+T−2 predict the targets), and
 * grad[i] = ∂L/∂e_i for each PROMPT position i (prompt.length rows of nEmbd), where e_i is the
 * looked-up embedding row BEFORE config.embeddingScale and embeddingScales (what Hugging Face calls
 * inputs_embeds before Gemma's normalizer): so grad[i] = embeddingScale · embeddingScales[i] · ∂L/∂x0_i.
 */
export function referenceGradient(
  model: ReferenceModel,
  prompt: readonly number[],
  target: readonly number[],
  options: ReferenceGradientOptions = {},
): ReferenceGradient {
  const { config } = model;
  const { attentionTemperature, embeddingScales } = options;
  if (prompt.length === 0) throw new EngineInputError('The prompt is empty; give at least one token before the target.');
  if (target.length === 0) throw new EngineInputError('The target is empty; give at least one token to score.');
  if (embeddingScales && embeddingScales.length !== prompt.length)
    throw new EngineInputError(`embeddingScales has ${embeddingScales.length} values for ${prompt.length} prompt tokens; give one factor per prompt token.`);
  const tokens = [...prompt, ...target.slice(0, -1)];
  const scales = Array.from({ length: tokens.length }, (_, i) => (i < prompt.length ? (embeddingScales?.[i] ?? 1) : 1));
  checkInputs(config, [...tokens, ...target.slice(-1)], attentionTemperature);

  // Forward, keeping every layer's activations.
  let x = embed(model, tokens, scales); // per position (nEmbd)
  const saved: LayerActivations[] = [];
  model.layers.forEach((_, l) => {
    const layer = transformerLayer(model, l, x, layerTemperature(config, attentionTemperature, l));
    saved.push(layer.activations);
    x = layer.output;
  });

  // Loss and its gradient at the positions that predict the target.
  const dx: Float64Array[] = x.map((xi) => new Float64Array(xi.length)); // per position (nEmbd)
  const logprobs = new Float64Array(target.length);
  target.forEach((token, i) => {
    const pos = prompt.length - 1 + i;
    const { loss, dRaw } = crossEntropyBackward(outputLogits(model, x[pos]), token, config.finalSoftcap); // (vocab)
    logprobs[i] = -loss;
    const dNormed = matVecTransposed(model.output, dRaw.map((d) => d / target.length)); // (nEmbd)
    dx[pos] = rmsNormBackward(x[pos], model.outputNorm, config.rmsEps, dNormed);
  });

  // Backward through the layers, last first; each residual passes the gradient on and adds its branch's.
  let dStream: Float64Array[] = dx;
  for (let l = model.layers.length - 1; l >= 0; l--) {
    const act = saved[l];
    const dMiddle = dStream.map((d, pos) => addInto(Float64Array.from(d), feedForwardBackward(model, model.layers[l], act.middle[pos], act.ffn[pos], d)));
    const dBranch = attentionBackward(model, l, act, layerTemperature(config, attentionTemperature, l), dMiddle);
    dStream = dMiddle.map((d, pos) => addInto(Float64Array.from(d), dBranch[pos]));
  }

  const loss = -logprobs.reduce((sum, lp) => sum + lp, 0) / target.length;
  const grad = prompt.map((_, i) => dStream[i].map((d) => d * config.embeddingScale * scales[i]));
  return { loss, logprobs, grad };
}
