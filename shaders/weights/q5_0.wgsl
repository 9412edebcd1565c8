// Weight access for Q5_0, repacked at upload to 6 words per block of 32:
// word 0 = scale d as f32, word 1 = qh (bit j is the fifth bit of element j), words 2..5 = the 16
// nibble bytes as in Q4_0 (byte j: element j low, element j+16 high); value = d * (q - 16).
const Q5_0_WORDS: u32 = 6u;

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 32u) + k / 32u) * Q5_0_WORDS;
  let j = k % 32u;
  let byteIndex = j % 16u;
  let byte = (weights[base + 2u + byteIndex / 4u] >> (8u * (byteIndex % 4u))) & 0xffu;
  let nibble = select(byte & 0xfu, byte >> 4u, j >= 16u);
  let q = nibble | (((weights[base + 1u] >> j) & 1u) << 4u);
  return bitcast<f32>(weights[base]) * (f32(q) - 16.0);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 32u) + kb) * Q5_0_WORDS;
  let qh = weights[base + 1u];
  var sum = 0.0;
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 4u; w++) {
    let word = weights[base + 2u + w];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      let j = w * 4u + b;
      let low = (byte & 0xfu) | (((qh >> j) & 1u) << 4u);
      let high = (byte >> 4u) | (((qh >> (j + 16u)) & 1u) << 4u);
      sum += (f32(low) - 16.0) * x_at(x0 + j) + (f32(high) - 16.0) * x_at(x0 + j + 16u);
    }
  }
  return bitcast<f32>(weights[base]) * sum;
}

//#include weights/block_generic
