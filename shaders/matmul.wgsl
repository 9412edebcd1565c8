// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for many tokens (prefill) on GPUs: 64×64 output tiles, each
// of 16×16 threads computing a 4-token × 4-row block in registers. Per 16-wide K step the workgroup
// decodes the weight tile once into workgroup memory (each thread one 4-weight quad of one row,
// block_at / block_quad from the weight format's snippet) and stages the inputs beside it, both
// k-major so that a thread's 4 tokens and 4 rows are adjacent words. Weight format comes from the
// included weights/<type>.wgsl. CPU emulations take matmul_blocked instead (barriers cost there).

//#include linear

/** Output tile edge in tokens and rows; matmul.ts's MATMUL_TILE (its dispatch count assumes it). */
const TILE: u32 = 64u;
/** K per step: a quarter or a half of a 32-weight block, so a step never straddles two blocks. */
const STEP: u32 = 16u;

var<workgroup> xTile: array<f32, STEP * TILE>; // [k][token]
var<workgroup> wTile: array<f32, STEP * TILE>; // [k][row]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  // Loading: thread lid takes row / token lid / 4 of the tile, quad lid % 4 of the step.
  let loadRow = lid / 4u;
  let loadQuad = lid % 4u;
  let wRow = min(n0 + loadRow, params.N - 1u); // rows past the end repeat the last; never written
  let xToken = m0 + loadRow;
  var acc: array<vec4f, 4>; // acc[i][j]: token 4·lid3.y + i, row 4·lid3.x + j
  for (var k0 = 0u; k0 < params.K; k0 += STEP) {
    let k = k0 + loadQuad * 4u;
    let w = block_quad(block_at(wRow, k / 32u, params.K), (k % 32u) / 4u);
    var xv = vec4f(0.0);
    if (xToken < params.M) {
      let base = (params.xRowOffset + xToken) * params.K;
      let last = base + params.K - 1u;
      xv = vec4f(
        select(0.0, x[min(base + k, last)], k < params.K),
        select(0.0, x[min(base + k + 1u, last)], k + 1u < params.K),
        select(0.0, x[min(base + k + 2u, last)], k + 2u < params.K),
        select(0.0, x[min(base + k + 3u, last)], k + 3u < params.K),
      );
    }
    for (var c = 0u; c < 4u; c++) {
      wTile[(loadQuad * 4u + c) * TILE + loadRow] = w[c];
      xTile[(loadQuad * 4u + c) * TILE + loadRow] = xv[c];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < STEP; kk++) {
      let a = vec4f(xTile[kk * TILE + lid3.y * 4u], xTile[kk * TILE + lid3.y * 4u + 1u],
                    xTile[kk * TILE + lid3.y * 4u + 2u], xTile[kk * TILE + lid3.y * 4u + 3u]);
      let b = vec4f(wTile[kk * TILE + lid3.x * 4u], wTile[kk * TILE + lid3.x * 4u + 1u],
                    wTile[kk * TILE + lid3.x * 4u + 2u], wTile[kk * TILE + lid3.x * 4u + 3u]);
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid3.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid3.x * 4u + j;
      if (m < params.M && n < params.N) {
        var value = acc[i][j];
        if (HAS_BIAS) {
          value += bias[params.rowOffset + n];
        }
        store(m * params.outStride + params.rowOffset + n, value);
      }
    }
  }
}
