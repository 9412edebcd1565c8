// Attention sharpening (Hu, Chen, Ho 2025): the per-(layer, head) softmax temperatures the engine applies.

import { DefenseConfigError } from './errors';

export interface SharpeningConfig {
  /** T: attention becomes softmax(s / T); T < 1 sharpens, T = 1 changes nothing. */
  temperature: number;
  /** Layers [first, last], inclusive, 0-based. */
  layers: readonly [number, number];
  /** Heads to sharpen in each chosen layer (0-based query heads); all heads when left out. */
  heads?: readonly number[];
}

export interface HeadGrid {
  nLayer: number;
  nHead: number;
}

/** One (layer, head) cell, e.g. one of the "safety heads". */
export interface HeadRef {
  layer: number;
  head: number;
}

function checkTemperature(temperature: number): void {
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new DefenseConfigError(`The sharpening temperature must be a positive number, not ${temperature}; try a value such as 0.7 (below 1 sharpens).`);
  }
}

function checkGrid({ nLayer, nHead }: HeadGrid): void {
  if (!(Number.isInteger(nLayer) && nLayer > 0 && Number.isInteger(nHead) && nHead > 0)) {
    throw new DefenseConfigError(`The model shape ${nLayer} layers × ${nHead} heads is not usable; load a model before configuring sharpening.`);
  }
}

const isIndex = (value: number, size: number) => Number.isInteger(value) && value >= 0 && value < size;

/**
 * The (nLayer × nHead) row-major temperatures for `setAttentionTemperature`: T in the chosen
 * layers and heads, exactly 1 everywhere else.
 */
export function sharpeningTemperatures(config: SharpeningConfig, grid: HeadGrid): Float32Array {
  checkTemperature(config.temperature);
  checkGrid(grid);
  const { nLayer, nHead } = grid;
  const [first, last] = config.layers;
  if (!isIndex(first, nLayer) || !isIndex(last, nLayer)) {
    throw new DefenseConfigError(`The layer range ${first}–${last} must lie within 0–${nLayer - 1} for this model; pick layers that exist.`);
  }
  if (first > last) {
    throw new DefenseConfigError(`The layer range ${first}–${last} starts after it ends; put the smaller layer first.`);
  }
  const heads = config.heads ?? Array.from({ length: nHead }, (_, head) => head);
  if (heads.length === 0) throw new DefenseConfigError('The head subset is empty; choose at least one head or leave the subset out to sharpen every head.');
  const badHead = heads.find((head) => !isIndex(head, nHead));
  if (badHead !== undefined) {
    throw new DefenseConfigError(`Head ${badHead} does not exist in this model, whose heads are 0–${nHead - 1}; remove it from the head subset.`);
  }
  const temperatures = new Float32Array(nLayer * nHead).fill(1); // (nLayer, nHead)
  for (let layer = first; layer <= last; layer++) {
    for (const head of heads) temperatures[layer * nHead + head] = config.temperature;
  }
  return temperatures;
}

/** Temperatures with T on exactly the given (layer, head) cells, 1 elsewhere (e.g. the top-K safety heads). */
export function sharpeningTemperaturesForHeads(temperature: number, cells: readonly HeadRef[], grid: HeadGrid): Float32Array {
  checkTemperature(temperature);
  checkGrid(grid);
  if (cells.length === 0) throw new DefenseConfigError('No heads were chosen to sharpen; pick at least one (layer, head).');
  const temperatures = new Float32Array(grid.nLayer * grid.nHead).fill(1); // (nLayer, nHead)
  for (const { layer, head } of cells) {
    if (!isIndex(layer, grid.nLayer) || !isIndex(head, grid.nHead)) {
      throw new DefenseConfigError(
        `Head (layer ${layer}, head ${head}) does not exist in this model of ${grid.nLayer} layers × ${grid.nHead} heads; choose heads within it.`,
      );
    }
    temperatures[layer * grid.nHead + head] = temperature;
  }
  return temperatures;
}
