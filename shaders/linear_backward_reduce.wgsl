// dX(M, K) (+)= Σ_z partial[z] over the SPLIT slices linear_backward wrote for one weight part.

struct Params {
  n: u32,       // M · K
  slices: u32,
}

override ACCUMULATE: bool = false;
/** Threads per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) {
    return;
  }
  var sum = 0.0;
  for (var z = 0u; z < params.slices; z++) {
    sum += partial[z * params.n + i];
  }
  if (ACCUMULATE) {
    dx[i] += sum;
  } else {
    dx[i] = sum;
  }
}
