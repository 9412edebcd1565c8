// Attention mass on a set of key positions (the request, the sink) per layer and head, from the
// engine's exported rows; sink adjustment; layer and model means.

import { rangeMask, type TokenRange } from './spans';

/** One value per (layer, head), row-major: values[layer · nHead + head]. */
export interface LayerHeadValues {
  readonly nLayer: number;
  readonly nHead: number;
  readonly values: Float64Array;
}

/** The engine's exported attention rows (structurally the engine's AttentionRows). */
export interface AttentionRowsLike {
  /** Absolute query position of each slot. */
  readonly queries: readonly number[];
  readonly keys: number;
  /** (nLayer, nSlots, nHead, keys) */
  readonly data: Float32Array;
}

export interface HeadLayout {
  readonly nLayer: number;
  readonly nHead: number;
}

function checkRows(rows: AttentionRowsLike, layout: HeadLayout, slot: number): number {
  const nSlots = rows.queries.length;
  if (rows.data.length !== layout.nLayer * nSlots * layout.nHead * rows.keys)
    throw new RangeError(`attention rows hold ${rows.data.length} values, not nLayer·nSlots·nHead·keys = ${layout.nLayer}·${nSlots}·${layout.nHead}·${rows.keys}`);
  if (!(slot >= 0 && slot < nSlots)) throw new RangeError(`slot ${slot} is outside the ${nSlots} exported rows`);
  return nSlots;
}

/**
 * R[l][h] = Σ_{k ∈ ranges} P[l][h][q][k] for the query of `slot` (slot 0 is the last prompt token
 * by default). Overlapping ranges count each key once.
 */
export function massFromRows(rows: AttentionRowsLike, layout: HeadLayout, ranges: readonly TokenRange[], slot = 0): LayerHeadValues {
  const nSlots = checkRows(rows, layout, slot);
  const { nLayer, nHead } = layout;
  const mask = rangeMask(ranges, rows.keys);
  const values = new Float64Array(nLayer * nHead);
  for (let l = 0; l < nLayer; l++)
    for (let h = 0; h < nHead; h++) {
      const base = ((l * nSlots + slot) * nHead + h) * rows.keys;
      let sum = 0;
      for (let k = 0; k < rows.keys; k++) if (mask[k]) sum += rows.data[base + k];
      values[l * nHead + h] = sum;
    }
  return { nLayer, nHead, values };
}

/** Below this much non-sink mass a head attends (numerically) only to the sink. */
export const SINK_EPSILON = 1e-6;

/**
 * mass / (1 − sink): the share of the attention left after the sink. A head that puts
 * (almost) everything on the sink (1 − sink < SINK_EPSILON) has no share to give: 0.
 */
export function sinkAdjust(mass: number, sinkMass: number): number {
  const rest = 1 - sinkMass;
  return rest < SINK_EPSILON ? 0 : mass / rest;
}

export function sinkAdjusted(mass: LayerHeadValues, sink: LayerHeadValues): LayerHeadValues {
  if (mass.nLayer !== sink.nLayer || mass.nHead !== sink.nHead) throw new RangeError('mass and sink mass have different shapes');
  return { ...mass, values: mass.values.map((v, i) => sinkAdjust(v, sink.values[i])) };
}

/** The same values as [layer][head] nested arrays: how traces store them (JSON). */
export type LayerHeadMatrix = readonly (readonly number[])[];

/** Either form; the aggregates below accept both. */
export type LayerHeadData = LayerHeadValues | LayerHeadMatrix;

/** [layer][head] nested arrays, for JSON. */
export function toNested(mass: LayerHeadValues): number[][] {
  return Array.from({ length: mass.nLayer }, (_, l) => Array.from(mass.values.subarray(l * mass.nHead, (l + 1) * mass.nHead)));
}

export function fromNested(matrix: LayerHeadMatrix): LayerHeadValues {
  const nLayer = matrix.length;
  const nHead = matrix[0]?.length ?? 0;
  if (matrix.some((row) => row.length !== nHead)) throw new RangeError('a layer × head matrix needs the same number of heads in every layer');
  return { nLayer, nHead, values: Float64Array.from(matrix.flat()) };
}

const asValues = (data: LayerHeadData): LayerHeadValues => (Array.isArray(data) ? fromNested(data as LayerHeadMatrix) : (data as LayerHeadValues));

/** Mean over heads: (nLayer). */
export function perLayerMean(data: LayerHeadData): Float64Array {
  const mass = asValues(data);
  const out = new Float64Array(mass.nLayer);
  for (let l = 0; l < mass.nLayer; l++) {
    let sum = 0;
    for (let h = 0; h < mass.nHead; h++) sum += mass.values[l * mass.nHead + h];
    out[l] = sum / mass.nHead;
  }
  return out;
}

/** Mean over layers: (nHead). */
export function perHeadMean(data: LayerHeadData): Float64Array {
  const mass = asValues(data);
  const out = new Float64Array(mass.nHead);
  for (let h = 0; h < mass.nHead; h++) {
    let sum = 0;
    for (let l = 0; l < mass.nLayer; l++) sum += mass.values[l * mass.nHead + h];
    out[h] = sum / mass.nLayer;
  }
  return out;
}

/** Mean over layers of the per-layer means (equal to the mean over all heads): DESIGN.md's model-level value. */
export function modelMean(data: LayerHeadData): number {
  const layers = perLayerMean(data);
  return layers.reduce((a, b) => a + b, 0) / layers.length;
}

/** Mean over an inclusive layer range (e.g. the middle layers) of the per-layer means. */
export function layerRangeMean(data: LayerHeadData, first: number, last: number): number {
  const mass = asValues(data);
  if (!(first >= 0 && last < mass.nLayer && first <= last)) throw new RangeError(`layers ${first}-${last} are outside 0-${mass.nLayer - 1}`);
  const layers = perLayerMean(data).subarray(first, last + 1);
  return layers.reduce((a, b) => a + b, 0) / layers.length;
}
