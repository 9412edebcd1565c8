// Option values shared by the CLI commands: counts, temperatures, layer ranges, head lists.

import { sharpeningTemperatures } from '../defenses/sharpening';
import { GCG_DEFAULTS } from '../attacks/gcg';
import { UsageError } from './command';

/** A whole number ≥ `min` from `--name <text>`. */
export function wholeNumber(text: string, option: string, min = 0): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < min) {
    throw new UsageError(`${option} must be a whole number${min > 0 ? ` of ${min} or more` : ' (0 or more)'}, got "${text}".`);
  }
  return Number(trimmed);
}

/** A number in (0, ∞) or within [min, max] when given. */
export function positiveNumber(text: string, option: string, max?: number): number {
  const trimmed = text.trim();
  const value = trimmed === '' ? NaN : Number(trimmed);
  if (!(value > 0) || !Number.isFinite(value) || (max !== undefined && value > max)) {
    throw new UsageError(`${option} must be a positive number${max !== undefined ? ` up to ${max}` : ''}, got "${text}".`);
  }
  return value;
}

/** `--attn-temperature T`: the attention softmax temperature (T < 1 sharpens). */
export function attentionTemperature(text: string): number {
  return positiveNumber(text, '--attn-temperature');
}

/** `--layers a-b` (or `a`): an inclusive, 0-based layer range. */
export function layerRange(text: string, option = '--layers'): { first: number; last: number } {
  const m = text.trim().match(/^(\d+)(?:-(\d+))?$/);
  if (!m) throw new UsageError(`${option} must look like "a-b" or "a" (0-based, inclusive), got "${text}".`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (last < first) throw new UsageError(`${option} ${text} is empty: the first layer comes after the last.`);
  return { first, last };
}

/** `--heads 0,3,5`: a list of 0-based head indices. */
export function headList(text: string, option = '--heads'): number[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => !/^\d+$/.test(part))) {
    throw new UsageError(`${option} must be comma-separated head numbers such as 0,3,5, got "${text}".`);
  }
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

/**
 * `--attn-temperature T [--layers a-b]` as both forward and analyze take them: the temperature
 * (absent when not given) and its layer range (absent = every layer).
 */
export function sharpeningOptions(values: { 'attn-temperature'?: string; layers?: string }): {
  attentionTemperature?: number;
  layers?: { first: number; last: number };
} {
  const temperature = values['attn-temperature'] !== undefined ? attentionTemperature(values['attn-temperature']) : undefined;
  if (values.layers !== undefined && temperature === undefined) {
    throw new UsageError('--layers only selects where --attn-temperature applies; give --attn-temperature too.');
  }
  return { attentionTemperature: temperature, layers: values.layers !== undefined ? layerRange(values.layers) : undefined };
}

/** The (nLayer × nHead) temperatures of `--attn-temperature T [--layers a-b]`, checked against the model. */
export function cliTemperatures(temperature: number, layers: { first: number; last: number } | undefined, grid: { nLayer: number; nHead: number }): Float32Array {
  if (layers && layers.last >= grid.nLayer) throw new UsageError(`--layers ${layers.first}-${layers.last} is outside this model's layers 0-${grid.nLayer - 1}.`);
  return sharpeningTemperatures({ temperature, layers: [layers?.first ?? 0, layers?.last ?? grid.nLayer - 1] }, grid);
}

/** GCG's settings from `--gcg-steps N --gcg-topk K --gcg-batch B --gcg-target TEXT --gcg-suffix TEXT` (nanoGCG's defaults). */
export function gcgOptions(values: { 'gcg-steps'?: string; 'gcg-topk'?: string; 'gcg-batch'?: string; 'gcg-target'?: string; 'gcg-suffix'?: string }): {
  steps: number;
  topK: number;
  batch: number;
  /** Absent: each request's own target. */
  target?: string;
  suffix?: string;
} {
  const target = values['gcg-target'];
  if (target !== undefined && target.trim() === '') throw new UsageError('--gcg-target is empty; give the words the model should start with, such as "Sure, here is".');
  return {
    steps: values['gcg-steps'] !== undefined ? wholeNumber(values['gcg-steps'], '--gcg-steps', 1) : GCG_DEFAULTS.steps,
    topK: values['gcg-topk'] !== undefined ? wholeNumber(values['gcg-topk'], '--gcg-topk', 1) : GCG_DEFAULTS.topK,
    batch: values['gcg-batch'] !== undefined ? wholeNumber(values['gcg-batch'], '--gcg-batch', 1) : GCG_DEFAULTS.batch,
    ...(target !== undefined ? { target } : {}),
    ...(values['gcg-suffix'] !== undefined ? { suffix: values['gcg-suffix'] } : {}),
  };
}
