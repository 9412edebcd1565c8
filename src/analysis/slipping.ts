// Attention slipping over an attack: safety heads picked on the un-attacked prompt, tracked
// through the steps, and the slip R(0) − R(S).

import type { LayerHeadValues } from './mass';

export interface HeadRef {
  readonly layer: number;
  readonly head: number;
}

export interface RankedHead extends HeadRef {
  readonly mass: number;
}

/**
 * The K heads with the highest mass (ties: lower layer, then lower head first). Call it on the
 * un-attacked prompt's request mass to get the "safety heads".
 */
export function topHeads(mass: LayerHeadValues, k: number): RankedHead[] {
  const all: RankedHead[] = [];
  for (let layer = 0; layer < mass.nLayer; layer++)
    for (let head = 0; head < mass.nHead; head++) all.push({ layer, head, mass: mass.values[layer * mass.nHead + head] });
  all.sort((a, b) => b.mass - a.mass || a.layer - b.layer || a.head - b.head);
  return all.slice(0, Math.max(0, Math.min(k, all.length)));
}

/** The mass of each given head in a later step. */
export function headMasses(heads: readonly HeadRef[], mass: LayerHeadValues): number[] {
  return heads.map(({ layer, head }) => {
    if (!(layer >= 0 && layer < mass.nLayer && head >= 0 && head < mass.nHead)) throw new RangeError(`head (${layer}, ${head}) is outside the model`);
    return mass.values[layer * mass.nHead + head];
  });
}

/** Mean mass over the given heads. */
export function meanOverHeads(heads: readonly HeadRef[], mass: LayerHeadValues): number {
  if (heads.length === 0) throw new RangeError('no heads to average');
  return headMasses(heads, mass).reduce((a, b) => a + b, 0) / heads.length;
}

export interface SlippingCurve {
  /** R at each attack step, step 0 = the un-attacked prompt. */
  readonly values: readonly number[];
  /** R(0) − R(S): how far attention slipped by the last step (positive = slipped away). */
  readonly slip: number;
  /** slip / R(0), or 0 when R(0) is 0. */
  readonly relativeSlip: number;
}

export function slippingCurve(values: readonly number[]): SlippingCurve {
  if (values.length === 0) throw new RangeError('a slipping curve needs at least one step');
  const slip = values[0] - values[values.length - 1];
  return { values: [...values], slip, relativeSlip: values[0] === 0 ? 0 : slip / values[0] };
}

/** The safety heads of step 0 and their mean mass along the steps. */
export function safetyHeadCurve(steps: readonly LayerHeadValues[], k: number): SlippingCurve & { readonly heads: readonly RankedHead[] } {
  if (steps.length === 0) throw new RangeError('a slipping curve needs at least one step');
  const heads = topHeads(steps[0], k);
  return { heads, ...slippingCurve(steps.map((m) => meanOverHeads(heads, m))) };
}
