// Attention sharpening config → per-(layer, head) temperatures: T exactly on the chosen cells, 1 elsewhere.

import { describe, expect, it } from 'vitest';
import { DefenseConfigError } from '../../src/defenses/errors';
import { sharpeningTemperatures, sharpeningTemperaturesForHeads } from '../../src/defenses/sharpening';

const grid = { nLayer: 6, nHead: 5 };

function cellsWith(temperatures: Float32Array, value: number): string[] {
  const cells: string[] = [];
  temperatures.forEach((t, i) => {
    if (t === value) cells.push(`${Math.floor(i / grid.nHead)}:${i % grid.nHead}`);
  });
  return cells;
}

describe('sharpeningTemperatures', () => {
  it('puts T on every head of layers a…b inclusive and exactly 1 elsewhere', () => {
    const temperatures = sharpeningTemperatures({ temperature: 0.7, layers: [2, 3] }, grid);
    expect(temperatures).toHaveLength(30);
    const T = Math.fround(0.7);
    expect(cellsWith(temperatures, T)).toEqual(['2:0', '2:1', '2:2', '2:3', '2:4', '3:0', '3:1', '3:2', '3:3', '3:4']);
    expect(cellsWith(temperatures, 1)).toHaveLength(20);
  });

  it('sharpens only the head subset within the layers', () => {
    const temperatures = sharpeningTemperatures({ temperature: 0.5, layers: [0, 5], heads: [4, 1] }, grid);
    expect(cellsWith(temperatures, 0.5)).toEqual([0, 1, 2, 3, 4, 5].flatMap((l) => [`${l}:1`, `${l}:4`]));
    expect(cellsWith(temperatures, 1)).toHaveLength(30 - 12);
  });

  it('takes explicit (layer, head) cells, e.g. the safety heads', () => {
    const temperatures = sharpeningTemperaturesForHeads(0.25, [{ layer: 5, head: 0 }, { layer: 1, head: 3 }], grid);
    expect(cellsWith(temperatures, 0.25)).toEqual(['1:3', '5:0']);
    expect(cellsWith(temperatures, 1)).toHaveLength(28);
  });

  it.each([
    [{ temperature: 0, layers: [0, 1] }, 'The sharpening temperature must be a positive number, not 0; try a value such as 0.7 (below 1 sharpens).'],
    [{ temperature: NaN, layers: [0, 1] }, 'The sharpening temperature must be a positive number, not NaN'],
    [{ temperature: 0.7, layers: [0, 6] }, 'The layer range 0–6 must lie within 0–5 for this model; pick layers that exist.'],
    [{ temperature: 0.7, layers: [1.5, 2] }, 'The layer range 1.5–2 must lie within 0–5'],
    [{ temperature: 0.7, layers: [4, 2] }, 'The layer range 4–2 starts after it ends; put the smaller layer first.'],
    [{ temperature: 0.7, layers: [0, 1], heads: [] }, 'The head subset is empty'],
    [{ temperature: 0.7, layers: [0, 1], heads: [0, 5] }, 'Head 5 does not exist in this model, whose heads are 0–4; remove it from the head subset.'],
  ] as const)('rejects %o in one sentence', (config, message) => {
    const run = () => sharpeningTemperatures(config, grid);
    expect(run).toThrow(DefenseConfigError);
    expect(run).toThrow(message);
  });

  it('rejects cells outside the model', () => {
    expect(() => sharpeningTemperaturesForHeads(0.5, [{ layer: 6, head: 0 }], grid)).toThrow(
      'Head (layer 6, head 0) does not exist in this model of 6 layers × 5 heads; choose heads within it.',
    );
    expect(() => sharpeningTemperaturesForHeads(0.5, [], grid)).toThrow('No heads were chosen to sharpen');
  });
});
