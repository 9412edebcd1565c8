// Weight access for Q5_1, repacked at upload to 7 words per block of 32:
// word 0 = scale d as f32, word 1 = offset m as f32, word 2 = qh (bit j is the fifth bit of
// element j), words 3..6 = the 16 nibble bytes as in Q4_0; value = d * q + m.
const Q5_1_WORDS: u32 = 7u;

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 32u) + k / 32u) * Q5_1_WORDS;
  let j = k % 32u;
  let byteIndex = j % 16u;
  let byte = (weights[base + 3u + byteIndex / 4u] >> (8u * (byteIndex % 4u))) & 0xffu;
  let nibble = select(byte & 0xfu, byte >> 4u, j >= 16u);
  let q = nibble | (((weights[base + 2u] >> j) & 1u) << 4u);
  return bitcast<f32>(weights[base]) * f32(q) + bitcast<f32>(weights[base + 1u]);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 32u) + kb) * Q5_1_WORDS;
  let qh = weights[base + 2u];
  var sumQ = 0.0; // Σ q·x
  var sumX = 0.0; // Σ x, for the offset
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 4u; w++) {
    let word = weights[base + 3u + w];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      let j = w * 4u + b;
      let low = (byte & 0xfu) | (((qh >> j) & 1u) << 4u);
      let high = (byte >> 4u) | (((qh >> (j + 16u)) & 1u) << 4u);
      let xLow = x_at(x0 + j);
      let xHigh = x_at(x0 + j + 16u);
      sumQ += f32(low) * xLow + f32(high) * xHigh;
      sumX += xLow + xHigh;
    }
  }
  return bitcast<f32>(weights[base]) * sumQ + bitcast<f32>(weights[base + 1u]) * sumX;
}

//#include weights/block_generic
