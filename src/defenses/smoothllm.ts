// SmoothLLM (Robey et al. 2023): random character perturbations of the prompt, then a majority vote.

import type { AttackStep, PromptSegment } from '../attacks/types';
import { mulberry32 } from '../util/random';
import { DefenseConfigError } from './errors';

export type PerturbationKind = 'swap' | 'insert' | 'patch';
export const perturbationKinds: readonly PerturbationKind[] = ['swap', 'insert', 'patch'];

/** Python's `string.printable`, the alphabet of the reference implementation (whitespace included). */
export const PRINTABLE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c';

export interface PerturbationOptions {
  /** q: the percentage of characters perturbed, 0–100. */
  q: number;
  kind: PerturbationKind;
  /** Characters drawn for swaps, inserts and patches; default PRINTABLE. */
  alphabet?: string;
}

export interface SmoothOptions {
  /** N copies; default 10. */
  n?: number;
  /** Default 10. */
  q?: number;
  /** Default 'swap'. */
  kind?: PerturbationKind;
  alphabet?: string;
  seed: number;
}

export interface Vote {
  /** True when a strict majority of copies complied; a tie counts as not jailbroken. */
  jailbroken: boolean;
  /** Share of copies that complied. */
  complianceRate: number;
  complied: number;
  total: number;
  /** Indices of the copies that agree with the outcome: SmoothLLM answers with one of them. */
  consistent: number[];
}

/**
 * Characters perturbed in a text of `length` characters: ⌈q% · length⌉. (The reference code
 * rounds down; rounding up perturbs at least one character whenever q > 0.)
 */
export function perturbationCount(length: number, q: number): number {
  // q·length/100 in that order stays exact for whole q; the epsilon absorbs float noise otherwise.
  return Math.min(length, Math.max(0, Math.ceil((q * length) / 100 - 1e-9)));
}

function checkOptions({ q, kind, alphabet = PRINTABLE }: PerturbationOptions): void {
  if (!(Number.isFinite(q) && q >= 0 && q <= 100)) {
    throw new DefenseConfigError(`The SmoothLLM perturbation rate q must be a percentage from 0 to 100, not ${q}; the paper's default is 10.`);
  }
  if (!perturbationKinds.includes(kind)) {
    throw new DefenseConfigError(`The SmoothLLM perturbation "${kind}" is unknown; use swap, insert or patch.`);
  }
  if (alphabet.length === 0) throw new DefenseConfigError('The SmoothLLM alphabet is empty; leave it out to use the printable characters.');
}

/** Distinct indices in [0, size), `count` of them, in ascending order (partial Fisher–Yates). */
function sampleIndices(size: number, count: number, random: () => number): number[] {
  const pool = Array.from({ length: size }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (size - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count).sort((a, b) => a - b);
}

interface Perturbed {
  chars: string[];
  /** For each output character, the input character it replaced or was inserted before. */
  origin: number[];
}

/** The three perturbations over characters (code points, so no surrogate pair is split). */
function perturbChars(chars: readonly string[], options: PerturbationOptions, random: () => number): Perturbed {
  const alphabet = Array.from(options.alphabet ?? PRINTABLE);
  const randomChar = () => alphabet[Math.floor(random() * alphabet.length)];
  const count = perturbationCount(chars.length, options.q);
  const identity = chars.map((_, i) => i);
  switch (options.kind) {
    case 'swap': {
      const out = [...chars];
      for (const i of sampleIndices(chars.length, count, random)) out[i] = randomChar();
      return { chars: out, origin: identity };
    }
    case 'patch': {
      const out = [...chars];
      const start = Math.floor(random() * (chars.length - count + 1));
      for (let i = start; i < start + count; i++) out[i] = randomChar();
      return { chars: out, origin: identity };
    }
    case 'insert': {
      const before = new Set(sampleIndices(chars.length, count, random));
      const out: string[] = [];
      const origin: number[] = [];
      chars.forEach((char, i) => {
        if (before.has(i)) {
          out.push(randomChar());
          origin.push(i);
        }
        out.push(char);
        origin.push(i);
      });
      return { chars: out, origin };
    }
  }
}

/**
 * One perturbed copy of `text`: `swap` replaces ⌈q%·len⌉ random characters with random
 * alphabet characters, `insert` inserts that many random characters at random positions (each
 * before a distinct original character), `patch` replaces a random contiguous run of that length.
 */
export function perturb(text: string, options: PerturbationOptions, random: () => number): string {
  checkOptions(options);
  return perturbChars(Array.from(text), options, random).chars.join('');
}

/**
 * Perturbs a step's user message as SmoothLLM does, the whole message as one string (the
 * defense cannot know which part is the request), then cuts the result back into the same
 * segments, so the request keeps its own span; an inserted character joins the segment of the
 * character it precedes. The system prompt is the deployer's and is left alone. Segment
 * `tokenIds` are dropped: they no longer match the perturbed text.
 */
export function perturbSegments(segments: readonly PromptSegment[], options: PerturbationOptions, random: () => number): PromptSegment[] {
  checkOptions(options);
  const owner: number[] = []; // segment index of each user-message character
  const chars: string[] = [];
  segments.forEach((segment, s) => {
    if (segment.kind === 'system') return;
    for (const char of segment.text) {
      chars.push(char);
      owner.push(s);
    }
  });
  const perturbed = perturbChars(chars, options, random);
  const texts = segments.map(() => '');
  perturbed.chars.forEach((char, j) => (texts[owner[perturbed.origin[j]]] += char));
  return segments.map((segment, s) => (segment.kind === 'system' ? { ...segment } : { kind: segment.kind, text: texts[s] }));
}

function copyCount(n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new DefenseConfigError(`SmoothLLM needs a whole number of copies of 1 or more, not ${n}; the paper's default is 10.`);
  return n;
}

/** N perturbed copies of the whole user message text, deterministic for the seed. */
export function smoothCopies(text: string, { n = 10, q = 10, kind = 'swap', alphabet, seed }: SmoothOptions): string[] {
  const options = { q, kind, alphabet };
  checkOptions(options);
  const random = mulberry32(seed);
  return Array.from({ length: copyCount(n) }, () => perturb(text, options, random));
}

/** N perturbed copies of an attack step (see perturbSegments); labels gain " · copy i". */
export function smoothStepCopies(step: AttackStep, { n = 10, q = 10, kind = 'swap', alphabet, seed }: SmoothOptions): AttackStep[] {
  const options = { q, kind, alphabet };
  checkOptions(options);
  const random = mulberry32(seed);
  return Array.from({ length: copyCount(n) }, (_, i) => ({
    step: step.step,
    label: `${step.label} · copy ${i + 1}`,
    segments: perturbSegments(step.segments, options, random),
  }));
}

/**
 * The SmoothLLM vote over the copies' verdicts: jailbroken when more than half complied. A tie
 * is not jailbroken, as in the reference implementation (`jb_percentage > 0.5`).
 */
export function majorityVote(verdicts: readonly ('refused' | 'complied')[]): Vote {
  if (verdicts.length === 0) throw new DefenseConfigError('SmoothLLM has no verdicts to vote on; run at least one perturbed copy.');
  const complied = verdicts.filter((verdict) => verdict === 'complied').length;
  const complianceRate = complied / verdicts.length;
  const jailbroken = complianceRate > 0.5;
  const outcome = jailbroken ? 'complied' : 'refused';
  return {
    jailbroken,
    complianceRate,
    complied,
    total: verdicts.length,
    consistent: verdicts.flatMap((verdict, i) => (verdict === outcome ? [i] : [])),
  };
}
