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
