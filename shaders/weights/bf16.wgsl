// Weight access for BF16 tensors: kept at 2 bytes per weight, packed two per word over the flat
// element index like F16 (so rows of odd length work too); a bfloat16 is the top half of an f32.
fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let i = row * K + k;
  let word = weights[i >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
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

//#include weights/block_generic
