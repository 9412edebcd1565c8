// The four signed bytes of a word as floats, lowest byte first (for devices whose WGSL lacks unpack4xI8).
fn int8x4(word: u32) -> vec4f {
  return vec4f(bitcast<vec4i>(vec4u(word) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u));
}
