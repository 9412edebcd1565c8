// Rotary position embedding in place on x (M, nHeads, headDim) at positions posStart + m, or,
// for a batch of sequences of seqLen tokens that all continue the first posStart positions,
// posStart + m % seqLen. NEOX rotates (x_i, x_{i+d/2}); otherwise adjacent pairs (x_{2i}, x_{2i+1}).
// INVERSE rotates back (sin negated): the backward of RoPE for gradients.
// cos/sin come from a table computed in float64 on the CPU: f32 sin/cos of large angles
// (pos · freq reaches thousands of radians) lose several digits on some GPUs.

struct Params {
  M: u32,
  nHeads: u32,
  headDim: u32,
  posStart: u32,
  seqLen: u32,  // 0: one sequence; > 0: the chunk is sequences of seqLen tokens
}

override NEOX: bool = false;
override INVERSE: bool = false;
/** Threads per workgroup, set by src/engine/ops/rope.ts (its dispatch count assumes it). */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<vec2f>; // (positions, headDim/2): cos, sin

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let half = params.headDim / 2u;
  let index = gid.x + gid.y * nwg.x * WG;
  if (index >= params.M * params.nHeads * half) {
    return;
  }
  let i = index % half;
  let row = index / half;             // (m, head)
  let m = row / params.nHeads;
  let base = row * params.headDim;
  let position = params.posStart + select(m, m % max(params.seqLen, 1u), params.seqLen > 0u);
  let cs = table[position * half + i];
  let c = cs.x;
  let s = select(cs.y, -cs.y, INVERSE);
  var a: u32;
  var b: u32;
  if (NEOX) {
    a = base + i;
    b = base + i + half;
  } else {
    a = base + 2u * i;
    b = a + 1u;
  }
  let x0 = x[a];
  let x1 = x[b];
  x[a] = x0 * c - x1 * s;
  x[b] = x0 * s + x1 * c;
}
