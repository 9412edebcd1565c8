// Log-softmax statistics of rows of logits, one workgroup per row, so a scorer reads back three
// floats a row instead of the whole vocabulary: the logit of the row's target token, the row's
// maximum, and Σ_i exp(logit_i − max). The caller forms log p(target) = logit − max − log Σ in
// float64. Two passes (the maximum, then the sum) keep every exponent ≤ 0; each thread sums its
// share with Kahan compensation before the tree, so the sum of ~10⁵ terms keeps f32's precision.

struct Params {
  rows: u32,      // rows of logits in this dispatch
  vocab: u32,     // row length
  firstRow: u32,  // row r's target and statistics sit at firstRow + r
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // (rows, vocab)
@group(0) @binding(2) var<storage, read> targets: array<u32>;      // (firstRow + rows) token ids
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;  // (firstRow + rows, 3)

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let base = row * params.vocab;

  var runMax = -3.4e38;
  for (var i = lid; i < params.vocab; i += WG) {
    runMax = max(runMax, logits[base + i]);
  }
  partial[lid] = runMax;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] = max(partial[lid], partial[lid + stride]);
    }
    workgroupBarrier();
  }
  let rowMax = partial[0];
  workgroupBarrier();

  var sum = 0.0;
  var lost = 0.0; // Kahan: what the last addition rounded away
  for (var i = lid; i < params.vocab; i += WG) {
    let term = exp(logits[base + i] - rowMax) - lost;
    let next = sum + term;
    lost = (next - sum) - term;
    sum = next;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let out = (params.firstRow + row) * 3u;
    stats[out] = logits[base + targets[params.firstRow + row]];
    stats[out + 1u] = rowMax;
    stats[out + 2u] = partial[0];
  }
}
