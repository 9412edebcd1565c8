// The gradient of L = mean_r −log softmax(z_r)[target_r] for the raw logits (before the final
// soft-cap z = cap·tanh(raw/cap), if any), in place over the logits:
//   logits[r][j] ← (softmax(z_r)_j − [j = target_r]) · invCount · (cap > 0 ? 1 − (z_rj / cap)² : 1)
// with the row statistics shaders/logprob.wgsl wrote (target logit, max, Σ exp(z − max)).

struct Params {
  rows: u32,
  vocab: u32,
  invCount: f32,  // 1 / target tokens
  cap: f32,       // 0 = no soft-cap
}

/** Threads per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>; // (rows, vocab)
@group(0) @binding(2) var<storage, read> targets: array<u32>;      // (rows)
@group(0) @binding(3) var<storage, read> stats: array<f32>;        // (rows, 3)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.rows * params.vocab) {
    return;
  }
  let r = i / params.vocab;
  let j = i % params.vocab;
  let z = logits[i];
  var d = exp(z - stats[r * 3u + 1u]) / stats[r * 3u + 2u];
  if (j == targets[r]) {
    d -= 1.0;
  }
  d *= params.invCount;
  if (params.cap > 0.0) {
    let t = z / params.cap;
    d *= 1.0 - t * t;
  }
  logits[i] = d;
}
