// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for few tokens (decode): 8 rows per workgroup,
// 32 lanes per row, each lane dotting whole 32-weight blocks. Weight format comes from the
// included weights/<type>.wgsl.

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

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn x_at(i: u32) -> f32 { return x[i]; }

//#include weights

const LANES: u32 = 32u;
const ROWS: u32 = 8u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % LANES;
  let rowInGroup = lid / LANES;
  let n = wg.x * ROWS + rowInGroup;
  let m = wg.y;
  let blocks = (params.K + 31u) / 32u;
  var sum = 0.0;
  if (n < params.N) {
    let xBase = (params.xRowOffset + m) * params.K;
    for (var kb = lane; kb < blocks; kb += LANES) {
      sum += block_dot(n, kb, params.K, xBase);
    }
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lane == 0u && n < params.N) {
    var value = partial[lid];
    if (HAS_BIAS) {
      value += bias[params.rowOffset + n];
    }
    y[m * params.outStride + params.rowOffset + n] = value;
  }
}
