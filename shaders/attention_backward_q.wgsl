// Attention backward, pass 2 of 3: dq[m][h][d] = Σ_k dscores[h][m][k] · k_k[d], one invocation per
// output value (read attention_backward_scores.wgsl first).

//#include attention_backward_params

@group(0) @binding(1) var<storage, read> kv: array<f32>;       // (2, ctx, nHeadKv, headDim)
@group(0) @binding(2) var<storage, read> dscores: array<f32>;  // (nHead, M, M)
@group(0) @binding(3) var<storage, read_write> dq: array<f32>; // (M, nHead, headDim)

/** Invocations per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = gid.y * groups.x * WG + gid.x;
  if (index >= params.M * params.nHead * params.headDim) {
    return;
  }
  let d = index % params.headDim;
  let h = (index / params.headDim) % params.nHead;
  let m = index / (params.headDim * params.nHead);
  let kvHead = h / (params.nHead / params.nHeadKv);
  let rowBase = (h * params.M + m) * params.M;
  var sum = 0.0;
  for (var k = first_key(m); k <= m; k++) {
    sum += dscores[rowBase + k] * kv[(k * params.nHeadKv + kvHead) * params.headDim + d];
  }
  dq[index] = sum;
}
