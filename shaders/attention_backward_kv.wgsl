// Attention backward, pass 3 of 3, one invocation per (key position, kv head, d):
//   dk[k][g][d] = Σ_{h of group g} Σ_m dscores[h][m][k] · q[m][h][d]
//   dv[k][g][d] = Σ_{h of group g} Σ_m probs[h][m][k] · dO[m][h][d]
// over the queries m ≥ k that see key k (read attention_backward_scores.wgsl first).

//#include attention_backward_params

@group(0) @binding(1) var<storage, read> q: array<f32>;         // (M, nHead, headDim)
@group(0) @binding(2) var<storage, read> dout: array<f32>;      // (M, nHead, headDim)
@group(0) @binding(3) var<storage, read> probs: array<f32>;     // (nHead, M, M)
@group(0) @binding(4) var<storage, read> dscores: array<f32>;   // (nHead, M, M)
@group(0) @binding(5) var<storage, read_write> dk: array<f32>;  // (M, nHeadKv, headDim)
@group(0) @binding(6) var<storage, read_write> dv: array<f32>;  // (M, nHeadKv, headDim)

/** Invocations per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = gid.y * groups.x * WG + gid.x;
  if (index >= params.M * params.nHeadKv * params.headDim) {
    return;
  }
  let d = index % params.headDim;
  let g = (index / params.headDim) % params.nHeadKv;
  let k = index / (params.headDim * params.nHeadKv);
  let group = params.nHead / params.nHeadKv;
  // Queries that see key k: k … k + window − 1 (or to the end).
  var lastQuery = params.M - 1u;
  if (params.window > 0u) {
    lastQuery = min(lastQuery, k + params.window - 1u);
  }
  var sumK = 0.0;
  var sumV = 0.0;
  for (var h = g * group; h < (g + 1u) * group; h++) {
    for (var m = k; m <= lastQuery; m++) {
      let i = (h * params.M + m) * params.M + k;
      let o = (m * params.nHead + h) * params.headDim + d;
      sumK += dscores[i] * q[o];
      sumV += probs[i] * dout[o];
    }
  }
  dk[index] = sumK;
  dv[index] = sumV;
}
