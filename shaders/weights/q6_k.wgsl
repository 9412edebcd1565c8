// Weight access for Q6_K, repacked at upload to 53 words per super-block of 256:
// word 0 = d as f32, words 1..4 = 16 int8 scales (one per 16 weights), words 5..36 = ql[128],
// words 37..52 = qh[64], both as in the file. In half n (128 weights), element 32g + l (g = 0..3)
// has its low 4 bits in ql byte 64n + 32(g % 2) + l (low nibble for g < 2, high for g >= 2) and
// its top 2 bits at bit 2g of qh byte 32n + l. value = d * scale[e / 16] * (q - 32).
const Q6_K_WORDS: u32 = 53u;

fn q6_k_scale(base: u32, i: u32) -> f32 {
  let word = weights[base + 1u + i / 4u];
  return f32(bitcast<i32>(word << (24u - 8u * (i % 4u))) >> 24u);
}

fn weight_at(row: u32, k: u32, K: u32) -> f32 {
  let base = (row * (K / 256u) + k / 256u) * Q6_K_WORDS;
  let e = k % 256u;
  let n = e / 128u;
  let g = (e / 32u) % 4u;
  let l = e % 32u;
  let qlByte = 64u * n + 32u * (g % 2u) + l;
  let qhByte = 32u * n + l;
  let low = (weights[base + 5u + qlByte / 4u] >> (8u * (qlByte % 4u) + 4u * (g / 2u))) & 0xfu;
  let high = (weights[base + 37u + qhByte / 4u] >> (8u * (qhByte % 4u) + 2u * g)) & 3u;
  return bitcast<f32>(weights[base]) * q6_k_scale(base, e / 16u) * (f32(low | (high << 4u)) - 32.0);
}

fn block_dot(row: u32, kb: u32, K: u32, xBase: u32) -> f32 {
  let base = (row * (K / 256u) + kb / 8u) * Q6_K_WORDS;
  let s = kb % 8u; // 32-weight chunk: half n = s / 4, group g = s % 4
  let n = s / 4u;
  let g = s % 4u;
  let ql = base + 5u + 16u * n + 8u * (g % 2u);
  let qh = base + 37u + 8u * n;
  let x0 = xBase + kb * 32u;
  var total = 0.0;
  for (var h = 0u; h < 2u; h++) { // two 16-weight halves, one scale each
    var sum = 0.0;
    for (var w = h * 4u; w < h * 4u + 4u; w++) {
      let low = (weights[ql + w] >> (4u * (g / 2u))) & 0x0f0f0f0fu;
      let high = (weights[qh + w] >> (2u * g)) & 0x03030303u;
      let q = low | (high << 4u); // four 6-bit quants, one per byte
      for (var b = 0u; b < 4u; b++) {
        sum += (f32((q >> (8u * b)) & 0xffu) - 32.0) * x_at(x0 + w * 4u + b);
      }
    }
    total += q6_k_scale(base, 2u * s + h) * sum;
  }
  return bitcast<f32>(weights[base]) * total;
}

/** Where block kb (chunk kb % 8 of a super-block) of a row lies, for block_quad. */
struct Block {
  base: u32,
  ql: u32,
  qh: u32,
  s: u32,
  d: f32,
}

fn block_at(row: u32, kb: u32, K: u32) -> Block {
  let base = (row * (K / 256u) + kb / 8u) * Q6_K_WORDS;
  let s = kb % 8u;
  let n = s / 4u;
  let g = s % 4u;
  return Block(base, base + 5u + 16u * n + 8u * (g % 2u), base + 37u + 8u * n, s, bitcast<f32>(weights[base]));
}

/** Weights 4i…4i+3 of the block (two 16-weight halves with a scale each). */
fn block_quad(b: Block, i: u32) -> vec4f {
  let g = b.s % 4u;
  let low = (weights[b.ql + i] >> (4u * (g / 2u))) & 0x0f0f0f0fu;
  let high = (weights[b.qh + i] >> (2u * g)) & 0x03030303u;
  let q = (vec4u(low | (high << 4u)) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(0xffu);
  return b.d * q6_k_scale(b.base, 2u * b.s + i / 4u) * (vec4f(q) - 32.0);
}
