// The URL contract of DESIGN.md: `?model=&tokenizer=&hub=` loads a model on open; adding
// `&request=&attack=&steps=&run=1` runs that scenario once the model is loaded. The scenario's
// other settings (attack, defense, response length, seed, language, presenter) make a copied
// demo link reproduce the run exactly; `smooth_n` and `smooth-n` are the same parameter.

import { GCG_DEFAULTS } from '../attacks/gcg';
import { perturbationKinds, type PerturbationKind } from '../defenses/smoothllm';
import { attackKinds, choiceList, defenseKindOf, defenseKinds, defenseOptionNames, isAttackKind, type AttackKind, type DefenseKind } from '../lab/kinds';

export interface UrlParams {
  readonly model?: string;
  readonly tokenizer?: string;
  readonly hub?: string;
  readonly request?: string;
  readonly attack?: AttackKind;
  readonly steps?: number;
  /** `tokens=<n>`: response length in tokens (default 32). */
  readonly tokens?: number;
  /** `defense=<name>` as eval's --defense takes it (sharpen, highlighter, sharpen+highlighter, …). */
  readonly defense?: DefenseKind;
  /** `th-alpha=<α>` and `th-beta=<β>`: Token Highlighter's share highlighted and Soft Removal factor. */
  readonly thAlpha?: number;
  readonly thBeta?: number;
  /** `th-affirmation=<text>`: the start of an answer whose gradient ranks the tokens. */
  readonly thAffirmation?: string;
  /** `temp=<T>`: sharpening's attention temperature (the slider's range, 0.2 to 1.2). */
  readonly temperature?: number;
  /** `layers=<a-b>` (or `<a>`): the layers sharpened, 0-based and inclusive; checked against the model once loaded. */
  readonly layers?: readonly [number, number];
  /** `heads=<0,3>`: sharpen only these heads of each chosen layer (absent: all heads). */
  readonly heads?: readonly number[];
  /** `smooth-n=`, `smooth-q=`, `smooth-perturbation=`: SmoothLLM's copies, perturbation percent and kind. */
  readonly smoothN?: number;
  readonly smoothQ?: number;
  readonly smoothPerturbation?: PerturbationKind;
  /** `target=<text>`: the answer start the suffix search and GCG aim for. */
  readonly target?: string;
  /** `iterations=<n>`: the suffix search's budget. */
  readonly iterations?: number;
  /** `gcg-topk=`, `gcg-batch=`, `gcg-suffix=`: GCG's top-k per position, candidates per step and starting suffix. */
  readonly gcgTopK?: number;
  readonly gcgBatch?: number;
  readonly gcgSuffix?: string;
  /** `custom=<text>`: the custom attack's prompts (the file's text). */
  readonly custom?: string;
  /** `seed=<n>`: seeds the suffix search, GCG and SmoothLLM. */
  readonly seed?: number;
  /** `request-lang=en|ja`: the scenario's language (templates, demonstrations), when it is not `lang`. */
  readonly requestLang?: 'en' | 'ja';
  /** `side-by-side=1`: run the link's defenses each on its own, beside one another, instead of combined. */
  readonly sideBySide: boolean;
  readonly run: boolean;
  /** `present=1`: open in presenter mode once the run is done. */
  readonly present: boolean;
  /** `selftest=1`: check this computer on open (after loading the model, to time its decode step). */
  readonly selftest: boolean;
  readonly lang?: 'en' | 'ja';
  /** Problems with the parameters, as sentences for the user. */
  readonly problems: readonly string[];
}

/** The sharpening slider's range: a link asks for no temperature the slider cannot show. */
export const TEMPERATURE_RANGE = [0.2, 1.2] as const;

