// The four signed bytes of a word as floats, lowest byte first (WGSL language feature packed_4x8_integer_dot_product).
fn int8x4(word: u32) -> vec4f {
  return vec4f(unpack4xI8(word));
}
