// block_at / block_quad over weight_at, for the formats without a faster pair of their own (the
// float types, Q4_1, Q5_0, Q5_1, Q5_K): the tiled matmul, matvec_rows and dequant read weights
// through them. Spliced into those formats' snippets at `//#include weights/block_generic`.

/** Where block kb (elements 32kb…32kb+31) of a row lies. */
struct Block {
  row: u32,
  k0: u32,
  K: u32,
}

fn block_at(row: u32, kb: u32, K: u32) -> Block {
  return Block(row, kb * 32u, K);
}

/** Weights 4i…4i+3 of the block, 0 past the row's end. */
fn block_quad(b: Block, i: u32) -> vec4f {
  let k = b.k0 + i * 4u;
  return vec4f(weight_or_zero(b, k), weight_or_zero(b, k + 1u), weight_or_zero(b, k + 2u), weight_or_zero(b, k + 3u));
}

fn weight_or_zero(b: Block, k: u32) -> f32 {
  return select(0.0, weight_at(b.row, min(k, b.K - 1u), b.K), k < b.K);
}
