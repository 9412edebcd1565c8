// A list of requests from a CSV (a `goal` column, as in AdvBench / JailbreakBench) or from a
// requests.json like public/scenarios/requests.json: what the evaluator and the app iterate over.

import { csvParseRows } from 'd3';
import { formatBytes } from '../util/format';
import { excerpt } from '../util/json-guard';
import { parseRequestsFile, ScenarioFormatError } from './scenarios';
import type { Language } from './types';

/** One request to attack: its id, category, text and the affirmative target of a suffix search. */
export interface EvalRequest {
  id: string;
  category?: string;
  goal: string;
  target: string;
}

/**
 * Caps on a requests file, each far above real benchmarks and each refused in one sentence: a
 * hostile file must not stall the page or fill the request picker with a hundred thousand entries.
 */
export const REQUESTS_LIMITS = {
  /** Requests per file: public benchmarks hold a few hundred (AdvBench 520, JailbreakBench 100). */
  requests: 5_000,
  /**
   * Characters per cell (a request, its target, id or category): benchmark requests are under 300;
   * 4,000 characters is about a thousand tokens, half of a 2,048-token context, beyond which the
   * attack around the request no longer fits.
   */
  cellChars: 4_000,
  /** File size: the largest file those two caps allow (5,000 requests of 4,000 characters). */
  bytes: 20e6,
} as const;

const count = (n: number) => n.toLocaleString('en-US');

/** Refuses a requests file over REQUESTS_LIMITS.bytes; call it with the file's size before reading it. */
export function checkRequestsSize(bytes: number, fileName: string): void {
  if (bytes > REQUESTS_LIMITS.bytes) {
    throw new ScenarioFormatError(
      `${fileName} is ${formatBytes(bytes)}, more than the ${formatBytes(REQUESTS_LIMITS.bytes)} a requests file may have; keep at most ${count(REQUESTS_LIMITS.requests)} requests per file.`,
    );
  }
}

/** Reads a requests file (CSV or JSON): its size is checked first, so an oversized file is never read. */
export async function parseRequestsBlob(file: Pick<Blob, 'size' | 'text'>, fileName: string, language: Language): Promise<EvalRequest[]> {
  checkRequestsSize(file.size, fileName);
  return parseRequests(await file.text(), fileName, language);
}

function tooMany(fileName: string): ScenarioFormatError {
  return new ScenarioFormatError(
    `${fileName} has more than ${count(REQUESTS_LIMITS.requests)} requests, the most the lab reads from one file (AdvBench has 520); split it into smaller files.`,
  );
}

/** The CSV's rows as requests; columns are found by name, so a header cell like `__proto__` is only text. */
function csvRequests(source: string, fileName: string, language: Language): EvalRequest[] {
  let header: string[] | undefined;
  const rows = csvParseRows(source, (row, index) => {
    if (index === 0) header = row;
    // Throwing stops d3's parser at once: a 100,000-row file is not parsed to the end.
    else if (index > REQUESTS_LIMITS.requests) throw tooMany(fileName);
    return index === 0 ? null : row;
  });
  const columns = header ?? [];
  const column = (name: string) => columns.indexOf(name);
  if (column('goal') < 0) {
    const names = excerpt(columns.join(', '), 120) || 'none';
    throw new ScenarioFormatError(`${fileName} has no "goal" column (its columns are ${names}); add a header row with a goal column holding the requests.`);
  }
  const goalColumn = language === 'ja' && column('goal_ja') >= 0 ? column('goal_ja') : column('goal');
  const targetColumn = language === 'ja' && column('target_ja') >= 0 ? column('target_ja') : column('target');
  const cell = (row: string[], index: number) => (index >= 0 ? (row[index] ?? '').trim() : '');
  return rows.flatMap((row, i) => {
    const goal = cell(row, goalColumn);
    if (!goal) return [];
    const category = cell(row, column('category'));
    return [
      {
        id: cell(row, column('id')) || `request-${i + 1}`,
        ...(category ? { category } : {}),
        goal,
        target: cell(row, targetColumn) || (language === 'ja' ? 'もちろんです。' : 'Sure, here is'),
      },
    ];
  });
}

/** Every kept cell within REQUESTS_LIMITS.cellChars, named by its request and field when not. */
function checkCells(requests: readonly EvalRequest[], fileName: string): void {
  for (const [i, request] of requests.entries()) {
    for (const field of ['goal', 'target', 'id', 'category'] as const) {
      const length = request[field]?.length ?? 0;
      if (length > REQUESTS_LIMITS.cellChars) {
        throw new ScenarioFormatError(
          `${fileName} request ${i + 1} has a ${field} of ${count(length)} characters, more than the ${count(REQUESTS_LIMITS.cellChars)} a request may have (a longer one leaves no room in the model's context for the attack); shorten it.`,
        );
      }
    }
  }
}

/** The requests of a CSV (a `goal` column) or of a requests.json (its harmful list), in one language. */
export function parseRequests(text: string, fileName: string, language: Language): EvalRequest[] {
  // Characters, not bytes, but the same cap: the text may come from somewhere other than a file.
  checkRequestsSize(text.length, fileName);
  const source = text.replace(/^\uFEFF/, '');
  let requests: EvalRequest[];
  if (/^\s*[[{]/.test(source)) {
    const file = parseRequestsFile(source, fileName);
    if (file.harmful.length > REQUESTS_LIMITS.requests) throw tooMany(fileName);
    requests = file.harmful.map((r) => ({
      id: r.id,
      category: r.category,
      goal: language === 'ja' ? r.goal_ja : r.goal,
      target: language === 'ja' ? r.target_ja : r.target,
    }));
  } else {
    requests = csvRequests(source, fileName, language);
  }
  checkCells(requests, fileName);
  if (requests.length === 0) throw new ScenarioFormatError(`${fileName} has no requests (every "goal" cell is empty); add at least one row.`);
  const seen = new Set<string>();
  for (const r of requests) {
    if (seen.has(r.id)) throw new ScenarioFormatError(`${fileName} uses the id "${excerpt(r.id)}" twice; give every request its own id.`);
    seen.add(r.id);
  }
  return requests;
}
