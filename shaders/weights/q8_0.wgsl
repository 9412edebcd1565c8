// Weight access for Q8_0, repacked at upload to 9 words per block of 32:
// word 0 = scale d as f32, words 1..8 = 32 int8 quants, four per word (little end first).
const Q8_0_WORDS: u32 = 9u;

//#include int8x4

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 32u) + k / 32u) * Q8_0_WORDS;
  let j = k % 32u;
  let word = weights[base + 1u + j / 4u];
  let q = bitcast<i32>(word << (24u - 8u * (j % 4u))) >> 24u;
  return bitcast<f32>(weights[base]) * f32(q);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 32u) + kb) * Q8_0_WORDS;
  var sum = 0.0;
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 8u; w++) {
    let word = weights[base + 1u + w];
    let xi = x0 + w * 4u;
    sum += f32(bitcast<i32>(word << 24u) >> 24u) * x_at(xi)
         + f32(bitcast<i32>(word << 16u) >> 24u) * x_at(xi + 1u)
         + f32(bitcast<i32>(word << 8u) >> 24u) * x_at(xi + 2u)
         + f32(bitcast<i32>(word) >> 24u) * x_at(xi + 3u);
  }
  return bitcast<f32>(weights[base]) * sum;
}

/** Where block kb of a row lies and its scale, for block_quad. */
struct Block {
  base: u32,
  d: f32,
}

fn block_at(row: u32, kb: u32, K: u32) -> Block {
  let base = (row * (K / 32u) + kb) * Q8_0_WORDS;
  return Block(base, bitcast<f32>(weights[base]));
}

/** Weights 4i…4i+3 of the block. */
fn block_quad(b: Block, i: u32) -> vec4f {
  return b.d * int8x4(weights[b.base + 1u + i]);
}
