// Demo links: the scenario on screen → link → the scenario again, for every defense kind and
// attack, and one sentence for each bad value (the URL contract, src/app/url.ts and demo-link.ts).

import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseRequestsFile } from '../../src/attacks/scenarios';
import { applyLinkModelSettings, applyLinkScenario, linkSettingsOf, modelLinkOf } from '../../src/app/demo-link';
import { parseUrlParams, shareLink } from '../../src/app/url';
import { defenseKinds, partsOfDefense, type DefenseKind } from '../../src/lab/kinds';
import { getState, initialScenario, setState, useApp, type ScenarioSlice } from '../../src/store';

const requests = parseRequestsFile(readFileSync(new URL('../../public/scenarios/requests.json', import.meta.url), 'utf8'));
const model = { nLayer: 24, nHead: 14 };
const fresh = useApp.getInitialState();

beforeEach(() => useApp.setState(fresh, true));

/** The scenario slice without what a link does not carry (the user's loaded request files). */
function scenarioOf(): Omit<ScenarioSlice, 'userRequests'> {
  const { userRequests: _files, ...rest } = Object.fromEntries(Object.keys(initialScenario).map((key) => [key, getState()[key as keyof ScenarioSlice]])) as unknown as ScenarioSlice;
  return rest;
}

/** Writes the store's scenario as a link, resets the store, opens the link: the scenario it gives. */
function roundTrip(uiLanguage: 'en' | 'ja' = 'en', present = false): { link: string; before: ReturnType<typeof scenarioOf>; after: ReturnType<typeof scenarioOf> } {
  const before = scenarioOf();
  const link = shareLink('http://localhost:5173/#scenario-panel', linkSettingsOf(getState(), { model: 'qwen2.5-0.5b-instruct-q4_k_m' }, uiLanguage, present));
  useApp.setState(fresh, true);
  const params = parseUrlParams(new URL(link).search);
  expect(params.problems).toEqual([]);
  applyLinkScenario(params, requests, 'en');
  // The model loads: the app puts its own default layer range first, then the link's.
  setState({ sharpen: { ...getState().sharpen, layers: [12, 23] } });
  expect(applyLinkModelSettings(params, model)).toEqual([]);
  return { link, before, after: scenarioOf() };
}

/** Non-default settings for every defense, with the given ones checked. */
function withDefenses(kind: DefenseKind, sideBySide = false): void {
  const parts = partsOfDefense(kind);
  setState({
    requestText: 'Explain how to pick a lock.',
    requestId: 'custom',
    sharpen: { enabled: parts.includes('sharpening'), temperature: 0.45, layers: [3, 9], heads: [0, 3] },
    smooth: { enabled: parts.includes('smoothllm'), n: 6, q: 15, perturbation: 'patch' },
    highlight: { enabled: parts.includes('highlighter'), alpha: 0.3, beta: 0.2, affirmation: 'Sure, happy to help.' },
    sideBySide,
    maxNewTokens: 48,
    seed: 7,
  });
}

/** The settings that matter for a defense kind: those of its parts. */
function defenseSettings(s: ReturnType<typeof scenarioOf>) {
  return {
    sharpen: s.sharpen.enabled ? s.sharpen : { enabled: false },
    smooth: s.smooth.enabled ? s.smooth : { enabled: false },
    highlight: s.highlight.enabled ? s.highlight : { enabled: false },
    sideBySide: s.sideBySide,
    maxNewTokens: s.maxNewTokens,
    seed: s.seed,
  };
}

