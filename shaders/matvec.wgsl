// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for few tokens (decode): ROWS rows per workgroup,
// 32 lanes per row, each lane dotting whole 32-weight blocks. Weight format comes from the
// included weights/<type>.wgsl.

//#include linear

const LANES: u32 = 32u;
/** Rows per workgroup, set by src/engine/ops/matmul.ts (its dispatch count assumes it). */
override ROWS: u32;
var<workgroup> partial: array<f32, LANES * ROWS>;

@compute @workgroup_size(LANES * ROWS)
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
    store(m * params.outStride + params.rowOffset + n, value);
  }
}
