// Pure parts of the app: the URL contract, request files and display labels (the presenter's story:
// presenter-story.test.ts).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRequests } from '../../src/attacks/requests';
import { parseUrlParams, shareLink } from '../../src/app/url';

describe('URL contract', () => {
  it('reads ?model=&tokenizer=&hub= and the scenario parameters', () => {
    const p = parseUrlParams('?model=qwen2.5-0.5b-instruct-q8_0&tokenizer=Qwen%2FQwen2.5-0.5B-Instruct&hub=http%3A%2F%2F127.0.0.1%3A8080&request=Explain%20it.&attack=ica&steps=3&tokens=8&run=1');
    expect(p).toMatchObject({
      model: 'qwen2.5-0.5b-instruct-q8_0',
      tokenizer: 'Qwen/Qwen2.5-0.5B-Instruct',
      hub: 'http://127.0.0.1:8080',
      request: 'Explain it.',
      attack: 'ica',
      steps: 3,
      tokens: 8,
      run: true,
      problems: [],
    });
    expect(parseUrlParams('').run).toBe(false);
  });

  it('names each bad parameter in a sentence and ignores it', () => {
    const p = parseUrlParams('?attack=autodan&steps=0&tokens=many');
    expect(p.attack).toBeUndefined();
    expect(p.steps).toBeUndefined();
    expect(p.problems).toEqual([
      'The link\'s attack "autodan" is unknown; use ladder, ica, suffix, gcg, custom or none.',
      'The link\'s steps "0" must be a whole number from 1 to 50.',
      'The link\'s tokens "many" must be a whole number from 1 to 256.',
    ]);
  });

  it('reads a GCG link with its step count', () => {
    expect(parseUrlParams('?attack=gcg&steps=3&run=1')).toMatchObject({ attack: 'gcg', steps: 3, run: true, problems: [] });
  });

  it('reads a Token Highlighter link with α and β, and names bad ones', () => {
    expect(parseUrlParams('?defense=highlighter&th-alpha=0.5&th-beta=0.25')).toMatchObject({ defense: 'highlighter', thAlpha: 0.5, thBeta: 0.25, problems: [] });
    expect(parseUrlParams('?defense=sharpen%2Bhighlighter').defense).toBe('sharpening+highlighter');
    expect(parseUrlParams('?th-beta=0').thBeta).toBe(0);
    const bad = parseUrlParams('?defense=shield&th-alpha=0&th-beta=2');
    expect(bad.defense).toBeUndefined();
    expect(bad.thAlpha).toBeUndefined();
    expect(bad.thBeta).toBeUndefined();
    expect(bad.problems).toEqual([
      expect.stringMatching(/^The link's defense "shield" is unknown; use none, sharpen, .*highlighter.*\.$/),
      expect.stringMatching(/^The link's th-alpha "0" must be a number above 0 and at most 1/),
      expect.stringMatching(/^The link's th-beta "2" must be a number from 0 to 1/),
    ]);
    const link = shareLink('http://localhost:5173/', { model: 'm', defense: 'sharpening+highlighter', thAlpha: 0.3, thBeta: 0.6 });
    expect(parseUrlParams(new URL(link).search)).toMatchObject({ defense: 'sharpening+highlighter', thAlpha: 0.3, thBeta: 0.6 });
  });

  it('writes a share link the parser reads back', () => {
    const link = shareLink('http://localhost:5173/?old=1', { model: 'm', request: 'A & B?', attack: 'ladder', steps: 4, run: true });
    expect(parseUrlParams(new URL(link).search)).toMatchObject({ model: 'm', request: 'A & B?', attack: 'ladder', steps: 4, run: true });
    expect(link).not.toContain('old=1');
  });
});

describe('request files', () => {
  it('reads the starter requests.json (harmful ones) and the CSV twin in both languages', () => {
    const json = parseRequests(readFileSync('public/scenarios/requests.json', 'utf8'), 'requests.json', 'ja');
    const csv = parseRequests(readFileSync('public/scenarios/requests.csv', 'utf8'), 'requests.csv', 'ja');
    expect(json.length).toBeGreaterThanOrEqual(20);
    expect(csv.slice(0, json.length).map((r) => r.goal)).toEqual(json.map((r) => r.goal));
    expect(json[0].goal).toMatch(/[ぁ-んァ-ン一-龯]/);
  });

  it('takes a plain goal column, fills ids and the default target, and rejects a file without goals', () => {
    const requests = parseRequests('goal\nFirst request\n\nSecond request\n', 'mine.csv', 'en');
    expect(requests).toEqual([
      { id: 'request-1', goal: 'First request', target: 'Sure, here is' },
      { id: 'request-3', goal: 'Second request', target: 'Sure, here is' },
    ]);
    expect(() => parseRequests('prompt\nx\n', 'bad.csv', 'en')).toThrow('bad.csv has no "goal" column (its columns are prompt); add a header row with a goal column holding the requests.');
  });
});

describe('display labels', () => {
  it('translates only the runner\'s own English step labels', async () => {
    const { default: i18n } = await import('i18next');
    const { resources } = await import('../../src/i18n');
    const ja = i18n.createInstance();
    await ja.init({ lng: 'ja', resources });
    const { localStepLabel } = await import('../../src/app/labels');
    const t = ja.t.bind(ja) as Parameters<typeof localStepLabel>[1];
    expect(localStepLabel('no attack', t)).toBe('攻撃なし');
    expect(localStepLabel('initial suffix', t)).toBe('初期サフィックス');
    expect(localStepLabel('improvement 12', t)).toBe('改善 12');
    expect(localStepLabel('GCG step 7', t)).toBe('GCG ステップ 7');
    expect(localStepLabel('3-shot', t)).toBe('例示 3 件');
    expect(localStepLabel('ロールプレイ', t)).toBe('ロールプレイ');
  });
});
