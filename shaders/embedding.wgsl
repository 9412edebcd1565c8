// out(M, K) = rows of the token embedding for tokens[m], dequantized, times scale, and with
// PER_POSITION times scales[scaleStart + m] (Token Highlighter's Soft Removal; 1 changes nothing).
// The embedding may be split into row parts; each dispatch fills the tokens its part holds.

struct Params {
  M: u32,
  K: u32,
  rowStart: u32,
  rowCount: u32,
  scale: f32,
  scaleStart: u32,
  _pad1: u32,
  _pad2: u32,
}

/** Threads per workgroup, one column each, set by src/engine/ops/embedding.ts (its dispatch count assumes it). */
override WG: u32;
override PER_POSITION: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> scales: array<f32>;

fn x_at(i: u32) -> f32 { return 0.0; }

//#include weights

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  let m = gid.y;
  if (k >= params.K || m >= params.M) {
    return;
  }
  let token = tokens[m];
  if (token < params.rowStart || token >= params.rowStart + params.rowCount) {
    return;
  }
  var value = weight_at(token - params.rowStart, k, params.K) * params.scale;
  if (PER_POSITION) {
    value *= scales[params.scaleStart + m];
  }
  out[m * params.K + k] = value;
}
