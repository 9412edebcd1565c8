// The sweep's temperature grid as the user types it.

import { MAX_SWEEP_TEMPERATURE } from '../lab/sweep';

/**
 * The grid typed as "1, 0.9, 0.8" (commas, spaces or Japanese commas between), or undefined when a
 * value is not a number in (0, 4] or comes twice: the panel says so under the field.
 */
export function parseTemperatures(text: string): number[] | undefined {
  const parts = text.split(/[\s,、，]+/).filter((part) => part !== '');
  if (parts.length === 0) return undefined;
  const values = parts.map(Number);
  if (values.some((t) => !(Number.isFinite(t) && t > 0 && t <= MAX_SWEEP_TEMPERATURE))) return undefined;
  return new Set(values).size === values.length ? values : undefined;
}
