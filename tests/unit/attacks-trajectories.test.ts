// ICA k-shot and template-ladder trajectories: the steps, their segments and their errors.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { icaTrajectory } from '../../src/attacks/ica';
import { ladderTrajectory } from '../../src/attacks/ladder';
import { parseIcaDemosFile, parseRequestsFile, parseTemplatesFile } from '../../src/attacks/scenarios';
import { AttackInputError, systemPrompt, userMessage, type AttackStep } from '../../src/attacks/types';

const read = (name: string) => readFileSync(new URL(`../../public/scenarios/${name}`, import.meta.url), 'utf8');
const demos = parseIcaDemosFile(read('ica-demos.json'));
const { templates } = parseTemplatesFile(read('templates.json'));
const request = parseRequestsFile(read('requests.json')).harmful[0];

const kinds = (step: AttackStep) => step.segments.map((segment) => segment.kind);
const requestSegments = (step: AttackStep) => step.segments.filter((segment) => segment.kind === 'request');

describe('icaTrajectory', () => {
  it('gives steps k = 0…K with k demonstrations before the request', () => {
    const steps = icaTrajectory(request, demos, { maxShots: 4, language: 'en' });
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4]);
    expect(steps.map((s) => s.label)).toEqual(['0-shot', '1-shot', '2-shot', '3-shot', '4-shot']);
    expect(steps[0].segments).toEqual([{ kind: 'request', text: request.goal }]);
    steps.forEach((step, k) => {
      expect(kinds(step).filter((kind) => kind === 'demo')).toHaveLength(k);
      expect(requestSegments(step)).toEqual([{ kind: 'request', text: request.goal }]);
    });
    expect(kinds(steps[2])).toEqual(['demo', 'demo', 'wrapper-before', 'request', 'wrapper-after']);
    expect(userMessage(steps[1])).toBe(`Question: ${demos.demos[0].en.question}\nAnswer: ${demos.demos[0].en.answer}\n\nQuestion: ${request.goal}\nAnswer:`);
  });

  it('writes Japanese steps from the Japanese demos and goal, with a system prompt first', () => {
    const steps = icaTrajectory(request, demos, { maxShots: 2, language: 'ja', system: 'あなたは役に立つアシスタントです。' });
    expect(steps[2].segments[0]).toEqual({ kind: 'system', text: 'あなたは役に立つアシスタントです。' });
    expect(systemPrompt(steps[2])).toBe('あなたは役に立つアシスタントです。');
    expect(userMessage(steps[2])).toContain(demos.demos[1].ja.answer);
    expect(userMessage(steps[2]).endsWith(`質問：${request.goal_ja}\n回答：`)).toBe(true);
    expect(userMessage(steps[0])).toBe(request.goal_ja);
  });

  it('rejects a K larger than the demonstrations loaded, or an empty request', () => {
    expect(() => icaTrajectory('x', demos, { maxShots: demos.demos.length + 1, language: 'en' })).toThrow(AttackInputError);
    expect(() => icaTrajectory('x', demos, { maxShots: 99, language: 'en' })).toThrow(`maxShots is 99 but only ${demos.demos.length} ICA demonstrations are loaded`);
    expect(() => icaTrajectory('x', demos, { maxShots: 1.5, language: 'en' })).toThrow(/^maxShots must be a whole number/);
    expect(() => icaTrajectory('  ', demos, { maxShots: 1, language: 'en' })).toThrow('The request is empty');
  });
});

describe('ladderTrajectory', () => {
  it('gives one step per template, wrapper pieces around the request', () => {
    const steps = ladderTrajectory(request, templates, { language: 'en' });
    expect(steps).toHaveLength(templates.length);
    expect(steps.map((s) => s.label)).toEqual(templates.map((t) => t.name));
    expect(steps[0].segments).toEqual([{ kind: 'request', text: request.goal }]);
    steps.forEach((step, i) => {
      expect(step.step).toBe(i);
      expect(requestSegments(step)).toEqual([{ kind: 'request', text: request.goal }]);
      expect(userMessage(step)).toBe(templates[i].en.before + request.goal + templates[i].en.after);
    });
    const prefix = steps[templates.findIndex((t) => t.id === 'prefix-injection')];
    expect(kinds(prefix)).toEqual(['request', 'wrapper-after']);
  });

  it('uses the Japanese texts and names, and a plain string request as is', () => {
    const steps = ladderTrajectory('テストの依頼', templates, { language: 'ja' });
    expect(steps[1].label).toBe(templates[1].name_ja);
    expect(userMessage(steps[1])).toBe(templates[1].ja.before + 'テストの依頼' + templates[1].ja.after);
  });

  it('rejects an empty ladder', () => {
    expect(() => ladderTrajectory('x', [], { language: 'en' })).toThrow('The template ladder is empty');
  });
});
