// The parameters the three attention backward kernels share (attention_backward_scores, _q, _kv):
// one sequence of M queries at positions 0…M-1 whose keys and values fill cache rows 0…M-1.
// ATTENTION_BACKWARD_PARAMS in ops/backward.ts is its layout.

struct Params {
  M: u32,
  nHead: u32,
  nHeadKv: u32,
  headDim: u32,
  ctx: u32,       // KV cache capacity in positions; V starts at ctx·nHeadKv·headDim
  layer: u32,
  scale: f32,     // score scale
  softcap: f32,   // 0 = off
  window: u32,    // a query sees keys with query − key < window; 0 = unlimited
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

/** First key query m sees. */
fn first_key(m: u32) -> u32 {
  return select(0u, m + 1u - params.window, params.window > 0u && m + 1u > params.window);
}
