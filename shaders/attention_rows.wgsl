// Causal grouped-query attention for CPU emulations of a GPU (SwiftShader, llvmpipe, WARP): the same
// semantics, parameters and bindings as shaders/attention.wgsl (read that header), but one
// invocation per (head, query), walking the keys serially: no workgroup memory, no barriers (an
// emulator switches context at each), no function-scope arrays. Invocations run queries of one
// head side by side, so in a SIMD group every lane reads the same key at the same time (one load
// for all). The output is accumulated in `out` itself. GPUs take attention.wgsl (or its tiled
// variant for long chunks).

//#include attention_bindings

/** Invocations per workgroup, set by src/engine/ops/attention.ts. */
override WG: u32;

/** The score of the key in cache row `row` before the temperature (see attention.wgsl). */
fn score(qBase: u32, row: u32, kvHead: u32) -> f32 {
  let base = (row * params.nHeadKv + kvHead) * params.headDim;
  var dot = 0.0;
  for (var d = 0u; d < params.headDim; d++) {
    dot += q[qBase + d] * kv[base + d];
  }
  let s = dot * params.scale;
  if (params.softcap > 0.0) {
    return params.softcap * tanh(clamp(s / params.softcap, -15.0, 15.0));
  }
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = gid.y * groups.x * WG + gid.x;
  if (index >= params.M * params.nHead) {
    return;
  }
  let m = index % params.M;
  let h = index / params.M;
  var queryPos = params.queryStart + m;
  var keyShift = 0u;
  if (params.seqLen > 0u) {
    let j = m % params.seqLen;
    queryPos = params.queryStart + j;
    keyShift = m - j;
  }
  let nKeys = queryPos + 1u;
  var firstKey = 0u;
  if (params.window > 0u && nKeys > params.window) {
    firstKey = nKeys - params.window;
  }
  let kvHead = h / (params.nHead / params.nHeadKv);
  let qBase = (m * params.nHead + h) * params.headDim;
  let invTemperature = bitcast<f32>(aux[params.layer * params.nHead + h]);

  // Pass 1: the softmax maximum and normaliser, online.
  var softmaxMax = -3.0e38;
  var softmaxSum = 0.0;
  for (var k = firstKey; k < nKeys; k++) {
    let s = score(qBase, cacheRow(k, keyShift), kvHead) * invTemperature;
    if (s > softmaxMax) {
      softmaxSum = softmaxSum * exp(softmaxMax - s) + 1.0;
      softmaxMax = s;
    } else {
      softmaxSum += exp(s - softmaxMax);
    }
  }

  let slot = aux[params.slotOffset + m];
  let rowBase = ((params.layer * params.nSlots + slot) * params.nHead + h) * params.exportKeys;
  let writeMap = h == params.mapHead;
  let mapBase = queryPos * params.mapKeys;

  // Pass 2: probabilities, exports, and the weighted sum of values, accumulated in `out`.
  let vBase = params.ctx * params.nHeadKv * params.headDim;
  for (var d = 0u; d < params.headDim; d++) {
    out[qBase + d] = 0.0;
  }
  for (var k = firstKey; k < nKeys; k++) {
    let row = cacheRow(k, keyShift);
    let p = exp(score(qBase, row, kvHead) * invTemperature - softmaxMax) / softmaxSum;
    if (slot != NONE && k < params.exportKeys) {
      rows[rowBase + k] = p;
    }
    if (writeMap && k < params.mapKeys) {
      map[mapBase + k] = p;
    }
    let base = vBase + (row * params.nHeadKv + kvHead) * params.headDim;
    for (var d = 0u; d < params.headDim; d++) {
      out[qBase + d] += p * kv[base + d];
    }
  }
  // Masked keys (after the query, or before the sliding window) have probability exactly zero.
  if (slot != NONE) {
    for (var k = 0u; k < min(firstKey, params.exportKeys); k++) {
      rows[rowBase + k] = 0.0;
    }
    for (var k = nKeys; k < params.exportKeys; k++) {
      rows[rowBase + k] = 0.0;
    }
  }
  if (writeMap) {
    for (var k = 0u; k < min(firstKey, params.mapKeys); k++) {
      map[mapBase + k] = 0.0;
    }
    for (var k = nKeys; k < params.mapKeys; k++) {
      map[mapBase + k] = 0.0;
    }
  }
}
