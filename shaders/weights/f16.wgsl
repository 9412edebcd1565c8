// Weight access for F16 tensors: halves packed two per word over the flat element index,
// so rows of odd length work too.
fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let i = row * K + k;
  return unpack2x16float(weights[i >> 1u])[i & 1u];
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  var sum = 0.0;
  let k0 = kb * 32u;
  let kEnd = min(k0 + 32u, K);
  for (var k = k0; k < kEnd; k++) {
    sum += weight_at(row, k, K) * x_at(xBase + k);
  }
  return sum;
}

/** Where block kb (elements 32kb…32kb+31) of a row lies, for block_quad (the software kernel, matmul_rows). */
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
