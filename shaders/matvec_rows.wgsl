// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for one or a few tokens on CPU-emulated adapters
// (SwiftShader, llvmpipe, WARP): each invocation computes 4 weight rows for one token, walking K
// one 32-weight block at a time (block_at / block_quad from the weight format's snippet). No
// workgroup memory, no barriers, no subgroup operations, and no function-scope arrays: an
// emulator runs a workgroup's invocations a few at a time in SIMD lanes, switches context at
// every barrier, and keeps arrays indexed by a loop variable in memory. On a GPU this pattern is
// uncoalesced; GPUs take `matvec_subgroups` / `matvec`. Weight format comes from the included
// weights/<type>.wgsl.

//#include linear

/** Invocations per workgroup, set by src/engine/ops/matmul.ts (its dispatch count assumes it). */
override WG: u32;

/** Inputs k…k+3 of token m, 0 past the row's end (float-typed rows need not be whole blocks). */
fn x4(m: u32, k: u32) -> vec4f {
  let row = m * params.K;
  if (k + 3u < params.K) {
    return vec4f(x[row + k], x[row + k + 1u], x[row + k + 2u], x[row + k + 3u]);
  }
  let last = row + params.K - 1u;
  return vec4f(
    select(0.0, x[min(row + k, last)], k < params.K),
    select(0.0, x[min(row + k + 1u, last)], k + 1u < params.K),
    select(0.0, x[min(row + k + 2u, last)], k + 2u < params.K),
    0.0,
  );
}

fn write(n: u32, t: u32, a: vec4f) {
  if (n < params.N) {
    var value = (a.x + a.y) + (a.z + a.w);
    if (HAS_BIAS) {
      value += bias[params.rowOffset + n];
    }
    store(t * params.outStride + params.rowOffset + n, value);
  }
}

/** x: 4 rows per invocation, WG invocations per workgroup; y: one token per workgroup row. */
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 4u;
  let t = gid.y;
  if (n0 >= params.N) {
    return;
  }
  // Rows past the end repeat the last one; their results are never written.
  let last = params.N - 1u;
  let m = params.xRowOffset + t;
  let blocks = (params.K + 31u) / 32u;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var kb = 0u; kb < blocks; kb++) {
    let b0 = block_at(n0, kb, params.K);
    let b1 = block_at(min(n0 + 1u, last), kb, params.K);
    let b2 = block_at(min(n0 + 2u, last), kb, params.K);
    let b3 = block_at(min(n0 + 3u, last), kb, params.K);
    for (var i = 0u; i < 8u; i++) {
      let xs = x4(m, kb * 32u + i * 4u);
      a0 += block_quad(b0, i) * xs;
      a1 += block_quad(b1, i) * xs;
      a2 += block_quad(b2, i) * xs;
      a3 += block_quad(b3, i) * xs;
    }
  }
  write(n0, t, a0);
  write(n0 + 1u, t, a1);
  write(n0 + 2u, t, a2);
  write(n0 + 3u, t, a3);
}
