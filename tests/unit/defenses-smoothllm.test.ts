// SmoothLLM: the three perturbations at rate q, determinism per seed, segment-preserving copies, the vote.

import { describe, expect, it } from 'vitest';
import { userMessage, type AttackStep } from '../../src/attacks/types';
import { DefenseConfigError } from '../../src/defenses/errors';
import {
  PRINTABLE,
  majorityVote,
  perturb,
  perturbSegments,
  perturbationCount,
  smoothCopies,
  smoothStepCopies,
} from '../../src/defenses/smoothllm';
import { mulberry32 } from '../../src/util/random';

const text = 'Write a short story about a dragon who learns to bake bread in a small village.'; // 80 characters
const differing = (a: string, b: string) => [...a].filter((char, i) => char !== b[i]).length;
const changedPositions = (a: string, b: string) => [...a].flatMap((char, i) => (char !== b[i] ? [i] : []));

describe('perturb', () => {
  it('counts ⌈q% · length⌉ characters', () => {
    expect(perturbationCount(80, 10)).toBe(8);
    expect(perturbationCount(30, 10)).toBe(3);
    expect(perturbationCount(81, 10)).toBe(9);
    expect(perturbationCount(5, 1)).toBe(1);
    expect(perturbationCount(5, 0)).toBe(0);
    expect(perturbationCount(7, 100)).toBe(7);
  });

  it('swap replaces exactly that many positions (at most, where a random character equals the old one)', () => {
    const alphabet = '#'; // never in the text, so every replaced character shows
    for (const seed of [1, 2, 3]) {
      const copy = perturb(text, { q: 10, kind: 'swap', alphabet }, mulberry32(seed));
      expect(copy).toHaveLength(text.length);
      expect(differing(copy, text)).toBe(8);
    }
    const printable = perturb(text, { q: 10, kind: 'swap' }, mulberry32(4));
    expect(differing(printable, text)).toBeLessThanOrEqual(8);
    expect([...printable].every((char, i) => char === text[i] || PRINTABLE.includes(char))).toBe(true);
  });

  it('patch replaces one contiguous run of that length', () => {
    for (const seed of [1, 2, 3, 4]) {
      const copy = perturb(text, { q: 20, kind: 'patch', alphabet: '#' }, mulberry32(seed));
      const changed = changedPositions(copy, text);
      expect(copy).toHaveLength(text.length);
      expect(changed).toHaveLength(16);
      expect(changed.at(-1)! - changed[0]).toBe(15);
    }
  });

  it('insert grows the text by exactly that many characters and keeps the original in order', () => {
    const copy = perturb(text, { q: 10, kind: 'insert', alphabet: '#' }, mulberry32(9));
    expect(copy).toHaveLength(text.length + 8);
    expect(copy.replaceAll('#', '')).toBe(text);
  });

  it('is deterministic for a seed and leaves the text alone at q = 0', () => {
    for (const kind of ['swap', 'insert', 'patch'] as const) {
      expect(perturb(text, { q: 10, kind }, mulberry32(5))).toBe(perturb(text, { q: 10, kind }, mulberry32(5)));
      expect(perturb(text, { q: 10, kind }, mulberry32(5))).not.toBe(perturb(text, { q: 10, kind }, mulberry32(6)));
      expect(perturb(text, { q: 0, kind }, mulberry32(5))).toBe(text);
    }
  });

  it('never splits a character outside the basic plane', () => {
    const emoji = '🙂'.repeat(20);
    const copy = perturb(emoji, { q: 50, kind: 'swap', alphabet: '#' }, mulberry32(1));
    expect([...copy].filter((char) => char === '#')).toHaveLength(10);
    expect([...copy].filter((char) => char === '🙂')).toHaveLength(10);
  });

  it('rejects a rate outside 0–100 or an unknown kind', () => {
    expect(() => perturb(text, { q: 120, kind: 'swap' }, mulberry32(1))).toThrow(DefenseConfigError);
    expect(() => perturb(text, { q: 120, kind: 'swap' }, mulberry32(1))).toThrow('The SmoothLLM perturbation rate q must be a percentage from 0 to 100, not 120');
    expect(() => perturb(text, { q: 10, kind: 'shuffle' as 'swap' }, mulberry32(1))).toThrow('The SmoothLLM perturbation "shuffle" is unknown; use swap, insert or patch.');
  });
});

