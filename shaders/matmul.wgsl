// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for many tokens (prefill): TILE×TILE output tiles,
// each of (TILE/2)² threads computing 2×2 outputs; weights dequantized into workgroup memory
// one TILE-wide K slice at a time. Weight format comes from the included weights/<type>.wgsl.

//#include linear

/** Output tile edge, set by src/engine/ops/matmul.ts (its dispatch count assumes it). */
override TILE: u32;
/** Row stride of the tiles (derived; the engine never sets it): one float of padding keeps threads
 * that read one column from colliding on a memory bank. */
override STRIDE: u32 = TILE + 1u;
var<workgroup> xTile: array<f32, TILE * STRIDE>; // (m, k)
var<workgroup> wTile: array<f32, TILE * STRIDE>; // (n, k)

@compute @workgroup_size(TILE / 2u, TILE / 2u)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k0 = 0u; k0 < params.K; k0 += TILE) {
    for (var e = lid; e < TILE * TILE; e += (TILE / 2u) * (TILE / 2u)) {
      let r = e / TILE;
      let c = e % TILE;
      let k = k0 + c;
      let m = m0 + r;
      let n = n0 + r;
      xTile[r * STRIDE + c] = select(0.0, x[(params.xRowOffset + m) * params.K + k], m < params.M && k < params.K);
      wTile[r * STRIDE + c] = select(0.0, weight_at(min(n, params.N - 1u), min(k, params.K - 1u), params.K), n < params.N && k < params.K);
    }
    workgroupBarrier();
    let mi = lid3.y * 2u;
    let ni = lid3.x * 2u;
    for (var c = 0u; c < TILE; c++) {
      let x0 = xTile[mi * STRIDE + c];
      let x1 = xTile[(mi + 1u) * STRIDE + c];
      let w0 = wTile[ni * STRIDE + c];
      let w1 = wTile[(ni + 1u) * STRIDE + c];
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