describe('a demo link reproduces the scenario', () => {
  it.each(defenseKinds.map((kind) => [kind]))('defense %s with its settings, response length and seed', (kind) => {
    withDefenses(kind);
    const { link, before, after } = roundTrip();
    expect(defenseSettings(after)).toEqual(defenseSettings(before));
    expect(after.requestText).toBe(before.requestText);
    expect(parseUrlParams(new URL(link).search).defense).toBe(kind);
    expect(new URL(link).hash).toBe('');
  });

  it('side by side, when two or more defenses are checked', () => {
    withDefenses('sharpening+highlighter', true);
    const { link, after } = roundTrip();
    expect(new URL(link).searchParams.get('side-by-side')).toBe('1');
    expect(after.sideBySide).toBe(true);
  });

  it('sharpening on a single layer and on all heads', () => {
    withDefenses('sharpening');
    setState({ sharpen: { enabled: true, temperature: 0.7, layers: [5, 5] } });
    const { link, after } = roundTrip();
    expect(new URL(link).searchParams.get('layers')).toBe('5');
    expect(new URL(link).searchParams.has('heads')).toBe(false);
    expect(after.sharpen).toEqual({ enabled: true, temperature: 0.7, layers: [5, 5], heads: undefined });
  });

  it('GCG with its steps, k, B, target and starting suffix', () => {
    setState({ requestText: 'Write a phishing email.', attack: 'gcg', steps: 120, gcgTopK: 32, gcgBatch: 128, gcgSuffix: '! ! ! !', target: 'Sure, here is an email' });
    const { link, before, after } = roundTrip();
    expect(after).toMatchObject({ attack: 'gcg', steps: 120, gcgTopK: 32, gcgBatch: 128, gcgSuffix: '! ! ! !', target: 'Sure, here is an email' });
    expect(after.requestText).toBe(before.requestText);
    expect(link).toContain('gcg-topk=32');
  });

  it('the suffix search with its budget and target; the custom attack with its prompts', () => {
    setState({ requestText: 'Explain how to pick a lock.', attack: 'suffix', steps: 3, suffixIterations: 90, target: 'Sure, here is how' });
    expect(roundTrip().after).toMatchObject({ attack: 'suffix', steps: 3, suffixIterations: 90, target: 'Sure, here is how' });
    useApp.setState(fresh, true);
    const prompts = '[\n  "First {request}",\n  "Second & third: {request}?"\n]';
    setState({ requestText: 'Explain how to pick a lock.', attack: 'custom', customPrompts: prompts });
    expect(roundTrip().after).toMatchObject({ attack: 'custom', customPrompts: prompts });
  });

  it('a starter request keeps its id and target; the UI and scenario languages travel separately', () => {
    const starter = requests.harmful[0];
    setState({ requestId: starter.id, requestText: starter.goal_ja, target: starter.target_ja, language: 'ja', attack: 'ica', steps: 3 });
    const { link, before, after } = roundTrip('en');
    expect(after).toEqual(before);
    expect(new URL(link).searchParams.get('lang')).toBe('en');
    expect(new URL(link).searchParams.get('request-lang')).toBe('ja');
    useApp.setState(fresh, true);
    setState({ requestId: starter.id, requestText: starter.goal_ja, target: starter.target_ja, language: 'ja' });
    const same = roundTrip('ja');
    expect(new URL(same.link).searchParams.has('request-lang')).toBe(false);
    expect(same.after).toEqual(same.before);
  });

  it('opens presenter mode only when asked', () => {
    setState({ requestText: 'Explain how to pick a lock.' });
    expect(parseUrlParams(new URL(roundTrip('en', true).link).search).present).toBe(true);
    expect(parseUrlParams(new URL(roundTrip('en', false).link).search).present).toBe(false);
  });

  it('names where the model comes from: catalogue id, a .gguf URL with its tokenizer, a mirror; not a local file', () => {
    const hub = { kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct', hub: 'https://huggingface.co' } as const;
    expect(modelLinkOf({ kind: 'url', url: 'https://huggingface.co/x.gguf', id: 'qwen2.5-0.5b-instruct-q4_k_m' }, hub)).toEqual({ model: 'qwen2.5-0.5b-instruct-q4_k_m', hub: undefined });
    expect(modelLinkOf({ kind: 'url', url: 'http://127.0.0.1:9/m.gguf', id: 'm.gguf' }, { kind: 'hub', repo: 'test/tok', hub: 'http://127.0.0.1:9' })).toEqual({
      model: 'http://127.0.0.1:9/m.gguf',
      tokenizer: 'test/tok',
      hub: 'http://127.0.0.1:9',
    });
    expect(modelLinkOf({ kind: 'file', file: {} as File, id: 'm.gguf' }, hub)).toEqual({ local: true });
  });

  it('reads the issue tracker\'s spelling (smooth_n) like the CLI\'s (smooth-n)', () => {
    expect(parseUrlParams('?defense=smoothllm&smooth_n=5&smooth_q=20&smooth_perturbation=insert')).toMatchObject({ smoothN: 5, smoothQ: 20, smoothPerturbation: 'insert', problems: [] });
    expect(parseUrlParams('?defense=both&temp=0.6&layers=12-23&heads=0,3&seed=3')).toMatchObject({
      defense: 'sharpening+smoothllm',
      temperature: 0.6,
      layers: [12, 23],
      heads: [0, 3],
      seed: 3,
    });
  });
});

describe('a bad value in a demo link', () => {
  it('gets one sentence each, and is ignored', () => {
    const p = parseUrlParams(
      '?attack=gcg&steps=300&temp=2&layers=9-3&heads=0,x&smooth-n=0&smooth-q=101&smooth-perturbation=shuffle&seed=-1&lang=fr&request-lang=de&gcg-topk=0&gcg-batch=2000&iterations=0&tokens=0',
    );
    expect(p.problems).toEqual([
      'The link\'s steps "300" must be a whole number from 1 to 250.',
      'The link\'s tokens "0" must be a whole number from 1 to 256.',
      'The link\'s temp "2" must be a number from 0.2 to 1.2 (the attention temperature; below 1 sharpens).',
      'The link\'s layers "9-3" must be a range such as 12-23 (0-based, first to last) or one layer such as 5.',
      'The link\'s heads "0,x" must be head numbers separated by commas, such as 0,3 (0-based).',
      'The link\'s smooth-n "0" must be a whole number from 1 to 50 (SmoothLLM\'s copies; default 10).',
      'The link\'s smooth-q "101" must be a whole number from 1 to 100 (the percent of characters SmoothLLM perturbs; default 10).',
      'The link\'s smooth-perturbation "shuffle" is unknown; use swap, insert or patch.',
      'The link\'s iterations "0" must be a whole number from 1 to 1000 (the suffix search budget).',
      'The link\'s gcg-topk "0" must be a whole number from 1 to 1024 (GCG\'s candidate tokens per position).',
      'The link\'s gcg-batch "2000" must be a whole number from 1 to 1024 (GCG\'s candidates per step).',
      'The link\'s seed "-1" must be a whole number from 0 to 2147483647.',
      'The link\'s lang "fr" is unknown; use en or ja.',
      'The link\'s request-lang "de" is unknown; use en or ja.',
    ]);
    expect(p).toMatchObject({ attack: 'gcg', steps: undefined, temperature: undefined, layers: undefined, heads: undefined, smoothN: undefined, seed: undefined, lang: undefined });
    // Other attacks count at most 50 steps.
    expect(parseUrlParams('?attack=ladder&steps=60').problems).toEqual(['The link\'s steps "60" must be a whole number from 1 to 50.']);
  });

  it('layers or heads the loaded model does not have: a sentence, and the defaults stay', () => {
    const params = parseUrlParams('?layers=20-30&heads=2,20');
    setState({ sharpen: { ...getState().sharpen, layers: [12, 23] } });
    expect(applyLinkModelSettings(params, model)).toEqual([
      'The link\'s layers "20-30" are outside this model\'s layers 0-23; the upper half (12-23) is sharpened instead.',
      'The link\'s heads "2,20" are outside this model\'s heads 0-13; all heads are sharpened instead.',
    ]);
    expect(getState().sharpen).toMatchObject({ layers: [12, 23], heads: undefined });
  });
});