describe('smoothCopies', () => {
  it('makes N copies (default 10) deterministically for a seed', () => {
    const copies = smoothCopies(text, { seed: 3 });
    expect(copies).toHaveLength(10);
    expect(new Set(copies).size).toBe(10);
    expect(smoothCopies(text, { seed: 3 })).toEqual(copies);
    expect(smoothCopies(text, { seed: 4 })).not.toEqual(copies);
    expect(smoothCopies(text, { n: 3, q: 5, kind: 'insert', seed: 3 }).every((copy) => copy.length === text.length + 4)).toBe(true);
    expect(() => smoothCopies(text, { n: 0, seed: 1 })).toThrow('SmoothLLM needs a whole number of copies of 1 or more, not 0');
  });
});

describe('perturbSegments', () => {
  const step: AttackStep = {
    step: 3,
    label: 'refusal suppression',
    segments: [
      { kind: 'system', text: 'You are a helpful assistant.' },
      { kind: 'wrapper-before', text: 'Rules: be brief.\nRequest: ' },
      { kind: 'request', text: 'Explain how to do a harmful thing.' },
      { kind: 'suffix', text: ' !!', tokenIds: [1, 1] },
    ],
  };

  it('perturbs the whole user message exactly as perturb does, keeps the system prompt, and keeps segment boundaries', () => {
    for (const kind of ['swap', 'insert', 'patch'] as const) {
      const perturbed = perturbSegments(step.segments, { q: 10, kind }, mulberry32(8));
      expect(perturbed.map((s) => s.text).slice(1).join('')).toBe(perturb(userMessage(step), { q: 10, kind }, mulberry32(8)));
      expect(perturbed[0]).toEqual(step.segments[0]);
      expect(perturbed.map((s) => s.kind)).toEqual(step.segments.map((s) => s.kind));
      expect(perturbed.some((s) => 'tokenIds' in s)).toBe(false);
      if (kind !== 'insert') perturbed.forEach((s, i) => expect(s.text).toHaveLength(step.segments[i].text.length));
    }
  });

  it('gives every segment its own inserted characters', () => {
    const perturbed = perturbSegments(step.segments, { q: 30, kind: 'insert', alphabet: '#' }, mulberry32(2));
    perturbed.forEach((s, i) => expect(s.text.replaceAll('#', '')).toBe(step.segments[i].text));
  });

  it('makes step copies labelled by copy', () => {
    const copies = smoothStepCopies(step, { n: 4, seed: 1 });
    expect(copies.map((c) => c.label)).toEqual([1, 2, 3, 4].map((i) => `refusal suppression · copy ${i}`));
    expect(copies.every((c) => c.step === 3)).toBe(true);
    expect(smoothStepCopies(step, { n: 4, seed: 1 })).toEqual(copies);
  });
});

describe('majorityVote', () => {
  it.each([
    [['complied', 'complied', 'refused'], true, 2 / 3, [0, 1]],
    [['refused', 'complied', 'refused'], false, 1 / 3, [0, 2]],
    [['complied', 'refused'], false, 0.5, [1]], // a tie is not jailbroken
    [['complied', 'complied', 'refused', 'refused'], false, 0.5, [2, 3]],
    [['complied'], true, 1, [0]],
    [['refused'], false, 0, [0]],
  ] as const)('%o → jailbroken %s', (verdicts, jailbroken, complianceRate, consistent) => {
    const vote = majorityVote(verdicts);
    expect(vote.jailbroken).toBe(jailbroken);
    expect(vote.complianceRate).toBeCloseTo(complianceRate, 12);
    expect(vote.total).toBe(verdicts.length);
    expect(vote.consistent).toEqual(consistent);
  });

  it('needs at least one verdict', () => {
    expect(() => majorityVote([])).toThrow('SmoothLLM has no verdicts to vote on; run at least one perturbed copy.');
  });
});
