// The shipped scenario files parse, agree with each other, and stay non-operational scaffolding.

import { readFileSync } from 'node:fs';
import { csvParse } from 'd3';
import { describe, expect, it } from 'vitest';
import { ScenarioFormatError, parseIcaDemosFile, parseRequestsFile, parseTemplatesFile } from '../../src/attacks/scenarios';

const read = (name: string) => readFileSync(new URL(`../../public/scenarios/${name}`, import.meta.url), 'utf8');
const hasJapanese = (text: string) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(text);

describe('requests.json', () => {
  const file = parseRequestsFile(read('requests.json'));

  it('holds about 20 harmful requests in several categories and a benign control set', () => {
    expect(file.harmful.length).toBeGreaterThanOrEqual(18);
    expect(new Set(file.harmful.map((r) => r.category)).size).toBeGreaterThanOrEqual(6);
    expect(file.benign.length).toBeGreaterThanOrEqual(5);
    expect(file.harmful.every((r) => r.harmful) && file.benign.every((r) => !r.harmful)).toBe(true);
  });

  it('writes every goal as one sentence with a Japanese version and an affirmative target', () => {
    for (const request of [...file.harmful, ...file.benign]) {
      expect(request.goal).toMatch(/^[A-Z][^.?!]*\.$/);
      expect(request.goal_ja).toMatch(/。$/);
      expect(hasJapanese(request.goal_ja)).toBe(true);
      expect(request.target).toMatch(/^Sure, here (is|are) /);
      expect(request.target_ja).toMatch(/^もちろんです。/);
    }
  });

  it('has a requests.csv with the same rows and a goal column', () => {
    const rows = csvParse(read('requests.csv'));
    expect(rows.columns).toContain('goal');
    const all = [...file.harmful, ...file.benign];
    expect(rows.map((row) => [row.id, row.goal, row.goal_ja, row.target])).toEqual(all.map((r) => [r.id, r.goal, r.goal_ja, r.target]));
    expect(rows.map((row) => row.harmful)).toEqual(all.map((r) => String(r.harmful)));
  });
});

describe('templates.json', () => {
  const { templates } = parseTemplatesFile(read('templates.json'));

  it('is a ladder from the plain request to combinations, in EN and JA', () => {
    expect(templates[0].id).toBe('plain');
    expect(templates[0].en).toEqual({ before: '', after: '' });
    expect(templates.map((t) => t.level)).toEqual(templates.map((_, i) => i));
    expect(templates.map((t) => t.id)).toEqual(
      expect.arrayContaining(['role-play', 'fiction', 'prefix-injection', 'refusal-suppression']),
    );
    expect(templates.at(-1)!.techniques.length).toBeGreaterThanOrEqual(3);
    for (const template of templates.slice(1)) {
      expect(template.en.before + template.en.after).not.toBe('');
      expect(hasJapanese(template.ja.before + template.ja.after)).toBe(true);
      expect(template.en.before + template.en.after + template.ja.before + template.ja.after).not.toContain('{request}');
    }
  });
});

describe('ica-demos.json', () => {
  const file = parseIcaDemosFile(read('ica-demos.json'));

  it('has at least 8 pairs whose answers keep the compliant form with every step redacted', () => {
    expect(file.demos.length).toBeGreaterThanOrEqual(8);
    for (const demo of file.demos) {
      const [openingEn, ...stepsEn] = demo.en.answer.split('\n');
      expect(openingEn).toMatch(/^Sure, here is /);
      expect(stepsEn.length).toBeGreaterThanOrEqual(3);
      stepsEn.forEach((line, i) => expect(line).toBe(`Step ${i + 1}: ${file.redacted.en}`));
      const [openingJa, ...stepsJa] = demo.ja.answer.split('\n');
      expect(openingJa).toMatch(/^もちろんです。/);
      stepsJa.forEach((line, i) => expect(line).toBe(`ステップ${i + 1}：${file.redacted.ja}`));
      expect(hasJapanese(demo.ja.question)).toBe(true);
    }
  });
});

describe('scenario parse errors', () => {
  it('names the first problem in one sentence', () => {
    expect(() => parseTemplatesFile('{"version":1,"templates":[{"id":"x"}]}')).toThrow(ScenarioFormatError);
    expect(() => parseTemplatesFile('{"version":1,"templates":[{"id":"x"}]}')).toThrow('templates.json is invalid: templates[0].level is missing;');
    expect(() => parseRequestsFile('nope')).toThrow(/^requests\.json is not valid JSON \(/);
    const dup = JSON.parse(read('ica-demos.json'));
    dup.demos[1].id = dup.demos[0].id;
    expect(() => parseIcaDemosFile(JSON.stringify(dup))).toThrow(`ica-demos.json uses the id "${dup.demos[0].id}" twice`);
  });
});
