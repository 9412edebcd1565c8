// Weight access for Q5_K, repacked at upload to 46 words per super-block of 256 (8 sub-blocks of 32):
// word 0 = d as f32, word 1 = dmin as f32, words 2..3 = the 8 sub-block scales (6-bit, one per
// byte), words 4..5 = the 8 sub-block mins, words 6..13 = qh[32] (bit s of byte l is the fifth bit
// of element l of sub-block s), words 14..45 = the 128 low-nibble bytes laid out as in Q4_K.
// value = d * scale[s] * q - dmin * min[s].
const Q5_K_WORDS: u32 = 46u;

fn q5_k_byte(word: u32, i: u32) -> u32 {
  return (word >> (8u * (i % 4u))) & 0xffu;
}

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 256u) + k / 256u) * Q5_K_WORDS;
  let s = (k / 32u) % 8u;
  let l = k % 32u;
  let scale = f32(q5_k_byte(weights[base + 2u + s / 4u], s));
  let minimum = f32(q5_k_byte(weights[base + 4u + s / 4u], s));
  let low = (q5_k_byte(weights[base + 14u + 8u * (s / 2u) + l / 4u], l) >> (4u * (s % 2u))) & 0xfu;
  let high = (q5_k_byte(weights[base + 6u + l / 4u], l) >> s) & 1u;
  return bitcast<f32>(weights[base]) * scale * f32(low | (high << 4u)) - bitcast<f32>(weights[base + 1u]) * minimum;
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 256u) + kb / 8u) * Q5_K_WORDS;
  let s = kb % 8u;
  let shift = 4u * (s % 2u);
  let quants = base + 14u + 8u * (s / 2u);
  var sumQ = 0.0; // Σ q·x
  var sumX = 0.0; // Σ x, for the min
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 8u; w++) {
    let low = (weights[quants + w] >> shift) & 0x0f0f0f0fu;
    let high = (weights[base + 6u + w] >> s) & 0x01010101u;
    let q = low | (high << 4u); // four 5-bit quants, one per byte
    for (var b = 0u; b < 4u; b++) {
      let xi = x_at(x0 + w * 4u + b);
      sumQ += f32((q >> (8u * b)) & 0xffu) * xi;
      sumX += xi;
    }
  }
  let scale = bitcast<f32>(weights[base]) * f32(q5_k_byte(weights[base + 2u + s / 4u], s));
  let minimum = bitcast<f32>(weights[base + 1u]) * f32(q5_k_byte(weights[base + 4u + s / 4u], s));
  return scale * sumQ - minimum * sumX;
}

//#include weights/block_generic
