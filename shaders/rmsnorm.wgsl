// out[r] = x[r] / sqrt(mean(x[r]²) + eps) * weight, one workgroup per row; IN_PLACE writes the
// result back into x (per-head q/k norms, Gemma's post-norms) and leaves `out` untouched.
// WG = 1 (CPU emulations of a GPU, where a barrier is a context switch) sums the row serially.

struct Params {
  cols: u32,
  eps: f32,
  inRowOffset: u32,  // row r reads x row inRowOffset + r
  rows: u32,
}

override IN_PLACE: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

/** Invocations per row, a power of two; set by src/engine/ops/rmsnorm.ts. */
override WG: u32;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let inBase = (params.inRowOffset + row) * params.cols;
  let outBase = row * params.cols;
  var sum = 0.0;
  for (var i = lid; i < params.cols; i += WG) {
    let v = x[inBase + i];
    sum += v * v;
  }
  if (WG > 1u) {
    partial[lid] = sum;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        partial[lid] += partial[lid + stride];
      }
      workgroupBarrier();
    }
    sum = partial[0];
  }
  let scale = inverseSqrt(sum / f32(params.cols) + params.eps);
  for (var i = lid; i < params.cols; i += WG) {
    let value = x[inBase + i] * scale * weight[i];
    if (IN_PLACE) {
      x[inBase + i] = value;
    } else {
      out[outBase + i] = value;
    }
  }
}
