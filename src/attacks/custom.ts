// Custom trajectories: a user's own prompts, one attack step each, from a JSON or CSV file.

import { csvParse } from 'd3';
import { AttackInputError, buildSegments, type AttackStep, type PromptSegment, type TrajectoryOptions } from './types';

export interface CustomOptions extends TrajectoryOptions {
  /**
   * The request the prompts contain, so it gets its own `request` span. A prompt may hold it
   * as the placeholder `{request}` or literally; a per-item `request` overrides this.
   */
  request?: string;
}

interface CustomItem {
  label?: string;
  prompt: string;
  request?: string;
}

const PLACEHOLDER = '{request}';

/**
 * Parses a user's prompts into steps. Accepted inputs:
 * - JSON: an array (or `{ "steps": [...] }`) of strings or `{ "prompt", "label"?, "request"? }`;
 * - CSV with a header: a `prompt` column (or, as in AdvBench / JailbreakBench, `goal`),
 *   optional `label` and `request` columns.
 * A prompt whose request is found (placeholder first, then the literal text) is split into
 * `custom` · `request` · `custom`; otherwise the whole prompt is one `custom` segment and the
 * step has no request span (a paraphrasing attack such as PAIR rewrites the request).
 */
export function customTrajectory(text: string, options: CustomOptions = {}): AttackStep[] {
  const source = text.replace(/^\uFEFF/, '');
  const first = source.trimStart()[0];
  const items = first === '[' || first === '{' ? itemsFromJson(source) : itemsFromCsv(source);
  if (items.length === 0) throw new AttackInputError('The custom attack file has no prompts; add at least one prompt.');
  return items.map((item, i) => ({
    step: i,
    label: item.label?.trim() || `Prompt ${i + 1}`,
    segments: buildSegments(options.system, splitAtRequest(item.prompt, item.request ?? options.request, i)),
  }));
}

function splitAtRequest(prompt: string, request: string | undefined, index: number): PromptSegment[] {
  const hasPlaceholder = prompt.includes(PLACEHOLDER);
  if (request === undefined || request === '') {
    if (hasPlaceholder) {
      throw new AttackInputError(`Prompt ${index + 1} contains ${PLACEHOLDER} but no request was given; type the request or write it into the prompt.`);
    }
    return [{ kind: 'custom', text: prompt }];
  }
  const marker = hasPlaceholder ? PLACEHOLDER : request;
  const at = prompt.indexOf(marker);
  if (at < 0) return [{ kind: 'custom', text: prompt }];
  return [
    { kind: 'custom', text: prompt.slice(0, at) },
    { kind: 'request', text: request },
    { kind: 'custom', text: prompt.slice(at + marker.length) },
  ];
}

function itemsFromJson(source: string): CustomItem[] {
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (error) {
    const reason = (error as Error).message.replace(/\s+/g, ' ');
    throw new AttackInputError(`The custom attack file looks like JSON but does not parse (${reason}); fix it, or use a CSV with a "prompt" column.`, {
      cause: error,
    });
  }
  const list = Array.isArray(data) ? data : isRecord(data) && Array.isArray(data.steps) ? data.steps : undefined;
  if (!list) {
    throw new AttackInputError(
      'The custom attack JSON must be an array of prompts (strings or {"label", "prompt"} objects) or an object with that array under "steps"; wrap your prompts in [ ].',
    );
  }
  return list.map((entry: unknown, i: number): CustomItem => {
    const where = `Item ${i + 1} of the custom attack JSON`;
    if (typeof entry === 'string') return { prompt: nonEmpty(entry, where) };
    if (!isRecord(entry) || typeof entry.prompt !== 'string') {
      throw new AttackInputError(`${where} must be a string or an object with a string "prompt"; fix that item.`);
    }
    for (const key of ['label', 'request'] as const) {
      if (entry[key] !== undefined && typeof entry[key] !== 'string') {
        throw new AttackInputError(`${where} has a "${key}" that is not a string; write it in quotes or remove it.`);
      }
    }
    return {
      prompt: nonEmpty(entry.prompt, where),
      label: entry.label as string | undefined,
      request: entry.request as string | undefined,
    };
  });
}

function itemsFromCsv(source: string): CustomItem[] {
  const rows = csvParse(source);
  // Header names are matched after trimming, then used as written to read the cells.
  const column = (name: string) => rows.columns.find((header) => header.trim() === name);
  const promptColumn = column('prompt') ?? column('goal');
  if (promptColumn === undefined) {
    const found = rows.columns.map((header) => header.trim()).filter((header) => header !== '').join(', ') || 'nothing';
    throw new AttackInputError(
      `The custom attack CSV needs a "prompt" or "goal" column, but its header row has ${found}; add a header row that names the prompt column.`,
    );
  }
  const labelColumn = column('label');
  const requestColumn = column('request');
  return rows.map((row, i) => ({
    prompt: nonEmpty(row[promptColumn] ?? '', `Row ${i + 1} of the custom attack CSV (after the header)`),
    label: labelColumn === undefined ? undefined : row[labelColumn],
    request: requestColumn === undefined || row[requestColumn] === '' ? undefined : row[requestColumn],
  }));
}

function nonEmpty(prompt: string, where: string): string {
  if (prompt.trim() === '') throw new AttackInputError(`${where} has an empty prompt; fill it in or remove it.`);
  return prompt;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
