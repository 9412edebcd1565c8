// Rows rowStart … rowStart+rows-1 of a weight part, dequantized into f32 rows of K (K a multiple of
// 4): the first half of the software prefill path (matmul_blocked then multiplies by the f32 rows,
// so each weight is decoded once per matmul instead of once per token or per tile). One
// invocation per 32-weight block. Weight format comes from the included weights/<type>.wgsl.

struct Params {
  rows: u32,      // rows to decode
  K: u32,         // row length
  rowStart: u32,  // first row of the part to decode
  _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

/** The snippets' block_dot reads inputs through x_at; nothing here calls it. */
fn x_at(i: u32) -> f32 {
  return 0.0;
}

//#include weights

/** Invocations per workgroup, set by src/engine/ops/matmul.ts (its dispatch count assumes it). */
override WG: u32;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let blocksPerRow = (params.K + 31u) / 32u;
  let index = gid.y * groups.x * WG + gid.x;
  let row = index / blocksPerRow;
  let kb = index % blocksPerRow;
  if (row >= params.rows) {
    return;
  }
  let b = block_at(params.rowStart + row, kb, params.K);
  for (var i = 0u; i < 8u; i++) {
    let k = kb * 32u + i * 4u;
    if (k < params.K) {
      out[(row * params.K + k) / 4u] = block_quad(b, i);
    }
  }
}
