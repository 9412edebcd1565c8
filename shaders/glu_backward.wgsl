// The backward of out = act(gate) · up (SwiGLU: act = silu; GeGLU: gelu_tanh, as shaders/glu.wgsl),
// in place: gate ← d · up · act'(gate), up ← d · act(gate). gate and up are the forward's saved
// pre-activation values, used once.

struct Params {
  n: u32,
}

override GELU: bool = false;
/** Threads per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;
@group(0) @binding(2) var<storage, read_write> up: array<f32>;
@group(0) @binding(3) var<storage, read> d: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) {
    return;
  }
  let g = gate[i];
  let u = up[i];
  let di = d[i];
  var act: f32;
  var slope: f32;
  if (GELU) {
    // gelu(g) = g/2 · (1 + tanh(a)), a = c(g + 0.044715 g³): gelu' = (1 + t)/2 + g/2 · (1 − t²) · c(1 + 3·0.044715 g²)
    let inner = clamp(SQRT_2_OVER_PI * (g + 0.044715 * g * g * g), -15.0, 15.0);
    let t = tanh(inner);
    act = 0.5 * g * (1.0 + t);
    slope = 0.5 * (1.0 + t) + 0.5 * g * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * g * g);
  } else {
    // silu(g) = g·σ(g): silu' = σ(g) · (1 + g · (1 − σ(g)))
    let s = 1.0 / (1.0 + exp(-g));
    act = g * s;
    slope = s * (1.0 + g * (1.0 - s));
  }
  gate[i] = di * u * slope;
  up[i] = di * act;
}
