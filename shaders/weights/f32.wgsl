// Weight access for F32 tensors: flat row-major words, row stride K.
fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  return bitcast<f32>(weights[row * K + k]);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  var sum = 0.0;
  let k0 = kb * 32u;
  let kEnd = min(k0 + 32u, K);
  for (var k = k0; k < kEnd; k++) {
    sum += bitcast<f32>(weights[row * K + k]) * x_at(xBase + k);
  }
  return sum;
}

//#include weights/block_generic
