// Gated FFN activation in place: gate[i] = act(gate[i]) * up[i], with act = silu (SwiGLU) or
// the tanh approximation of GELU (GeGLU, Gemma).

struct Params {
  n: u32,
}

override GELU: bool = false;
/** Threads per workgroup, set by src/engine/ops/elementwise.ts (its dispatch count assumes it). */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

fn gelu_tanh(x: f32) -> f32 {
  let inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + tanh(clamp(inner, -15.0, 15.0)));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) {
    return;
  }
  let g = gate[i];
  if (GELU) {
    gate[i] = gelu_tanh(g) * up[i];
  } else {
    gate[i] = g / (1.0 + exp(-g)) * up[i];
  }
}
