// Picks the next token from one row of logits in a single workgroup.
// GREEDY: argmax (lowest id on ties). Otherwise: softmax at `temperature`, keep the top-k
// logits, then the smallest top set whose probability reaches top-p, and draw with the
// uniform number `u` by a prefix sum in token order. Thresholds are found exactly by
// bisection over the order-preserving integer image of the f32 logits.

struct Params {
  vocab: u32,
  rowOffset: u32,   // the row of logits to read
  topK: u32,        // 0 = off
  _pad0: u32,
  invTemperature: f32,
  topP: f32,        // 1 = off
  u: f32,           // uniform in [0, 1)
  _pad1: u32,
}

override GREEDY: bool = true;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;

const WG: u32 = 256u;
var<workgroup> valueShared: array<f32, WG>;
var<workgroup> indexShared: array<u32, WG>;
var<workgroup> countShared: array<u32, WG>;
var<workgroup> sumShared: array<f32, WG>;

fn logit(i: u32) -> f32 { return logits[params.rowOffset * params.vocab + i]; }

fn orderKey(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn reduceCount(lid: u32, value: u32) -> u32 {
  countShared[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { countShared[lid] += countShared[lid + stride]; }
    workgroupBarrier();
  }
  // A uniform load keeps the bisection loops that use this result in uniform control flow.
  let total = workgroupUniformLoad(&countShared[0]);
  workgroupBarrier();
  return total;
}

fn reduceSum(lid: u32, value: f32) -> f32 {
  sumShared[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { sumShared[lid] += sumShared[lid + stride]; }
    workgroupBarrier();
  }
  let total = workgroupUniformLoad(&sumShared[0]);
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  let vocab = params.vocab;
  var best = -3.4e38;
  var bestIndex = 0xffffffffu;
  for (var i = lid; i < vocab; i += WG) {
    let v = logit(i);
    if (v > best || bestIndex == 0xffffffffu) { best = v; bestIndex = i; }
  }
  valueShared[lid] = best;
  indexShared[lid] = bestIndex;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let v = valueShared[lid + stride];
      let j = indexShared[lid + stride];
      if (j != 0xffffffffu && (v > valueShared[lid] || (v == valueShared[lid] && j < indexShared[lid]) || indexShared[lid] == 0xffffffffu)) {
        valueShared[lid] = v;
        indexShared[lid] = j;
      }
    }
    workgroupBarrier();
  }
  let maxLogit = workgroupUniformLoad(&valueShared[0]);
  if (GREEDY) {
    if (lid == 0u) { result[0] = indexShared[0]; }
    return;
  }

  // Top-k: the largest key t with count(key ≥ t) ≥ k.
  var floorKey = 0u;
  if (params.topK > 0u && params.topK < vocab) {
    var lo = 0u;
    var hi = 0xffffffffu;
    for (var iter = 0u; iter < 32u && lo < hi; iter++) {
      let mid = lo + (hi - lo) / 2u + ((hi - lo) & 1u); // ceil, without overflow at the full range
      var count = 0u;
      for (var i = lid; i < vocab; i += WG) { count += select(0u, 1u, orderKey(logit(i)) >= mid); }
      if (reduceCount(lid, count) >= params.topK) { lo = mid; } else { hi = mid - 1u; }
    }
    floorKey = lo;
  }

  // Top-p: the largest key t whose kept mass Σ_{key ≥ t} w reaches topP of the total.
  var total = 0.0;
  for (var i = lid; i < vocab; i += WG) {
    let v = logit(i);
    if (orderKey(v) >= floorKey) { total += exp((v - maxLogit) * params.invTemperature); }
  }
  total = reduceSum(lid, total);
  if (params.topP < 1.0) {
    var lo = floorKey;
    var hi = orderKey(maxLogit);
    for (var iter = 0u; iter < 32u && lo < hi; iter++) {
      let mid = lo + (hi - lo) / 2u + ((hi - lo) & 1u); // ceil, without overflow at the full range
      var mass = 0.0;
      for (var i = lid; i < vocab; i += WG) {
        let v = logit(i);
        if (orderKey(v) >= mid) { mass += exp((v - maxLogit) * params.invTemperature); }
      }
      if (reduceSum(lid, mass) >= params.topP * total) { lo = mid; } else { hi = mid - 1u; }
    }
    floorKey = lo;
  }

  // Draw: prefix sums over contiguous chunks in token order.
  let chunk = (vocab + WG - 1u) / WG;
  let begin = min(lid * chunk, vocab);
  let end = min(begin + chunk, vocab);
  var mine = 0.0;
  for (var i = begin; i < end; i++) {
    let v = logit(i);
    if (orderKey(v) >= floorKey) { mine += exp((v - maxLogit) * params.invTemperature); }
  }
  sumShared[lid] = mine;
  workgroupBarrier();
  if (lid == 0u) {
    var kept = 0.0;
    for (var t = 0u; t < WG; t++) { kept += sumShared[t]; }
    let goal = params.u * kept;
    var before = 0.0;
    var owner = 0xffffffffu;
    var lastNonEmpty = 0u;
    var beforeLast = 0.0;
    for (var t = 0u; t < WG; t++) {
      if (sumShared[t] > 0.0) { lastNonEmpty = t; beforeLast = before; }
      if (before + sumShared[t] > goal) { owner = t; break; }
      before += sumShared[t];
    }
    if (owner == 0xffffffffu) {
      owner = lastNonEmpty;
      before = beforeLast;
    }
    valueShared[0] = goal - before;
    indexShared[0] = owner;
  }
  workgroupBarrier();
  if (lid == indexShared[0]) {
    var remaining = valueShared[0];
    var chosen = 0xffffffffu;
    var last = 0xffffffffu;
    for (var i = begin; i < end; i++) {
      let v = logit(i);
      if (orderKey(v) >= floorKey) {
        last = i;
        remaining -= exp((v - maxLogit) * params.invTemperature);
        if (remaining < 0.0) { chosen = i; break; }
      }
    }
    // Rounding can leave the target a hair past the chunk: take its last kept token.
    result[0] = select(chosen, last, chosen == 0xffffffffu);
  }
}
