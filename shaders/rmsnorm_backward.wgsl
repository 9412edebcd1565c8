// The backward of y = x / r ⊙ w with r = sqrt(mean(x²) + eps), for x: with g = w ⊙ dy,
//   dx = g / r − x · (Σ g·x) / (cols · r³).
// One workgroup per row, like shaders/rmsnorm.wgsl (WG = 1 on CPU emulations sums serially).
// MODE 0 writes dx, 1 adds to dx (the residual stream's gradient), 2 writes the result back into
// dy (per-head q/k norms and post-norms, whose gradient replaces the incoming one).

struct Params {
  cols: u32,
  eps: f32,
  rows: u32,
  xRowOffset: u32,   // row r reads x row xRowOffset + r
  dxRowOffset: u32,  // and writes dx row dxRowOffset + r (MODE 0 and 1)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

override MODE: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

/** Invocations per row, a power of two; set by src/engine/ops/backward.ts. */
override WG: u32;
var<workgroup> partial: array<vec2f, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let xBase = (params.xRowOffset + row) * params.cols;
  let dyBase = row * params.cols;
  // (Σ x², Σ w·dy·x)
  var sums = vec2f();
  for (var i = lid; i < params.cols; i += WG) {
    let v = x[xBase + i];
    sums += vec2f(v * v, weight[i] * dy[dyBase + i] * v);
  }
  if (WG > 1u) {
    partial[lid] = sums;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        partial[lid] += partial[lid + stride];
      }
      workgroupBarrier();
    }
    sums = partial[0];
  }
  let n = f32(params.cols);
  let inv = inverseSqrt(sums.x / n + params.eps);  // 1 / r
  let c = sums.y * inv * inv * inv / n;
  let dxBase = (params.dxRowOffset + row) * params.cols;
  for (var i = lid; i < params.cols; i += WG) {
    let value = weight[i] * dy[dyBase + i] * inv - x[xBase + i] * c;
    if (MODE == 2u) {
      dy[dyBase + i] = value;
    } else if (MODE == 1u) {
      dx[dxBase + i] += value;
    } else {
      dx[dxBase + i] = value;
    }
  }
}
