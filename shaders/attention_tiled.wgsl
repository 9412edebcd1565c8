// Tiled (flash-style) prefill attention for GPUs: shaders/attention.wgsl's semantics, computed for
// a block of BLOCK_QUERIES queries of one head per workgroup.
//   s_k = cap(q·k_k · scale) / T[layer][head],  p_k = softmax_k(s_k),  out = Σ_k p_k v_k
// with causal GQA, the sliding window, the batch layout and the export exactly as there (read it
// first). Keys are walked in tiles of TILE_KEYS cache rows; each tile's K, then its V, is loaded
// once into workgroup memory, DIM_CHUNK head dimensions at a time, and shared by the block's queries.
// Eight invocations serve one query: for scores each holds KEYS_PER_LANE keys of the tile, for the
// output 1/8 of the head dimensions. The softmax is online: a running maximum and normaliser per
// query, the output accumulator rescaled when the maximum grows.
// Export: the maximum and normaliser are final only after the last tile, so when a query of the
// block has an export slot, or the head is the map head, a second sweep recomputes the scores and
// writes exact probabilities exp(s − max) / sum (masked keys as exact zeros, as attention.wgsl does).
// Batch layout (seqLen > 0): the queries of a block may belong to different sequences. The tiles
// walk cache rows: the shared prefix [0, queryStart), then the chunk's rows from the first
// query's sequence on; each query masks the rows it does not see (another sequence's, beyond its
// position, before its window) and reads a row's position as the row less its sequence's shift.

//#include attention_bindings

const BLOCK_QUERIES: u32 = 16u;                    // queries per workgroup (TypeScript: TILED_BLOCK_QUERIES)
const LANES: u32 = 8u;                             // invocations per query
const WG: u32 = BLOCK_QUERIES * LANES;
const KEYS_PER_LANE: u32 = 4u;
const TILE_KEYS: u32 = LANES * KEYS_PER_LANE;      // cache rows per tile
const DIM_CHUNK: u32 = 64u;                        // head dimensions in workgroup memory at a time
const DIMS_PER_LANE: u32 = DIM_CHUNK / LANES;      // output dimensions per invocation and chunk
const CHUNKS: u32 = MAX_HEAD_DIM / DIM_CHUNK;
const ACC: u32 = MAX_HEAD_DIM / LANES;             // output dimensions per invocation
// Row strides of the tiles, one more than their rows' lengths: neighbouring invocations read one
// column of several rows, and a stride off the memory banks' period (32 words) spreads them over banks.
const Q_STRIDE: u32 = DIM_CHUNK + 1u;
const KV_STRIDE: u32 = DIM_CHUNK + 1u;
const PROB_STRIDE: u32 = TILE_KEYS + 1u;
const MASKED: f32 = -3.0e38;                       // the score of a key a query does not see

// 16 KiB is WebGPU's default maxComputeWorkgroupStorageSize; these take 15,632 bytes as Dawn counts.
// (BLOCK_QUERIES, Q_STRIDE): a chunk of the block's queries.
var<workgroup> qTile: array<f32, BLOCK_QUERIES * Q_STRIDE>;
// (TILE_KEYS, KV_STRIDE): a chunk of the tile's keys, then of its values.
var<workgroup> kvTile: array<f32, TILE_KEYS * KV_STRIDE>;
// (BLOCK_QUERIES, PROB_STRIDE): exp(s − running max) of the tile.
var<workgroup> probTile: array<f32, BLOCK_QUERIES * PROB_STRIDE>;
var<workgroup> laneMax: array<f32, WG>;            // per invocation: its keys' largest score in the tile
var<workgroup> laneSum: array<f32, WG>;            // per invocation: its keys' Σ exp(s − max) in the tile
var<workgroup> exportFlag: u32;

/** Query m of the chunk: its position, its sequence's row shift, and the positions it sees [firstKey, nKeys). */
struct Query {
  valid: bool,
  pos: u32,
  shift: u32,
  firstKey: u32,
  nKeys: u32,
}

