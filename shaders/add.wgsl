// x[i] += y[i] (the residual stream).

struct Params {
  n: u32,
}

/** Threads per workgroup, set by src/engine/ops/elementwise.ts (its dispatch count assumes it). */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) {
    return;
  }
  x[i] += y[i];
}
