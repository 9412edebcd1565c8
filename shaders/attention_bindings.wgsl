// The parameters and bindings the three attention kernels share (attention.wgsl, attention_tiled.wgsl,
// attention_rows.wgsl: one semantics, read attention.wgsl's header), and the batch layout's cache row.
// Spliced in at `//#include attention_bindings`; ATTENTION_PARAMS in ops/attention.ts is its layout.

struct Params {
  M: u32,            // queries in this chunk
  queryStart: u32,   // absolute position of query 0
  nHead: u32,
  nHeadKv: u32,
  headDim: u32,
  ctx: u32,          // KV cache capacity in positions; V starts at ctx·nHeadKv·headDim
  layer: u32,
  nSlots: u32,       // exported rows per layer
  exportKeys: u32,   // length of an exported row
  mapHead: u32,      // head whose [query][key] map is written, 0xffffffff for none
  mapKeys: u32,      // row length of the map
  slotOffset: u32,   // where slotOf[] starts in aux
  scale: f32,        // usually 1 / sqrt(headDim)
  softcap: f32,      // 0 = off
  window: u32,       // a query sees keys with query − key < window; 0 = unlimited
  seqLen: u32,       // 0: the chunk is one sequence; > 0: sequences of seqLen tokens (attention.wgsl's header)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // (M, nHead, headDim)
@group(0) @binding(2) var<storage, read> kv: array<f32>;         // (2, ctx, nHeadKv, headDim)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (M, nHead, headDim)
// aux[layer·nHead + h] = bits of 1/T; aux[slotOffset + m] = export slot of query m or NONE.
@group(0) @binding(4) var<storage, read> aux: array<u32>;
@group(0) @binding(5) var<storage, read_write> rows: array<f32>; // (nLayer, nSlots, nHead, exportKeys)
@group(0) @binding(6) var<storage, read_write> map: array<f32>;  // (queries, mapKeys)

const NONE: u32 = 0xffffffffu;
/** Longest head; MAX_HEAD_DIM in ops/attention.ts (kernels-uniforms.test.ts holds them equal). */
const MAX_HEAD_DIM: u32 = 256u;

/** Cache row of the key at position k: past the shared prefix, `shift` rows on (batch layout). */
fn cacheRow(k: u32, shift: u32) -> u32 {
  return select(k, k + shift, k >= params.queryStart);
}