fn queryAt(m: u32) -> Query {
  var query: Query;
  query.valid = m < params.M;
  query.pos = params.queryStart + m;
  query.shift = 0u;
  if (params.seqLen > 0u) {
    let j = m % params.seqLen;
    query.pos = params.queryStart + j;
    query.shift = m - j;
  }
  query.nKeys = query.pos + 1u;
  query.firstKey = 0u;
  if (params.window > 0u && query.nKeys > params.window) {
    query.firstKey = query.nKeys - params.window;
  }
  return query;
}

/** The first cache row the query sees: its first key's row (past the prefix, shifted). */
fn firstRow(query: Query) -> u32 {
  return select(query.firstKey + query.shift, query.firstKey, query.firstKey < params.queryStart);
}

/** The position of the key in cache row `row` for this query (meaningful where `sees` is true). */
fn keyPosition(row: u32, query: Query) -> u32 {
  return select(row, row - query.shift, row >= params.queryStart);
}

/** Whether the query sees cache row `row`: the prefix or its own sequence, causal, inside its window. */
fn sees(row: u32, query: Query) -> bool {
  if (!query.valid || (row >= params.queryStart && row < params.queryStart + query.shift)) {
    return false;
  }
  let pos = keyPosition(row, query);
  return pos >= query.firstKey && pos < query.nKeys;
}

/**
 * The cache rows some query of a block sees: [lo, prefixEnd) of the prefix, then [ownStart, end)
 * from the first query's sequence on. One range unless the batch layout leaves earlier sequences'
 * rows between them; the tiles skip that gap.
 */
struct BlockRows {
  lo: u32,
  prefixEnd: u32,
  ownStart: u32,
  end: u32,
}

fn blockRows(firstQuery: u32, lastQuery: u32) -> BlockRows {
  var r: BlockRows;
  r.lo = firstRow(queryAt(firstQuery));
  for (var i = firstQuery + 1u; i <= lastQuery; i++) {
    r.lo = min(r.lo, firstRow(queryAt(i)));
  }
  r.end = params.queryStart + lastQuery + 1u;
  r.prefixEnd = clamp(params.queryStart, r.lo, r.end);
  r.ownStart = max(params.queryStart + queryAt(firstQuery).shift, r.lo);
  return r;
}

/** Where a tile meant to start at `row` starts: past the gap. */
fn tileStartAt(r: BlockRows, row: u32) -> u32 {
  return select(row, r.ownStart, row >= r.prefixEnd && row < r.ownStart);
}

/** The end of the tile starting at `start`: TILE_KEYS rows on, or its range's end. */
fn tileEndFrom(r: BlockRows, start: u32) -> u32 {
  return min(start + TILE_KEYS, select(r.end, r.prefixEnd, start < r.prefixEnd && r.ownStart > r.prefixEnd));
}

/** The score after the temperature, from the dot product, as attention.wgsl computes it. */
fn finishScore(dot: f32, invTemperature: f32) -> f32 {
  let s = dot * params.scale;
  if (params.softcap > 0.0) {
    // tanh saturates to ±1 in f32 long before 15; clamping avoids inf/inf in some tanh implementations.
    return params.softcap * tanh(clamp(s / params.softcap, -15.0, 15.0)) * invTemperature;
  }
  return s * invTemperature;
}

/** Loads dimensions [chunk·DIM_CHUNK, +DIM_CHUNK) of cache rows [tileStart, tileEnd) from `base` into kvTile; zeros elsewhere. */
fn loadKvChunk(base: u32, kvHead: u32, chunk: u32, tileStart: u32, tileEnd: u32, lid: u32) {
  for (var i = 0u; i < TILE_KEYS * DIM_CHUNK / WG; i++) {
    let index = lid + i * WG;
    let key = index / DIM_CHUNK;
    let d = index % DIM_CHUNK;
    let dim = chunk * DIM_CHUNK + d;
    let row = tileStart + key;
    var value = 0.0;
    if (row < tileEnd && dim < params.headDim) {
      value = kv[base + (row * params.nHeadKv + kvHead) * params.headDim + dim];
    }
    kvTile[key * KV_STRIDE + d] = value;
  }
}

