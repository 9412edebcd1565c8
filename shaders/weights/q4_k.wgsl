// Weight access for Q4_K, repacked at upload to 38 words per super-block of 256 (8 sub-blocks of 32):
// word 0 = d as f32, word 1 = dmin as f32, words 2..3 = the 8 sub-block scales (6-bit, one per
// byte), words 4..5 = the 8 sub-block mins (one per byte), words 6..37 = the 128 quant bytes as in
// the file: sub-blocks 2p and 2p+1 share bytes 32p..32p+31, 2p in the low nibbles, 2p+1 in the high.
// value = d * scale[s] * q - dmin * min[s].
const Q4_K_WORDS: u32 = 38u;

fn q4_k_byte(word: u32, i: u32) -> u32 {
  return (word >> (8u * (i % 4u))) & 0xffu;
}

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 256u) + k / 256u) * Q4_K_WORDS;
  let s = (k / 32u) % 8u;
  let l = k % 32u;
  let scale = f32(q4_k_byte(weights[base + 2u + s / 4u], s));
  let minimum = f32(q4_k_byte(weights[base + 4u + s / 4u], s));
  let q = (q4_k_byte(weights[base + 6u + 8u * (s / 2u) + l / 4u], l) >> (4u * (s % 2u))) & 0xfu;
  return bitcast<f32>(weights[base]) * scale * f32(q) - bitcast<f32>(weights[base + 1u]) * minimum;
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 256u) + kb / 8u) * Q4_K_WORDS;
  let s = kb % 8u;
  let shift = 4u * (s % 2u);
  let quants = base + 6u + 8u * (s / 2u);
  var sumQ = 0.0; // Σ q·x
  var sumX = 0.0; // Σ x, for the min
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 8u; w++) {
    let nibbles = (weights[quants + w] >> shift) & 0x0f0f0f0fu; // four quants, one per byte
    for (var b = 0u; b < 4u; b++) {
      let xi = x_at(x0 + w * 4u + b);
      sumQ += f32((nibbles >> (8u * b)) & 0xffu) * xi;
      sumX += xi;
    }
  }
  let scale = bitcast<f32>(weights[base]) * f32(q4_k_byte(weights[base + 2u + s / 4u], s));
  let minimum = bitcast<f32>(weights[base + 1u]) * f32(q4_k_byte(weights[base + 4u + s / 4u], s));
  return scale * sumQ - minimum * sumX;
}

/** Where block kb (sub-block kb % 8 of a super-block) of a row lies, with its scale and min. */
struct Block {
  quants: u32,
  shift: u32,
  scale: f32,
  minimum: f32,
}

fn block_at(row: u32, kb: u32, K: u32) -> Block {
  let base = (row * (K / 256u) + kb / 8u) * Q4_K_WORDS;
  let s = kb % 8u;
  let scale = bitcast<f32>(weights[base]) * f32(q4_k_byte(weights[base + 2u + s / 4u], s));
  let minimum = bitcast<f32>(weights[base + 1u]) * f32(q4_k_byte(weights[base + 4u + s / 4u], s));
  return Block(base + 6u + 8u * (s / 2u), 4u * (s % 2u), scale, minimum);
}

/** Weights 4i…4i+3 of the block. */
fn block_quad(b: Block, i: u32) -> vec4f {
  let nibbles = (vec4u(weights[b.quants + i] >> b.shift) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(0xfu);
  return b.scale * vec4f(nibbles) - b.minimum;
}
