// Shared by the matrix kernels (matvec, matvec_subgroups, matmul): their uniform parameters,
// bindings and the weight-format snippet. Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias).

struct Params {
  M: u32,          // tokens
  N: u32,          // rows of this weight part
  K: u32,          // row length
  outStride: u32,  // total output columns (all parts)
  rowOffset: u32,  // first output column of this part
  xRowOffset: u32, // first row of X to read
  _pad0: u32,
  _pad1: u32,
}

override HAS_BIAS: bool = false;
/** Adds the product to what y holds (the residual stream) instead of overwriting it. */
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn x_at(i: u32) -> f32 { return x[i]; }

/** Writes one output: y = value, or y += value with ACCUMULATE (each output has one writer). */
fn store(i: u32, value: f32) {
  if (ACCUMULATE) {
    y[i] += value;
  } else {
    y[i] = value;
  }
}

//#include weights
