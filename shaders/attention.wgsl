// Causal grouped-query attention over the KV cache with a per-(layer, head) softmax
// temperature, exporting probabilities: one workgroup per (head, query).
//   s_k = cap(q·k_k · scale),  p_k = softmax_k(s_k / T[layer][head]),  out = Σ_k p_k v_k
// where cap(s) = c·tanh(s/c) when soft-capping is on (Gemma 2) — the temperature applies after
// it — and keys further back than the sliding window (when set) are masked.
// Pass 1 finds the softmax max and normaliser online; pass 2 recomputes each score, writes
// the exact probability where it is asked for (export rows, one head's full map) and
// accumulates the output 64 keys at a time.
// Batch layout (seqLen > 0, for scoring many continuations of one prefix): the chunk is
// sequences of seqLen tokens, each continuing the cached positions [0, queryStart). Token j of
// the chunk's sequence b sits at position queryStart + j and its K/V at cache row
// queryStart + b·seqLen + j; it sees the prefix and its own sequence's tokens 0…j. Keys are
// walked by position exactly as for one sequence (window, soft-cap and temperature unchanged);
// only the cache row a key is read from moves.

//#include attention_bindings

const WG: u32 = 64u;
const MAX_DIMS_PER_THREAD: u32 = MAX_HEAD_DIM / WG;

var<workgroup> qShared: array<f32, MAX_HEAD_DIM>;
var<workgroup> maxShared: array<f32, WG>;
var<workgroup> sumShared: array<f32, WG>;
var<workgroup> probShared: array<f32, WG>;

/** The score of the key in cache row `row` before the temperature: scaled dot product, soft-capped when asked. */
fn score(row: u32, kvHead: u32) -> f32 {
  let base = (row * params.nHeadKv + kvHead) * params.headDim;
  var dot = 0.0;
  for (var d = 0u; d < params.headDim; d++) {
    dot += qShared[d] * kv[base + d];
  }
  let s = dot * params.scale;
  if (params.softcap > 0.0) {
    // tanh saturates to ±1 in f32 long before 15; clamping avoids inf/inf in some tanh implementations.
    return params.softcap * tanh(clamp(s / params.softcap, -15.0, 15.0));
  }
  return s;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let m = wg.y;
  // The query's position, and how far past its position its sequence's keys sit in the cache.
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
  for (var d = lid; d < params.headDim; d += WG) {
    qShared[d] = q[qBase + d];
  }
  workgroupBarrier();

  let invTemperature = bitcast<f32>(aux[params.layer * params.nHead + h]);

  // Pass 1: running max and normaliser per thread, then merged.
  var runMax = -3.0e38;
  var runSum = 0.0;
  for (var k = firstKey + lid; k < nKeys; k += WG) {
    let s = score(cacheRow(k, keyShift), kvHead) * invTemperature;
    if (s > runMax) {
      runSum = runSum * exp(runMax - s) + 1.0;
      runMax = s;
    } else {
      runSum += exp(s - runMax);
    }
  }
  maxShared[lid] = runMax;
  sumShared[lid] = runSum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let m1 = maxShared[lid];
      let m2 = maxShared[lid + stride];
      let merged = max(m1, m2);
      sumShared[lid] = sumShared[lid] * exp(m1 - merged) + sumShared[lid + stride] * exp(m2 - merged);
      maxShared[lid] = merged;
    }
    workgroupBarrier();
  }
  let softmaxMax = maxShared[0];
  let softmaxSum = sumShared[0];

  let slot = aux[params.slotOffset + m];
  let rowBase = ((params.layer * params.nSlots + slot) * params.nHead + h) * params.exportKeys;
  let writeMap = h == params.mapHead;
  let mapBase = queryPos * params.mapKeys;

  // Pass 2: probabilities, exports, and the weighted sum of values.
  let vBase = params.ctx * params.nHeadKv * params.headDim;
  var acc: array<f32, MAX_DIMS_PER_THREAD>;
  for (var tile = firstKey; tile < nKeys; tile += WG) {
    let k = tile + lid;
    var p = 0.0;
    if (k < nKeys) {
      p = exp(score(cacheRow(k, keyShift), kvHead) * invTemperature - softmaxMax) / softmaxSum;
      if (slot != NONE && k < params.exportKeys) {
        rows[rowBase + k] = p;
      }
      if (writeMap && k < params.mapKeys) {
        map[mapBase + k] = p;
      }
    }
    probShared[lid] = p;
    workgroupBarrier();
    let tileLen = min(WG, nKeys - tile);
    for (var j = 0u; j < MAX_DIMS_PER_THREAD; j++) {
      let d = lid + j * WG;
      if (d < params.headDim) {
        var sum = 0.0;
        for (var t = 0u; t < tileLen; t++) {
          sum += probShared[t] * kv[vBase + (cacheRow(tile + t, keyShift) * params.nHeadKv + kvHead) * params.headDim + d];
        }
        acc[j] += sum;
      }
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < MAX_DIMS_PER_THREAD; j++) {
    let d = lid + j * WG;
    if (d < params.headDim) {
      out[qBase + d] = acc[j];
    }
  }
  // Masked keys (after the query, or before the sliding window) have probability exactly zero.
  if (slot != NONE) {
    for (var k = lid; k < min(firstKey, params.exportKeys); k += WG) {
      rows[rowBase + k] = 0.0;
    }
    for (var k = nKeys + lid; k < params.exportKeys; k += WG) {
      rows[rowBase + k] = 0.0;
    }
  }
  if (writeMap) {
    for (var k = lid; k < min(firstKey, params.mapKeys); k += WG) {
      map[mapBase + k] = 0.0;
    }
    for (var k = nKeys + lid; k < params.mapKeys; k += WG) {
      map[mapBase + k] = 0.0;
    }
  }
}
