// Benign prompts: everyday tasks whose answers show what a defense costs (DESIGN.md "Utility"), from
// a CSV (a `goal` column; optional `reference`, `id`, `category`, `language`) like
// public/scenarios/benign.csv, or the benign controls of a requests.json.

import { csvParseRows } from 'd3';
import { excerpt } from '../util/json-guard';
import { REQUESTS_LIMITS, checkRequestsSize } from './requests';
import { parseRequestsFile, ScenarioFormatError } from './scenarios';
import type { Language } from './types';

/** One benign task: its text, its language, and optionally a reference answer to score. */
export interface BenignPrompt {
  readonly id: string;
  readonly category?: string;
  readonly language: Language;
  readonly goal: string;
  /** A good answer; its log-likelihood per token under the defended model is reported. */
  readonly reference?: string;
}

const count = (n: number) => n.toLocaleString('en-US');

function csvBenign(source: string, fileName: string, language: Language): BenignPrompt[] {
  let header: string[] | undefined;
  const rows = csvParseRows(source, (row, index) => {
    if (index === 0) header = row.map((cell) => cell.trim());
    else if (index > REQUESTS_LIMITS.requests) {
      throw new ScenarioFormatError(`${fileName} has more than ${count(REQUESTS_LIMITS.requests)} benign prompts, the most the lab reads from one file; split it into smaller files.`);
    }
    return index === 0 ? null : row;
  });
  const columns = header ?? [];
  const column = (name: string) => columns.indexOf(name);
  if (column('goal') < 0) {
    const names = excerpt(columns.join(', '), 120) || 'none';
    throw new ScenarioFormatError(`${fileName} has no "goal" column (its columns are ${names}); add a header row with a goal column holding the benign tasks.`);
  }
  const cell = (row: string[], index: number) => (index >= 0 ? (row[index] ?? '').trim() : '');
  return rows.flatMap((row, i) => {
    const goal = cell(row, column('goal'));
    if (!goal) return [];
    const category = cell(row, column('category'));
    const reference = cell(row, column('reference'));
    const stated = cell(row, column('language'));
    if (stated && stated !== 'en' && stated !== 'ja') {
      throw new ScenarioFormatError(`${fileName} row ${i + 2} has the language "${excerpt(stated, 20)}"; write en or ja, or leave the cell empty.`);
    }
    return [
      {
        id: cell(row, column('id')) || `benign-${i + 1}`,
        ...(category ? { category } : {}),
        language: (stated || language) as Language,
        goal,
        ...(reference ? { reference } : {}),
      },
    ];
  });
}

/**
 * The benign prompts of a CSV or of a requests.json's `benign` list (in `language`). A row without a
 * `language` cell is in `language`. Refuses, in one sentence, a CSV without a `goal` column, a file
 * without prompts, a repeated id and an oversized cell.
 */
export function parseBenign(text: string, fileName: string, language: Language): BenignPrompt[] {
  checkRequestsSize(text.length, fileName);
  const source = text.replace(/^\uFEFF/, '');
  let prompts: BenignPrompt[];
  if (/^\s*[[{]/.test(source)) {
    prompts = parseRequestsFile(source, fileName).benign.map((r) => ({
      id: r.id,
      category: r.category,
      language,
      goal: language === 'ja' ? r.goal_ja : r.goal,
    }));
  } else {
    prompts = csvBenign(source, fileName, language);
  }
  if (prompts.length === 0) throw new ScenarioFormatError(`${fileName} has no benign prompts (no row has a "goal"); add at least one everyday task.`);
  const seen = new Set<string>();
  for (const [i, prompt] of prompts.entries()) {
    for (const field of ['goal', 'reference', 'id', 'category'] as const) {
      const length = prompt[field]?.length ?? 0;
      if (length > REQUESTS_LIMITS.cellChars) {
        throw new ScenarioFormatError(
          `${fileName} benign prompt ${i + 1} has a ${field} of ${count(length)} characters, more than the ${count(REQUESTS_LIMITS.cellChars)} a cell may have; shorten it.`,
        );
      }
    }
    if (seen.has(prompt.id)) throw new ScenarioFormatError(`${fileName} uses the id "${excerpt(prompt.id)}" twice; give every benign prompt its own id.`);
    seen.add(prompt.id);
  }
  return prompts;
}