/** Loads dimensions [chunk·DIM_CHUNK, +DIM_CHUNK) of the block's queries into qTile; zeros past M and headDim. */
fn loadQueryChunk(firstQuery: u32, h: u32, chunk: u32, lid: u32) {
  for (var i = 0u; i < BLOCK_QUERIES * DIM_CHUNK / WG; i++) {
    let index = lid + i * WG;
    let row = index / DIM_CHUNK;
    let m = firstQuery + row;
    let d = index % DIM_CHUNK;
    let dim = chunk * DIM_CHUNK + d;
    var value = 0.0;
    if (m < params.M && dim < params.headDim) {
      value = q[(m * params.nHead + h) * params.headDim + dim];
    }
    qTile[row * Q_STRIDE + d] = value;
  }
}

/**
 * Dot products of this invocation's query with its keys lane + j·LANES of the tile [tileStart, tileEnd).
 * Called by the whole workgroup (it synchronises).
 */
fn tileDots(firstQuery: u32, h: u32, kvHead: u32, tileStart: u32, tileEnd: u32, lid: u32) -> vec4f {
  let qi = lid / LANES;
  let lane = lid % LANES;
  var dots = vec4f(0.0);
  for (var chunk = 0u; chunk < CHUNKS; chunk++) {
    if (chunk * DIM_CHUNK >= params.headDim) {
      break;
    }
    loadQueryChunk(firstQuery, h, chunk, lid);
    loadKvChunk(0u, kvHead, chunk, tileStart, tileEnd, lid);
    workgroupBarrier();
    let dims = min(DIM_CHUNK, params.headDim - chunk * DIM_CHUNK);
    for (var d = 0u; d < dims; d++) {
      let qd = qTile[qi * Q_STRIDE + d];
      dots += qd * vec4f(
        kvTile[lane * KV_STRIDE + d],
        kvTile[(lane + LANES) * KV_STRIDE + d],
        kvTile[(lane + 2u * LANES) * KV_STRIDE + d],
        kvTile[(lane + 3u * LANES) * KV_STRIDE + d],
      );
    }
    workgroupBarrier();
  }
  return dots;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let firstQuery = wg.y * BLOCK_QUERIES;
  let lastQuery = min(firstQuery + BLOCK_QUERIES, params.M) - 1u;
  let qi = lid / LANES;
  let lane = lid % LANES;
  let m = firstQuery + qi;
  let query = queryAt(m);
  let kvHead = h / (params.nHead / params.nHeadKv);
  let invTemperature = bitcast<f32>(aux[params.layer * params.nHead + h]);

  let block = blockRows(firstQuery, lastQuery);

  // Pass 1: online softmax and the output, tile by tile.
  var runMax = MASKED;
  var runSum = 0.0;
  var acc: array<f32, ACC>;
  let vBase = params.ctx * params.nHeadKv * params.headDim;
  for (var tileStart = tileStartAt(block, block.lo); tileStart < block.end; tileStart = tileStartAt(block, tileEndFrom(block, tileStart))) {
    let tileEnd = tileEndFrom(block, tileStart);
    let dots = tileDots(firstQuery, h, kvHead, tileStart, tileEnd, lid);
    var scores = vec4f(MASKED);
    var visible = vec4<bool>(false);
    var localMax = MASKED;
    for (var j = 0u; j < KEYS_PER_LANE; j++) {
      let row = tileStart + lane + j * LANES;
      if (row < tileEnd && sees(row, query)) {
        visible[j] = true;
        scores[j] = finishScore(dots[j], invTemperature);
        localMax = max(localMax, scores[j]);
      }
    }
    laneMax[lid] = localMax;
    workgroupBarrier();
    var tileMax = MASKED;
    for (var l = 0u; l < LANES; l++) {
      tileMax = max(tileMax, laneMax[qi * LANES + l]);
    }
    let newMax = max(runMax, tileMax);
    let rescale = exp(runMax - newMax);
    var localSum = 0.0;
    for (var j = 0u; j < KEYS_PER_LANE; j++) {
      var p = 0.0;
      if (visible[j]) {
        p = exp(scores[j] - newMax);
      }
      probTile[qi * PROB_STRIDE + lane + j * LANES] = p;
      localSum += p;
    }
    laneSum[lid] = localSum;
    workgroupBarrier();
    var tileSum = 0.0;
    for (var l = 0u; l < LANES; l++) {
      tileSum += laneSum[qi * LANES + l];
    }
    runSum = runSum * rescale + tileSum;
    runMax = newMax;
    for (var i = 0u; i < ACC; i++) {
      acc[i] *= rescale;
    }
    // Σ p·v over the tile, DIM_CHUNK dimensions of V at a time: dimensions lane + jj·LANES of each chunk.
    let tileLen = tileEnd - tileStart;
    for (var chunk = 0u; chunk < CHUNKS; chunk++) {
      if (chunk * DIM_CHUNK >= params.headDim) {
        break;
      }
      loadKvChunk(vBase, kvHead, chunk, tileStart, tileEnd, lid);
      workgroupBarrier();
      for (var k = 0u; k < tileLen; k++) {
        let p = probTile[qi * PROB_STRIDE + k];
        for (var jj = 0u; jj < DIMS_PER_LANE; jj++) {
          acc[chunk * DIMS_PER_LANE + jj] += p * kvTile[k * KV_STRIDE + lane + jj * LANES];
        }
      }
      workgroupBarrier();
    }
  }

  if (query.valid) {
    let outBase = (m * params.nHead + h) * params.headDim;
    for (var chunk = 0u; chunk < CHUNKS; chunk++) {
      for (var jj = 0u; jj < DIMS_PER_LANE; jj++) {
        let d = chunk * DIM_CHUNK + lane + jj * LANES;
        if (d < params.headDim) {
          out[outBase + d] = acc[chunk * DIMS_PER_LANE + jj] / runSum;
        }
      }
    }
  }

  // Pass 2, only where something is exported: exact probabilities with the final max and sum.
  let writeMap = h == params.mapHead;
  if (lid == 0u) {
    var anySlot = writeMap;
    for (var i = firstQuery; i <= lastQuery; i++) {
      anySlot = anySlot || aux[params.slotOffset + i] != NONE;
    }
    exportFlag = select(0u, 1u, anySlot);
  }
  if (workgroupUniformLoad(&exportFlag) == 0u) {
    return;
  }
  var slot = NONE;
  if (query.valid) {
    slot = aux[params.slotOffset + m];
  }
  let rowBase = ((params.layer * params.nSlots + slot) * params.nHead + h) * params.exportKeys;
  let mapBase = query.pos * params.mapKeys;
  let writeRow = slot != NONE;
  let writeMapRow = writeMap && query.valid;
  for (var tileStart = tileStartAt(block, block.lo); tileStart < block.end; tileStart = tileStartAt(block, tileEndFrom(block, tileStart))) {
    let tileEnd = tileEndFrom(block, tileStart);
    let dots = tileDots(firstQuery, h, kvHead, tileStart, tileEnd, lid);
    for (var j = 0u; j < KEYS_PER_LANE; j++) {
      let row = tileStart + lane + j * LANES;
      if (row < tileEnd && sees(row, query)) {
        let p = exp(finishScore(dots[j], invTemperature) - runMax) / runSum;
        let k = keyPosition(row, query);
        if (writeRow && k < params.exportKeys) {
          rows[rowBase + k] = p;
        }
        if (writeMapRow && k < params.mapKeys) {
          map[mapBase + k] = p;
        }
      }
    }
  }
  // Masked keys (after the query, or before the sliding window) have probability exactly zero.
  // (Unlike attention.wgsl, the keys before the window stop at the row's end too.)
  if (writeRow) {
    for (var k = lane; k < min(query.firstKey, params.exportKeys); k += LANES) {
      rows[rowBase + k] = 0.0;
    }
    for (var k = query.nKeys + lane; k < params.exportKeys; k += LANES) {
      rows[rowBase + k] = 0.0;
    }
  }
  if (writeMapRow) {
    for (var k = lane; k < min(query.firstKey, params.mapKeys); k += LANES) {
      map[mapBase + k] = 0.0;
    }
    for (var k = query.nKeys + lane; k < params.mapKeys; k += LANES) {
      map[mapBase + k] = 0.0;
    }
  }
}
