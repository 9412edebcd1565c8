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

//#include weights/block_generic
