// mass[r][s] = Σ_{k ∈ [start_s, end_s)} rows[r][k]: attention mass of every exported row on
// every span, one thread per (row, span).

struct Params {
  nRows: u32,
  rowLength: u32,
  nSpans: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read> spans: array<u32>;   // (nSpans, 2): start, end
@group(0) @binding(3) var<storage, read_write> mass: array<f32>; // (nRows, nSpans)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = gid.x + gid.y * nwg.x * 64u;
  if (index >= params.nRows * params.nSpans) {
    return;
  }
  let row = index / params.nSpans;
  let span = index % params.nSpans;
  let start = min(spans[2u * span], params.rowLength);
  let end = min(spans[2u * span + 1u], params.rowLength);
  var sum = 0.0;
  for (var k = start; k < end; k++) {
    sum += rows[row * params.rowLength + k];
  }
  mass[index] = sum;
}
