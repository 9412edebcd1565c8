// Attention backward, pass 1 of 3: per (head, query), recompute the probabilities p_k of
// p = softmax(c(s_k) / T), s_k = scale · q·k_k, c = the soft-cap (or none), and write
//   probs[h][m][k]   = p_k
//   dscores[h][m][k] = ∂L/∂(q·k_k) = p_k (dO·v_k − Σ_j p_j dO·v_j) / T · c'(s_k) · scale
// (0 for keys the query does not see). dO is the gradient of the attention output. One invocation
// per (head, query), no workgroup memory (like attention_rows.wgsl).

//#include attention_backward_params

@group(0) @binding(1) var<storage, read> q: array<f32>;           // (M, nHead, headDim), after RoPE
@group(0) @binding(2) var<storage, read> kv: array<f32>;          // (2, ctx, nHeadKv, headDim)
@group(0) @binding(3) var<storage, read> dout: array<f32>;        // (M, nHead, headDim)
@group(0) @binding(4) var<storage, read> aux: array<u32>;         // aux[layer·nHead + h] = bits of 1/T
@group(0) @binding(5) var<storage, read_write> probs: array<f32>;   // (nHead, M, M)
@group(0) @binding(6) var<storage, read_write> dscores: array<f32>; // (nHead, M, M)

/** Invocations per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

fn dot_q(qBase: u32, base: u32) -> f32 {
  var sum = 0.0;
  for (var d = 0u; d < params.headDim; d++) {
    sum += q[qBase + d] * kv[base + d];
  }
  return sum;
}

fn dot_dout(oBase: u32, base: u32) -> f32 {
  var sum = 0.0;
  for (var d = 0u; d < params.headDim; d++) {
    sum += dout[oBase + d] * kv[base + d];
  }
  return sum;
}

/** The capped, scaled score and the cap's slope c'(s). */
fn capped(dot: f32) -> vec2f {
  let s = dot * params.scale;
  if (params.softcap > 0.0) {
    let t = tanh(clamp(s / params.softcap, -15.0, 15.0));
    return vec2f(params.softcap * t, 1.0 - t * t);
  }
  return vec2f(s, 1.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = gid.y * groups.x * WG + gid.x;
  if (index >= params.M * params.nHead) {
    return;
  }
  let m = index % params.M;
  let h = index / params.M;
  let kvHead = h / (params.nHead / params.nHeadKv);
  let qBase = (m * params.nHead + h) * params.headDim;
  let invTemperature = bitcast<f32>(aux[params.layer * params.nHead + h]);
  let first = first_key(m);
  let vBase = params.ctx * params.nHeadKv * params.headDim;
  let rowBase = (h * params.M + m) * params.M;

  var softmaxMax = -3.0e38;
  var softmaxSum = 0.0;
  for (var k = first; k <= m; k++) {
    let s = capped(dot_q(qBase, (k * params.nHeadKv + kvHead) * params.headDim)).x * invTemperature;
    if (s > softmaxMax) {
      softmaxSum = softmaxSum * exp(softmaxMax - s) + 1.0;
      softmaxMax = s;
    } else {
      softmaxSum += exp(s - softmaxMax);
    }
  }
  // Pass 2: p_k and dO·v_k, kept in the outputs, and their weighted sum.
  var weighted = 0.0;
  for (var k = first; k <= m; k++) {
    let kBase = (k * params.nHeadKv + kvHead) * params.headDim;
    let p = exp(capped(dot_q(qBase, kBase)).x * invTemperature - softmaxMax) / softmaxSum;
    let dp = dot_dout(qBase, vBase + kBase);
    probs[rowBase + k] = p;
    dscores[rowBase + k] = dp;
    weighted += p * dp;
  }
  for (var k = first; k <= m; k++) {
    let slope = capped(dot_q(qBase, (k * params.nHeadKv + kvHead) * params.headDim)).y;
    dscores[rowBase + k] = probs[rowBase + k] * (dscores[rowBase + k] - weighted) * invTemperature * slope * params.scale;
  }
  for (var k = 0u; k < first; k++) {
    probs[rowBase + k] = 0.0;
    dscores[rowBase + k] = 0.0;
  }
  for (var k = m + 1u; k < params.M; k++) {
    probs[rowBase + k] = 0.0;
    dscores[rowBase + k] = 0.0;
  }
}
