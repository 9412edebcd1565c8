// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for many tokens (prefill): 32×32 output tiles,
// each of 256 threads computing 2×2 outputs; weights dequantized into workgroup memory
// one 32-wide K slice at a time. Weight format comes from the included weights/<type>.wgsl.

//#include linear

const TILE: u32 = 32u;
var<workgroup> xTile: array<array<f32, 33>, 32>; // (m, k), padded
var<workgroup> wTile: array<array<f32, 33>, 32>; // (n, k), padded

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k0 = 0u; k0 < params.K; k0 += TILE) {
    for (var e = lid; e < TILE * TILE; e += 256u) {
      let r = e / TILE;
      let c = e % TILE;
      let k = k0 + c;
      let m = m0 + r;
      let n = n0 + r;
      xTile[r][c] = select(0.0, x[(params.xRowOffset + m) * params.K + k], m < params.M && k < params.K);
      wTile[r][c] = select(0.0, weight_at(min(n, params.N - 1u), min(k, params.K - 1u), params.K), n < params.N && k < params.K);
    }
    workgroupBarrier();
    let mi = lid3.y * 2u;
    let ni = lid3.x * 2u;
    for (var c = 0u; c < TILE; c++) {
      let x0 = xTile[mi][c];
      let x1 = xTile[mi + 1u][c];
      let w0 = wTile[ni][c];
      let w1 = wTile[ni + 1u][c];
      acc[0] += x0 * w0;
      acc[1] += x0 * w1;
      acc[2] += x1 * w0;
      acc[3] += x1 * w1;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 2u; i++) {
    for (var j = 0u; j < 2u; j++) {
      let m = m0 + lid3.y * 2u + i;
      let n = n0 + lid3.x * 2u + j;
      if (m < params.M && n < params.N) {
        var value = acc[i * 2u + j];
        if (HAS_BIAS) {
          value += bias[params.rowOffset + n];
        }
        y[m * params.outStride + params.rowOffset + n] = value;
      }
    }
  }
}
