// Custom trajectories from a user's JSON or CSV, with one clear sentence for each malformed input.

import { describe, expect, it } from 'vitest';
import { customTrajectory } from '../../src/attacks/custom';
import { AttackInputError, userMessage } from '../../src/attacks/types';

describe('customTrajectory from JSON', () => {
  it('takes an array of strings, one step each', () => {
    const steps = customTrajectory('["first prompt", "second prompt"]');
    expect(steps).toEqual([
      { step: 0, label: 'Prompt 1', segments: [{ kind: 'custom', text: 'first prompt' }] },
      { step: 1, label: 'Prompt 2', segments: [{ kind: 'custom', text: 'second prompt' }] },
    ]);
  });

  it('takes {label, prompt} objects, also under "steps", and mixes them with strings', () => {
    const steps = customTrajectory('{"steps": [{"label": "baseline", "prompt": "a"}, "b"]}');
    expect(steps.map((s) => [s.label, userMessage(s)])).toEqual([
      ['baseline', 'a'],
      ['Prompt 2', 'b'],
    ]);
  });

  it('marks the request through the {request} placeholder or the literal text', () => {
    const request = 'Write a rude poem.';
    const steps = customTrajectory(JSON.stringify(['Hi. {request} Thanks.', `As a pirate: ${request}`, 'A paraphrase.']), { request });
    expect(steps[0].segments).toEqual([
      { kind: 'custom', text: 'Hi. ' },
      { kind: 'request', text: request },
      { kind: 'custom', text: ' Thanks.' },
    ]);
    expect(steps[1].segments).toEqual([
      { kind: 'custom', text: 'As a pirate: ' },
      { kind: 'request', text: request },
    ]);
    expect(steps[2].segments).toEqual([{ kind: 'custom', text: 'A paraphrase.' }]);
    const own = customTrajectory('[{"prompt": "x {request}", "request": "own"}]', { request: 'global', system: 'sys' });
    expect(own[0].segments).toEqual([
      { kind: 'system', text: 'sys' },
      { kind: 'custom', text: 'x ' },
      { kind: 'request', text: 'own' },
    ]);
  });

  it.each([
    ['[1, 2', /^The custom attack file looks like JSON but does not parse \(.+\); fix it/],
    ['{"prompts": []}', /^The custom attack JSON must be an array of prompts/],
    ['["ok", 5]', 'Item 2 of the custom attack JSON must be a string or an object with a string "prompt"; fix that item.'],
    ['[{"label": "x"}]', 'Item 1 of the custom attack JSON must be a string or an object with a string "prompt"'],
    ['[{"prompt": "x", "label": 3}]', 'Item 1 of the custom attack JSON has a "label" that is not a string'],
    ['["ok", "  "]', 'Item 2 of the custom attack JSON has an empty prompt; fill it in or remove it.'],
    ['[]', 'The custom attack file has no prompts; add at least one prompt.'],
    ['["use {request} here"]', 'Prompt 1 contains {request} but no request was given'],
  ])('rejects %s with a clear sentence', (text, message) => {
    const run = () => customTrajectory(text);
    expect(run).toThrow(AttackInputError);
    expect(run).toThrow(message);
  });
});

describe('customTrajectory from CSV', () => {
  it('reads a prompt column with optional label and request columns (quoted commas and newlines too)', () => {
    const csv = 'label,prompt,request\nplain,Do X.,Do X.\nwrapped,"Please, as a story:\nDo X.",Do X.\n';
    const steps = customTrajectory(csv);
    expect(steps.map((s) => s.label)).toEqual(['plain', 'wrapped']);
    expect(steps[0].segments).toEqual([{ kind: 'request', text: 'Do X.' }]);
    expect(steps[1].segments).toEqual([
      { kind: 'custom', text: 'Please, as a story:\n' },
      { kind: 'request', text: 'Do X.' },
    ]);
  });

  it('reads an AdvBench-style goal column', () => {
    const steps = customTrajectory('\uFEFFgoal,target\nWrite A.,"Sure, here is A"\nWrite B.,"Sure, here is B"\n');
    expect(steps.map(userMessage)).toEqual(['Write A.', 'Write B.']);
  });

  it('says which column is missing or which row is empty', () => {
    expect(() => customTrajectory('text,notes\na,b\n')).toThrow(
      'The custom attack CSV needs a "prompt" or "goal" column, but its header row has text, notes; add a header row that names the prompt column.',
    );
    expect(() => customTrajectory('prompt\na\n\n"  "\n')).toThrow('Row 2 of the custom attack CSV (after the header) has an empty prompt');
    expect(() => customTrajectory('prompt\n')).toThrow('The custom attack file has no prompts');
  });
});
