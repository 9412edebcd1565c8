// Weight access for Q4_1, repacked at upload to 6 words per block of 32:
// word 0 = scale d as f32, word 1 = offset m as f32, words 2..5 = the 16 quant bytes; byte j holds
// element j in its low nibble and element j+16 in its high nibble; value = d * nibble + m.
const Q4_1_WORDS: u32 = 6u;

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 32u) + k / 32u) * Q4_1_WORDS;
  let j = k % 32u;
  let byteIndex = j % 16u;
  let byte = (weights[base + 2u + byteIndex / 4u] >> (8u * (byteIndex % 4u))) & 0xffu;
  let nibble = select(byte & 0xfu, byte >> 4u, j >= 16u);
  return bitcast<f32>(weights[base]) * f32(nibble) + bitcast<f32>(weights[base + 1u]);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 32u) + kb) * Q4_1_WORDS;
  var sumQ = 0.0; // Σ q·x
  var sumX = 0.0; // Σ x, for the offset
  let x0 = xBase + kb * 32u;
  for (var w = 0u; w < 4u; w++) {
    let word = weights[base + 2u + w];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      let j = w * 4u + b;
      let xLow = x_at(x0 + j);
      let xHigh = x_at(x0 + j + 16u);
      sumQ += f32(byte & 0xfu) * xLow + f32(byte >> 4u) * xHigh;
      sumX += xLow + xHigh;
    }
  }
  return bitcast<f32>(weights[base]) * sumQ + bitcast<f32>(weights[base + 1u]) * sumX;
}

//#include weights/block_generic
