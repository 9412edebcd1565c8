// The benign prompts: the shipped file (30+ English and 20+ Japanese everyday tasks), a user's CSV
// with `goal` and optional `reference`, a requests.json's benign controls, and one-sentence refusals.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBenign } from '../../src/attacks/benign';
import { ScenarioFormatError } from '../../src/attacks/scenarios';

const read = (name: string) => readFileSync(new URL(`../../public/scenarios/${name}`, import.meta.url), 'utf8');

describe('benign prompts', () => {
  it('ships at least 30 English and 20 Japanese tasks, each in its own language', () => {
    const prompts = parseBenign(read('benign.csv'), 'benign.csv', 'en');
    const en = prompts.filter((p) => p.language === 'en');
    const ja = prompts.filter((p) => p.language === 'ja');
    expect(en.length).toBeGreaterThanOrEqual(30);
    expect(ja.length).toBeGreaterThanOrEqual(20);
    // Japanese goals are written in Japanese (kana or kanji), English ones in ASCII but for text to translate.
    for (const p of ja) expect(p.goal, p.id).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);
    for (const p of en.filter((p) => p.category !== 'translate')) expect(p.goal.replace(/[^\x00-\x7f]/g, '').length / p.goal.length, p.id).toBeGreaterThan(0.8);
    expect(new Set(prompts.map((p) => p.category)).size).toBeGreaterThanOrEqual(6);
    expect(prompts.some((p) => p.reference)).toBe(true);
    // A code reference keeps its line breaks.
    expect(prompts.find((p) => p.id === 'work-en-06')!.reference).toContain('\n    return');
  });

  it("reads a user's CSV: goal and optional reference; the default language fills empty cells", () => {
    const prompts = parseBenign('goal,reference\nSummarise the memo.,A short summary.\n"Plan a meeting, please.",\n,\n', 'mine.csv', 'ja');
    expect(prompts).toEqual([
      { id: 'benign-1', language: 'ja', goal: 'Summarise the memo.', reference: 'A short summary.' },
      { id: 'benign-2', language: 'ja', goal: 'Plan a meeting, please.' },
    ]);
  });

  it("reads a requests.json's benign controls in the chosen language", () => {
    const ja = parseBenign(read('requests.json'), 'requests.json', 'ja');
    expect(ja.length).toBeGreaterThan(0);
    expect(ja.every((p) => p.language === 'ja' && /[\u3040-\u30ff\u4e00-\u9fff]/.test(p.goal))).toBe(true);
  });

  it('refuses in one sentence a file without a goal column, without prompts, or with a bad language', () => {
    const cases: [string, RegExp][] = [
      ['task,reference\nWrite.,\n', /^mine\.csv has no "goal" column \(its columns are task, reference\); add a header row with a goal column holding the benign tasks\.$/],
      ['id,goal\n', /^mine\.csv has no benign prompts \(no row has a "goal"\); add at least one everyday task\.$/],
      ['', /^mine\.csv has no "goal" column \(its columns are none\)/],
      ['goal,language\nHello.,fr\n', /^mine\.csv row 2 has the language "fr"; write en or ja, or leave the cell empty\.$/],
      ['id,goal\na,One.\na,Two.\n', /uses the id "a" twice/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseBenign(text, 'mine.csv', 'en')).toThrow(ScenarioFormatError);
      expect(() => parseBenign(text, 'mine.csv', 'en')).toThrow(message);
    }
  });
});
