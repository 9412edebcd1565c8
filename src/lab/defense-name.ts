// A defense's name for people, in English or Japanese, from its settings ("Attention sharpening,
// T = 0.7, layers 12–23"); the internal label (scenario.ts, defenseLabel) stays in summary.csv.

import { DEFAULT_AFFIRMATION, DEFAULT_ALPHA, DEFAULT_BETA } from '../defenses/highlighter';
import type { DefenseKind } from './kinds';
import type { Trace } from './trace';

export type NameLanguage = 'en' | 'ja';

/** A defense as a trace records it: its kind and its parts' settings ({ sharpening, smooth, highlighter }). */
export interface DefenseRecordLike {
  readonly kind: DefenseKind | string;
  readonly settings?: Readonly<Record<string, unknown>>;
}

const words = {
  en: {
    none: 'No defense',
    sharpening: 'Attention sharpening',
    smoothllm: 'SmoothLLM',
    highlighter: 'Token Highlighter',
    layers: (from: number, to: number) => (from === to ? `layer ${from}` : `layers ${from}–${to}`),
    heads: (heads: readonly number[]) => `${heads.length === 1 ? 'head' : 'heads'} ${heads.join(', ')}`,
    perturbation: { swap: 'swap', insert: 'insert', patch: 'patch' } as Record<string, string>,
    affirmation: (text: string) => `affirmation “${text}”`,
    // One defense: "Name, a, b"; a combination puts each part's settings in brackets.
    single: (name: string, details: readonly string[]) => [name, ...details].join(', '),
    part: (name: string, details: readonly string[]) => (details.length ? `${name} (${details.join(', ')})` : name),
    join: ' + ',
  },
  ja: {
    none: '防御なし',
    sharpening: '注意の鮮鋭化',
    smoothllm: 'SmoothLLM',
    highlighter: 'Token Highlighter',
    layers: (from: number, to: number) => (from === to ? `第${from}層` : `第${from}〜${to}層`),
    heads: (heads: readonly number[]) => `ヘッド ${heads.join('・')}`,
    perturbation: { swap: '置換', insert: '挿入', patch: '連続置換' } as Record<string, string>,
    affirmation: (text: string) => `肯定応答「${text}」`,
    single: (name: string, details: readonly string[]) => (details.length ? `${name}（${details.join('、')}）` : name),
    part: (name: string, details: readonly string[]) => (details.length ? `${name}（${details.join('、')}）` : name),
    join: ' ＋ ',
  },
} as const;

/** Defaults the runner applies when a setting is left out (scenario.ts's SmoothSettings, highlighter.ts). */
const SMOOTH_DEFAULTS = { n: 10, q: 10, perturbation: 'swap' };
const HIGHLIGHTER_DEFAULTS = { alpha: DEFAULT_ALPHA, beta: DEFAULT_BETA, affirmation: DEFAULT_AFFIRMATION };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const finite = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
/** 0.7000000001 → "0.7": the slider's float noise never reaches a name. */
const num = (value: number) => String(Number(value.toFixed(3)));

/**
 * The defense's name with its settings, e.g. "Attention sharpening, T = 0.7, layers 12–23" or
 * "注意の鮮鋭化（T = 0.7、第12〜23層）". Reads a trace's recorded settings defensively: a setting that
 * is missing or malformed is left out of the name, never shown raw.
 */
export function defenseName(defense: DefenseRecordLike, language: NameLanguage): string {
  const w = words[language];
  const settings = defense.settings ?? {};
  const parts: { name: string; details: string[] }[] = [];
  const kinds = String(defense.kind).split('+');

  if (kinds.includes('sharpening')) {
    const s = isObject(settings.sharpening) ? settings.sharpening : {};
    const details: string[] = [];
    const t = finite(s.temperature);
    if (t !== undefined) details.push(`T = ${num(t)}`);
    const layers = Array.isArray(s.layers) ? s.layers.map(finite) : [];
    if (layers.length === 2 && layers[0] !== undefined && layers[1] !== undefined) details.push(w.layers(Math.min(layers[0], layers[1]), Math.max(layers[0], layers[1])));
    const heads = Array.isArray(s.heads) ? s.heads.map(finite).filter((h): h is number => h !== undefined) : [];
    if (heads.length > 0) details.push(w.heads(heads));
    parts.push({ name: w.sharpening, details });
  }
  if (kinds.includes('highlighter')) {
    const s = isObject(settings.highlighter) ? settings.highlighter : {};
    const details = [`α = ${num(finite(s.alpha) ?? HIGHLIGHTER_DEFAULTS.alpha)}`, `β = ${num(finite(s.beta) ?? HIGHLIGHTER_DEFAULTS.beta)}`];
    if (typeof s.affirmation === 'string' && s.affirmation.trim() !== '' && s.affirmation !== HIGHLIGHTER_DEFAULTS.affirmation) details.push(w.affirmation(s.affirmation));
    parts.push({ name: w.highlighter, details });
  }
  if (kinds.includes('smoothllm')) {
    const s = isObject(settings.smooth) ? settings.smooth : {};
    const perturbation = typeof s.perturbation === 'string' ? s.perturbation : SMOOTH_DEFAULTS.perturbation;
    const details = [`N = ${num(finite(s.n) ?? SMOOTH_DEFAULTS.n)}`, `q = ${num(finite(s.q) ?? SMOOTH_DEFAULTS.q)} %`];
    if (w.perturbation[perturbation]) details.push(w.perturbation[perturbation]);
    parts.push({ name: w.smoothllm, details });
  }

  if (parts.length === 0) return w.none;
  if (parts.length === 1) return w.single(parts[0].name, parts[0].details);
  return parts.map((p) => w.part(p.name, p.details)).join(w.join);
}

/**
 * The trace with every defense named for people in `language` (its defense, the ones compared
 * beside it, and each step's compared runs); the same object when the names are already those.
 */
export function withDefenseNames(trace: Trace, language: NameLanguage): Trace {
  const named = <R extends { readonly kind: string; readonly label?: string }>(record: R, settings: DefenseRecordLike): R => {
    if (record.kind === 'none') return record;
    const label = defenseName(settings, language);
    return label === record.label ? record : { ...record, label };
  };
  const defense = named(trace.settings.defense, trace.settings.defense);
  const compare = trace.settings.compare?.map((record) => named(record, record));
  const steps = trace.steps.map((step) => {
    // Compared runs are in settings.compare's order; a trace without it still names the kind.
    const compared = step.compared?.map((entry, i) => named(entry, trace.settings.compare?.[i] ?? { kind: entry.kind }));
    return compared && compared.some((entry, i) => entry !== step.compared![i]) ? { ...step, compared } : step;
  });
  const changed = defense !== trace.settings.defense || compare?.some((r, i) => r !== trace.settings.compare![i]) || steps.some((s, i) => s !== trace.steps[i]);
  return changed ? { ...trace, settings: { ...trace.settings, defense, ...(compare ? { compare } : {}) }, steps } : trace;
}
