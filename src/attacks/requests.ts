// A list of requests from a CSV (a `goal` column, as in AdvBench / JailbreakBench) or from a
// requests.json like public/scenarios/requests.json: what the evaluator and the app iterate over.

import { csvParse } from 'd3';
import { parseRequestsFile, ScenarioFormatError } from './scenarios';
import type { Language } from './types';

/** One request to attack: its id, category, text and the affirmative target of a suffix search. */
export interface EvalRequest {
  id: string;
  category?: string;
  goal: string;
  target: string;
}

/** The requests of a CSV (a `goal` column) or of a requests.json (its harmful list), in one language. */
export function parseRequests(text: string, fileName: string, language: Language): EvalRequest[] {
  const source = text.replace(/^\uFEFF/, '');
  if (/^\s*[[{]/.test(source)) {
    const file = parseRequestsFile(source, fileName);
    return file.harmful.map((r) => ({
      id: r.id,
      category: r.category,
      goal: language === 'ja' ? r.goal_ja : r.goal,
      target: language === 'ja' ? r.target_ja : r.target,
    }));
  }
  const rows = csvParse(source);
  const goalColumn = language === 'ja' && rows.columns.includes('goal_ja') ? 'goal_ja' : 'goal';
  if (!rows.columns.includes('goal')) {
    throw new ScenarioFormatError(`${fileName} has no "goal" column (its columns are ${rows.columns.join(', ') || 'none'}); add a header row with a goal column holding the requests.`);
  }
  const targetColumn = language === 'ja' && rows.columns.includes('target_ja') ? 'target_ja' : 'target';
  const requests = rows.flatMap((row, i) => {
    const goal = row[goalColumn]?.trim();
    if (!goal) return [];
    return [
      {
        id: row.id?.trim() || `request-${i + 1}`,
        ...(row.category?.trim() ? { category: row.category.trim() } : {}),
        goal,
        target: row[targetColumn]?.trim() || (language === 'ja' ? 'もちろんです。' : 'Sure, here is'),
      },
    ];
  });
  if (requests.length === 0) throw new ScenarioFormatError(`${fileName} has no requests (every "goal" cell is empty); add at least one row.`);
  const seen = new Set<string>();
  for (const r of requests) {
    if (seen.has(r.id)) throw new ScenarioFormatError(`${fileName} uses the id "${r.id}" twice; give every request its own id.`);
    seen.add(r.id);
  }
  return requests;
}
