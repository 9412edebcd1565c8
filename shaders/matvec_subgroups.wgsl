enable subgroups;
// Subgroup lanes call `block_dot` while the workgroup's rows are handled one per subgroup, so
// subgroup uniformity holds by construction even though the analysis cannot prove it.
diagnostic(off, subgroup_uniformity);

// Y(M, N) = X(M, K) · W(N, K)ᵀ (+ bias) for few tokens, with subgroup reductions instead of
// workgroup barriers: each subgroup takes a row, its lanes stride over the row's 32-weight
// blocks for up to TOKENS tokens at once (each block dequantized while it is hot in cache),
// and subgroupAdd sums the lanes. Works for any subgroup size. Weight format comes from the
// included weights/<type>.wgsl.

//#include linear

const WG: u32 = 64u;
/** Rows per workgroup, set by src/engine/ops/matmul.ts (its dispatch count assumes it). */
override ROWS: u32;
/**
 * Tokens per workgroup along y. A const, not an override, because it sizes `sums` below (WGSL sizes
 * function-scope arrays by constants only); it must equal SUBGROUP_MATVEC_TOKENS in matmul.ts, and
 * kernels-uniforms.test.ts checks that it does.
 */
const TOKENS: u32 = 4u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgSize: u32) {
  let subgroup = lid / sgSize;
  let subgroups = WG / sgSize;
  let blocks = (params.K + 31u) / 32u;
  let m0 = wg.y * TOKENS;
  let tokens = min(TOKENS, params.M - m0);
  for (var r = subgroup; r < ROWS; r += subgroups) {
    let n = wg.x * ROWS + r;
    var sums = array<f32, TOKENS>(0.0, 0.0, 0.0, 0.0);
    if (n < params.N) {
      for (var kb = lane; kb < blocks; kb += sgSize) {
        for (var t = 0u; t < tokens; t++) {
          sums[t] += block_dot(n, kb, params.K, (params.xRowOffset + m0 + t) * params.K);
        }
      }
    }
    for (var t = 0u; t < TOKENS; t++) {
      let total = subgroupAdd(sums[t]);
      if (lane == 0u && n < params.N && t < tokens) {
        var value = total;
        if (HAS_BIAS) {
          value += bias[params.rowOffset + n];
        }
        store((m0 + t) * params.outStride + params.rowOffset + n, value);
      }
    }
  }
}
