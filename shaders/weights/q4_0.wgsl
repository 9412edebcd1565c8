// Weight access for Q4_0, repacked at upload to 5 words per block of 32:
// word 0 = scale d as f32, words 1..4 = the 16 quant bytes; byte j holds element j in its
// low nibble and element j+16 in its high nibble; value = d * (nibble - 8).
const Q4_0_WORDS: u32 = 5u;

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 32u) + k / 32u) * Q4_0_WORDS;
  let j = k % 32u;
  let byteIndex = j % 16u;
  let byte = (weights[base + 1u + byteIndex / 4u] >> (8u * (byteIndex % 4u))) & 0xffu;
  let nibble = select(byte & 0xfu, byte >> 4u, j >= 16u);
  return bitcast<f32>(weights[base]) * (f32(nibble) - 8.0);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 32u) + kb) * Q4_0_WORDS;
  var sum = 0.0;
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 4u; w++) {
    let word = weights[base + 1u + w];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      let j = w * 4u + b;
      sum += (f32(byte & 0xfu) - 8.0) * x_at(x0 + j) + (f32(byte >> 4u) - 8.0) * x_at(x0 + j + 16u);
    }
  }
  return bitcast<f32>(weights[base]) * sum;
}

/** Where block kb of a row lies and its scale, for block_quad. */
struct Block {
  base: u32,
  d: f32,
}

fn block_at(row: u32, kb: u32, K: u32) -> Block {
  let base = (row * (K / 32u) + kb) * Q4_0_WORDS;
  return Block(base, bitcast<f32>(weights[base]));
}

/** Weights 4i…4i+3 of the block: low nibbles of word i for i < 4, high nibbles of word i - 4 after. */
fn block_quad(b: Block, i: u32) -> vec4f {
  let bytes = (vec4u(weights[b.base + 1u + i % 4u] >> (4u * (i / 4u))) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(0xfu);
  return b.d * (vec4f(bytes) - 8.0);
}
