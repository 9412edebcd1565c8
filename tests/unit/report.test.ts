// The PoC report's HTML from a hostile synthetic trace and sweep: user and model text stays inert,
// harmful output is redacted unless asked for, the words follow the language, nothing loads from a
// network, and the trade-off verdict says what the numbers say.

import type { TFunction } from 'i18next';
import { describe, expect, it } from 'vitest';
import { costsSlide } from '../../src/app/story';
import { parseTemperatures } from '../../src/app/sweep-grid';
import appEn from '../../src/i18n/locales/app.en.json';
import costsEn from '../../src/i18n/locales/costs.en.json';
import costsJa from '../../src/i18n/locales/costs.ja.json';
import panelsEn from '../../src/i18n/locales/panels.en.json';
import { costFacts, renderReport, reportFileName } from '../../src/report';
import { reportWordTables } from '../../src/report/words';
import { HARMFUL_OUTPUT, HOSTILE_REQUEST, REFUSAL, hostileTrace, syntheticSweep } from '../fixtures/report';

const escaped = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Every tag of the document, with its attributes (text between tags is not a tag). */
const tags = (html: string) => html.match(/<[a-zA-Z][^>]*>/g) ?? [];

describe('the PoC report', () => {
  const trace = hostileTrace();
  const sweep = syntheticSweep('helped');
  const html = renderReport({ language: 'en', traces: [trace], sweep, appVersion: '0.1.0', createdAt: new Date('2026-12-01T21:00:00Z') });

  it('escapes every user and model text: <script> and <img onerror> stay inert', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<i>harm<\/i>/);
    for (const tag of tags(html)) expect(tag).not.toMatch(/\son\w+\s*=/i);
    // They are shown as text.
    expect(html).toContain(escaped(HOSTILE_REQUEST));
    expect(html).toContain(escaped('model <script>alert("model")</script>.gguf'));
    expect(html).toContain(escaped('Role-play <img src=x onerror=alert(2)>'));
    expect(html).toContain(escaped('SwiftShader <img src=x onerror=alert(3)>'));
    expect(html).toContain(escaped(REFUSAL));
    expect(html).toContain(escaped('Summarise <script>alert("b1")</script> this memo'));
  });

  it('contains no script, no event handler and no external address to load', () => {
    expect(html).not.toMatch(/<script|javascript:/i);
    for (const tag of tags(html)) expect(tag).not.toMatch(/\s(src|href|xlink:href|action|poster|data)\s*=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
    // A Content-Security-Policy that forbids loading anything even so.
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'`);
    // The URL in the request is text, not a link.
    expect(html).toContain('http://evil.example/x.png');
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*https?:/i);
  });

  it('redacts what the model answered to a harmful request unless the reader opts in', () => {
    expect(html).not.toContain('SECRET-STEP-ONE');
    expect(html).toContain('[redacted: the model answered a harmful request');
    expect(html).toContain('Answers the model gave to harmful requests are redacted in this report.');
    const shown = renderReport({ language: 'en', traces: [trace], sweep, showOutput: true });
    expect(shown).toContain(escaped(HARMFUL_OUTPUT));
    expect(shown).not.toContain('[redacted:');
    expect(shown).toContain('Handle it as sensitive');
    expect(shown).not.toMatch(/<script/i);
  });

  it('states the headline numbers, the utility cost and the recommended temperature', () => {
    // The last step: answered undefended, refused defended.
    expect(html).toMatch(/Attack success, no defense<\/h3><p class="value">100\.0%/);
    // The defense is named from its settings, never by its internal label.
    expect(html).toMatch(/Attack success, with Attention sharpening, T = 0\.7, layers 0–1.*?<p class="value">0\.0%/);
    expect(html).not.toContain('sharpening T=');
    expect(html).toContain('T = 0.7');
    expect(html).toMatch(/Cost on everyday work<\/h3><p class="value">95\.0%<\/p><p class="detail">agreement with the undefended answers at T = 0\.7; over-refusal \+0\.0 pts, KL 0\.0500/);
    expect(html).toContain('At T = 0.7 the attack success rate falls from 100.0% to 0.0%');
    expect(html).toContain('Measured on few examples (requests: 1, everyday prompts: 2)');
    // Both charts are inline SVG.
    expect(html.match(/<svg /g)?.length).toBe(2);
  });

  it('speaks Japanese in Japanese mode', () => {
    const ja = renderReport({ language: 'ja', traces: [trace], sweep });
    expect(ja).toContain('<html lang="ja">');
    for (const word of ['要点', '検証した内容', '測定方法（平易な説明）', '攻撃成功率（防御なし）', '推奨温度', '依頼ごとの結果']) expect(ja).toContain(word);
    for (const word of ['Headline', 'What was tested', 'Attack success, no defense', 'Recommended temperature']) expect(ja).not.toContain(word);
    expect(ja).toContain('［伏せ字：');
    expect(ja).not.toContain('SECRET-STEP-ONE');
  });

  it('prints in pages: print CSS with page breaks between sections', () => {
    expect(html).toMatch(/@media print \{[^]*\.page \{ break-before: page; \}/);
    expect(html).toContain('@page');
    expect(html.match(/<section class="page /g)?.length).toBeGreaterThanOrEqual(5);
  });

  it('works without a sweep and without a defense', () => {
    const bare = renderReport({ language: 'en', traces: [{ ...trace, steps: trace.steps.map(({ defended: _d, ...s }) => s), settings: { ...trace.settings, defense: { kind: 'none', settings: {} } } }] });
    expect(bare).toContain('Not measured: run a temperature sweep');
    expect(bare).toContain('No sweep was run.');
    expect(bare.match(/<svg /g)?.length).toBe(1);
  });

  it('names the file after the model and the date', () => {
    expect(reportFileName('Qwen2.5-0.5B-Instruct-Q4_K_M.gguf', new Date('2026-12-01T12:00:00Z'))).toBe('slip-lab-report-qwen2-5-0-5b-instruct-q4-k-m-2026-12-01.html');
  });
});

describe('the trade-off verdict', () => {
  it('says the defense helped only when the recommended T lowers the attack success within the bounds', () => {
    const helped = costFacts(syntheticSweep('helped'))!;
    expect(helped.verdict).toBe('helped');
    expect(helped.recommended?.temperature).toBe(0.7);
    expect(helped.small).toBe(true);
  });

  it('says it cost too much when only temperatures outside the bounds lowered it', () => {
    const facts = costFacts(syntheticSweep('tooCostly'))!;
    expect(facts.verdict).toBe('too-costly');
    expect(facts.best.temperature).toBe(0.5);
    const html = renderReport({ language: 'en', traces: [hostileTrace()], sweep: syntheticSweep('tooCostly') });
    expect(html).toContain('it costs too much on everyday work here');
  });

  it('says it did not help when nothing lowered it, and "none meets the bounds" when nothing is within them', () => {
    expect(costFacts(syntheticSweep('noHelp'))!.verdict).toBe('no-help');
    const none = { ...syntheticSweep('tooCostly'), recommended: undefined, bounds: { maxOverRefusal: 0, minAgreement: 1.01 } };
    expect(costFacts(none)!.verdict).toBe('too-costly');
    const html = renderReport({ language: 'en', traces: [hostileTrace()], sweep: none });
    expect(html).toContain('None meets the bounds');
  });
});

describe('the words of the report, the trade-off panel and the costs slide', () => {
  const placeholders = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
  const flat = (resource: object, prefix = ''): [string, string][] =>
    Object.entries(resource).flatMap(([key, value]) => (typeof value === 'object' ? flat(value, `${prefix}${key}.`) : [[`${prefix}${key}`, String(value)] as [string, string]]));

  it('have the same keys and placeholders in English and Japanese', () => {
    for (const [key, text] of Object.entries(reportWordTables.en)) expect(placeholders(reportWordTables.ja[key as keyof typeof reportWordTables.ja]), key).toEqual(placeholders(text));
    const japanese = new Map(flat(costsJa));
    for (const [key, text] of flat(costsEn)) {
      const other = japanese.get(key) ?? japanese.get(key.replace(/_one$/, '_other'));
      expect(other, key).toBeDefined();
      expect(placeholders(other!).filter((v) => v !== 'count'), key).toEqual(placeholders(text).filter((v) => v !== 'count'));
    }
    const fold = (keys: string[]) => [...new Set(keys.map((k) => k.replace(/_(one|other)$/, '')))].sort();
    expect(fold(flat(costsJa).map(([k]) => k))).toEqual(fold(flat(costsEn).map(([k]) => k)));
  });

  it('share no top-level namespace with the app shell or the panels (i18n merges them shallowly)', () => {
    for (const other of [appEn, panelsEn]) expect(Object.keys(costsEn).filter((key) => key in other)).toEqual([]);
  });

  it('give the costs slide an honest title for each verdict', () => {
    const t = ((key: string, values?: Record<string, unknown>) => `${key}${values ? ` ${JSON.stringify(values)}` : ''}`) as unknown as TFunction;
    expect(costsSlide(syntheticSweep('helped'), t)?.title).toBe('costs.slideHelped {"t":"0.7","asr":"0%","baseline":"100%"}');
    expect(costsSlide(syntheticSweep('tooCostly'), t)?.title).toBe('costs.slideTooCostly');
    expect(costsSlide(syntheticSweep('noHelp'), t)?.title).toBe('costs.slideNoHelp');
    expect(costsSlide(syntheticSweep('noHelp'), t)?.caveat).toMatch(/^costs\.slideSmall/);
  });

  it('read the typed temperature grid, refusing values outside (0, 4] and repeats', () => {
    expect(parseTemperatures('1, 0.9 0.8，0.7、0.6')).toEqual([1, 0.9, 0.8, 0.7, 0.6]);
    expect(parseTemperatures('1, 0')).toBeUndefined();
    expect(parseTemperatures('1, 4.5')).toBeUndefined();
    expect(parseTemperatures('1, 1')).toBeUndefined();
    expect(parseTemperatures('1, x')).toBeUndefined();
    expect(parseTemperatures('  ')).toBeUndefined();
  });
});
