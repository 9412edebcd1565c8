// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) with W already dequantized to f32 rows (shaders/dequant.wgsl),
// for prefill on CPU-emulated adapters (SwiftShader, llvmpipe, WARP): each invocation computes a
// 4-row × 4-token block of Y with vec4 products along K, all in registers. No workgroup memory and
// no barriers (an emulator switches context at every barrier: a 64×64 workgroup-memory tile ran
// at 0.6 GFLOP/s there, this at 3.1, on 1024³); the 16 accumulators are named variables, not an
// array (an emulator keeps an array indexed by a loop variable in memory). K is a multiple of 4.
// GPUs take the tiled `matmul` instead.

// The same layout as shaders/linear.wgsl's Params (LINEAR_PARAMS in matmul.ts).
struct Params {
  M: u32,          // tokens
  N: u32,          // rows in w
  K: u32,          // row length
  outStride: u32,  // total output columns (all parts)
  rowOffset: u32,  // output column (and bias index) of w's first row
  xRowOffset: u32, // first row of X to read
  _pad0: u32,
  _pad1: u32,
}

override HAS_BIAS: bool = false;
/** Adds the product to what y holds (the residual stream) instead of overwriting it. */
override ACCUMULATE: bool = false;
/** Invocations per workgroup (along rows), set by src/engine/ops/matmul.ts. */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4f>;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn write(n: u32, m: u32, a: vec4f) {
  if (n < params.N && m < params.M) {
    var value = (a.x + a.y) + (a.z + a.w);
    if (HAS_BIAS) {
      value += bias[params.rowOffset + n];
    }
    let i = m * params.outStride + params.rowOffset + n;
    if (ACCUMULATE) {
      y[i] += value;
    } else {
      y[i] = value;
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  if (n0 >= params.N) {
    return;
  }
  let K4 = params.K / 4u;
  // Rows and tokens past the end repeat the last one; their results are never written.
  let w0 = n0 * K4;
  let w1 = min(n0 + 1u, params.N - 1u) * K4;
  let w2 = min(n0 + 2u, params.N - 1u) * K4;
  let w3 = min(n0 + 3u, params.N - 1u) * K4;
  let x0 = (params.xRowOffset + m0) * K4;
  let x1 = (params.xRowOffset + min(m0 + 1u, params.M - 1u)) * K4;
  let x2 = (params.xRowOffset + min(m0 + 2u, params.M - 1u)) * K4;
  let x3 = (params.xRowOffset + min(m0 + 3u, params.M - 1u)) * K4;
  var c00 = vec4f(0.0); var c01 = vec4f(0.0); var c02 = vec4f(0.0); var c03 = vec4f(0.0);
  var c10 = vec4f(0.0); var c11 = vec4f(0.0); var c12 = vec4f(0.0); var c13 = vec4f(0.0);
  var c20 = vec4f(0.0); var c21 = vec4f(0.0); var c22 = vec4f(0.0); var c23 = vec4f(0.0);
  var c30 = vec4f(0.0); var c31 = vec4f(0.0); var c32 = vec4f(0.0); var c33 = vec4f(0.0);
  for (var k = 0u; k < K4; k++) {
    let a0 = w[w0 + k]; let a1 = w[w1 + k]; let a2 = w[w2 + k]; let a3 = w[w3 + k];
    let b0 = x[x0 + k]; let b1 = x[x1 + k]; let b2 = x[x2 + k]; let b3 = x[x3 + k];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  write(n0, m0, c00); write(n0, m0 + 1u, c01); write(n0, m0 + 2u, c02); write(n0, m0 + 3u, c03);
  write(n0 + 1u, m0, c10); write(n0 + 1u, m0 + 1u, c11); write(n0 + 1u, m0 + 2u, c12); write(n0 + 1u, m0 + 3u, c13);
  write(n0 + 2u, m0, c20); write(n0 + 2u, m0 + 1u, c21); write(n0 + 2u, m0 + 2u, c22); write(n0 + 2u, m0 + 3u, c23);
  write(n0 + 3u, m0, c30); write(n0 + 3u, m0 + 1u, c31); write(n0 + 3u, m0 + 2u, c32); write(n0 + 3u, m0 + 3u, c33);
}
