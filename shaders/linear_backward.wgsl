// The backward of a linear layer for the input: dX(M, K) = dY(M, N) · W(N, K), W read transposed
// straight from its packed blocks (block_at / block_quad of the weight format), never decoded into
// a matrix. One weight part (rows [rowOffset, rowOffset + N) of W) per dispatch; a part's
// contribution overwrites dX, or adds to it with ACCUMULATE (later parts, several matrices
// feeding one input). Each invocation owns 4 consecutive columns of dX for TOKENS tokens and walks
// every row of the part: per row it decodes 4 weights once and does 4·TOKENS multiply-adds.
// With SPLIT > 1 (few outputs, long rows, GPUs) workgroup z takes rows [z·rowsPerSplit, …) and
// writes its partial sums to `partial`; linear_backward_reduce adds them up.

struct Params {
  M: u32,             // tokens
  N: u32,             // rows of this weight part
  K: u32,             // row length = dX columns
  dyStride: u32,      // columns of dY (rows of the whole matrix)
  rowOffset: u32,     // first row of this part = first dY column it reads
  rowsPerSplit: u32,  // rows per z slice
  _pad0: u32,
  _pad1: u32,
}

/** Tokens per invocation; TOKENS in ops/backward.ts. */
const TOKENS: u32 = 4u;

override ACCUMULATE: bool = false;
/** Partial sums per z slice into `dx` at slice · M · K (the reduce kernel adds them). */
override SPLIT: bool = false;
/** Invocations per workgroup; set by src/engine/ops/backward.ts. */
override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn x_at(i: u32) -> f32 { return 0.0; }

//#include weights

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let quads = (params.K + 3u) / 4u;
  let quad = gid.x;
  let m0 = gid.y * TOKENS;
  if (quad >= quads || m0 >= params.M) {
    return;
  }
  let k = quad * 4u;
  let kb = k / 32u;
  let within = (k % 32u) / 4u;
  let rowStart = wg.z * params.rowsPerSplit;
  let rowEnd = min(rowStart + params.rowsPerSplit, params.N);
  // Rows of dY past M repeat the last token (their sums are never stored): no branch in the loop.
  let last = params.M - 1u;
  let y0 = min(m0, last) * params.dyStride + params.rowOffset;
  let y1 = min(m0 + 1u, last) * params.dyStride + params.rowOffset;
  let y2 = min(m0 + 2u, last) * params.dyStride + params.rowOffset;
  let y3 = min(m0 + 3u, last) * params.dyStride + params.rowOffset;
  var a0 = vec4f();
  var a1 = vec4f();
  var a2 = vec4f();
  var a3 = vec4f();
  for (var n = rowStart; n < rowEnd; n++) {
    let w = block_quad(block_at(n, kb, params.K), within);
    a0 += dy[y0 + n] * w;
    a1 += dy[y1 + n] * w;
    a2 += dy[y2 + n] * w;
    a3 += dy[y3 + n] * w;
  }
  let acc = array<vec4f, TOKENS>(a0, a1, a2, a3);
  let base = select(0u, wg.z * params.M * params.K, SPLIT);
  for (var t = 0u; t < TOKENS; t++) {
    let m = m0 + t;
    if (m >= params.M) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let c = k + j;
      if (c < params.K) {
        let i = base + m * params.K + c;
        if (ACCUMULATE && !SPLIT) {
          dx[i] += acc[t][j];
        } else {
          dx[i] = acc[t][j];
        }
      }
    }
  }
}