export function parseUrlParams(search: string): UrlParams {
  // `smooth_n` and `smooth-n` alike: the issue tracker and the CLI spell parameters both ways.
  const params = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(search)) params.append(name.replace(/_/g, '-'), value);
  const problems: string[] = [];
  const text = (name: string) => {
    const value = params.get(name)?.trim();
    return value ? value : undefined;
  };
  /** A whole number in [low, high], or a sentence saying what it must be. */
  const whole = (name: string, low: number, high: number, what = '') => {
    const value = text(name);
    if (value === undefined) return undefined;
    if (/^\d+$/.test(value) && Number(value) >= low && Number(value) <= high) return Number(value);
    problems.push(`The link's ${name} "${value}" must be a whole number from ${low} to ${high}${what}.`);
    return undefined;
  };
  let attack: AttackKind | undefined;
  const attackText = text('attack');
  if (attackText !== undefined) {
    if (isAttackKind(attackText)) attack = attackText;
    else problems.push(`The link's attack "${attackText}" is unknown; use ${choiceList(attackKinds)}.`);
  }
  // GCG counts its steps in optimisation steps (nanoGCG's 250 at most), the other attacks in templates or shots.
  const steps = whole('steps', 1, attack === 'gcg' ? GCG_DEFAULTS.steps : 50);
  const tokens = whole('tokens', 1, 256);
  let defense: DefenseKind | undefined;
  const defenseText = text('defense');
  if (defenseText !== undefined) {
    defense = defenseKindOf(defenseText);
    if (!defense) problems.push(`The link's defense "${defenseText}" is unknown; use ${choiceList(defenseKinds.map((kind) => defenseOptionNames[kind]))}.`);
  }
  const fraction = (name: string, low: number, lowIncluded: boolean, sentence: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    const number = Number(value);
    if (Number.isFinite(number) && (lowIncluded ? number >= low : number > low) && number <= 1) return number;
    problems.push(`The link's ${name} "${value}" ${sentence}`);
    return undefined;
  };
  const thAlpha = fraction('th-alpha', 0, false, 'must be a number above 0 and at most 1 (the share of the request tokens highlighted; default 0.25).');
  const thBeta = fraction('th-beta', 0, true, 'must be a number from 0 to 1 (the factor on the highlighted embeddings; default 0.5).');
  let temperature: number | undefined;
  const temperatureText = text('temp');
  if (temperatureText !== undefined) {
    const number = Number(temperatureText);
    const [low, high] = TEMPERATURE_RANGE;
    if (Number.isFinite(number) && number >= low && number <= high) temperature = number;
    else problems.push(`The link's temp "${temperatureText}" must be a number from ${low} to ${high} (the attention temperature; below 1 sharpens).`);
  }
  let layers: [number, number] | undefined;
  const layersText = text('layers');
  if (layersText !== undefined) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(layersText);
    const first = m ? Number(m[1]) : NaN;
    const last = m?.[2] !== undefined ? Number(m[2]) : first;
    if (m && first <= last) layers = [first, last];
    else problems.push(`The link's layers "${layersText}" must be a range such as 12-23 (0-based, first to last) or one layer such as 5.`);
  }
  let heads: number[] | undefined;
  const headsText = text('heads');
  if (headsText !== undefined) {
    const parts = headsText.split(',').map((part) => part.trim());
    if (parts.every((part) => /^\d+$/.test(part))) heads = [...new Set(parts.map(Number))].sort((a, b) => a - b);
    else problems.push(`The link's heads "${headsText}" must be head numbers separated by commas, such as 0,3 (0-based).`);
  }
  const smoothN = whole('smooth-n', 1, 50, " (SmoothLLM's copies; default 10)");
  const smoothQ = whole('smooth-q', 1, 100, ' (the percent of characters SmoothLLM perturbs; default 10)');
  let smoothPerturbation: PerturbationKind | undefined;
  const perturbationText = text('smooth-perturbation');
  if (perturbationText !== undefined) {
    smoothPerturbation = perturbationKinds.find((kind) => kind === perturbationText);
    if (!smoothPerturbation) problems.push(`The link's smooth-perturbation "${perturbationText}" is unknown; use ${choiceList(perturbationKinds)}.`);
  }
  const iterations = whole('iterations', 1, 1000, ' (the suffix search budget)');
  const gcgTopK = whole('gcg-topk', 1, 1024, " (GCG's candidate tokens per position)");
  const gcgBatch = whole('gcg-batch', 1, 1024, " (GCG's candidates per step)");
  const seed = whole('seed', 0, 2 ** 31 - 1);
  const language = (name: string) => {
    const value = text(name);
    if (value === undefined || value === 'en' || value === 'ja') return value;
    problems.push(`The link's ${name} "${value}" is unknown; use en or ja.`);
    return undefined;
  };
  const lang = language('lang');
  const requestLang = language('request-lang');
  return {
    model: text('model'),
    tokenizer: text('tokenizer'),
    hub: text('hub'),
    request: text('request'),
    attack,
    steps,
    tokens,
    defense,
    thAlpha,
    thBeta,
    thAffirmation: text('th-affirmation'),
    temperature,
    layers,
    heads,
    smoothN,
    smoothQ,
    smoothPerturbation,
    target: text('target'),
    iterations,
    gcgTopK,
    gcgBatch,
    gcgSuffix: text('gcg-suffix'),
    // The custom attack's file as written: its line breaks matter, so it is not trimmed.
    custom: params.get('custom') || undefined,
    seed,
    requestLang,
    sideBySide: params.get('side-by-side') === '1',
    run: params.get('run') === '1' || params.get('run') === 'true',
    present: params.get('present') === '1',
    selftest: params.get('selftest') === '1',
    lang,
    problems,
  };
}

/** What a demo link carries: the parsed parameters, less the parser's problems and the self-test. */
export type LinkSettings = Partial<Omit<UrlParams, 'problems' | 'selftest'>>;

/** A shareable link for the current model and scenario; `parseUrlParams` reads every setting back. */
export function shareLink(base: string, p: LinkSettings): string {
  const url = new URL(base);
  url.search = '';
  // The skip link and other in-page anchors are no part of a demo.
  url.hash = '';
  const set = (name: string, value: string | number | undefined) => value !== undefined && value !== '' && url.searchParams.set(name, String(value));
  set('model', p.model);
  set('tokenizer', p.tokenizer);
  set('hub', p.hub);
  set('lang', p.lang);
  set('request', p.request);
  set('request-lang', p.requestLang);
  set('attack', p.attack);
  set('steps', p.steps);
  set('target', p.target);
  set('iterations', p.iterations);
  set('gcg-topk', p.gcgTopK);
  set('gcg-batch', p.gcgBatch);
  set('gcg-suffix', p.gcgSuffix);
  set('custom', p.custom);
  if (p.defense !== undefined) set('defense', defenseOptionNames[p.defense]);
  set('temp', p.temperature);
  if (p.layers) set('layers', p.layers[0] === p.layers[1] ? p.layers[0] : `${p.layers[0]}-${p.layers[1]}`);
  if (p.heads?.length) set('heads', p.heads.join(','));
  set('th-alpha', p.thAlpha);
  set('th-beta', p.thBeta);
  set('th-affirmation', p.thAffirmation);
  set('smooth-n', p.smoothN);
  set('smooth-q', p.smoothQ);
  set('smooth-perturbation', p.smoothPerturbation);
  if (p.sideBySide) url.searchParams.set('side-by-side', '1');
  set('tokens', p.tokens);
  set('seed', p.seed);
  if (p.run) url.searchParams.set('run', '1');
  if (p.present) url.searchParams.set('present', '1');
  return url.href;
}
