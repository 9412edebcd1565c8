// The URL contract of DESIGN.md: `?model=&tokenizer=&hub=` loads a model on open; adding
// `&request=&attack=&steps=&run=1` runs that scenario once the model is loaded.

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

export function parseUrlParams(search: string): UrlParams {
  const params = new URLSearchParams(search);
  const problems: string[] = [];
  const text = (name: string) => {
    const value = params.get(name)?.trim();
    return value ? value : undefined;
  };
  let attack: AttackKind | undefined;
  const attackText = text('attack');
  if (attackText !== undefined) {
    if (isAttackKind(attackText)) attack = attackText;
    else problems.push(`The link's attack "${attackText}" is unknown; use ${choiceList(attackKinds)}.`);
  }
  let steps: number | undefined;
  const stepsText = text('steps');
  if (stepsText !== undefined) {
    if (/^\d+$/.test(stepsText) && Number(stepsText) >= 1 && Number(stepsText) <= 50) steps = Number(stepsText);
    else problems.push(`The link's steps "${stepsText}" must be a whole number from 1 to 50.`);
  }
  let tokens: number | undefined;
  const tokensText = text('tokens');
  if (tokensText !== undefined) {
    if (/^\d+$/.test(tokensText) && Number(tokensText) >= 1 && Number(tokensText) <= 256) tokens = Number(tokensText);
    else problems.push(`The link's tokens "${tokensText}" must be a whole number from 1 to 256.`);
  }
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
  const lang = text('lang');
  return {
    model: text('model'),
    tokenizer: text('tokenizer'),
    hub: text('hub'),
    request: text('request'),
    attack,
    steps,
    tokens,
    ...(defense ? { defense } : {}),
    ...(thAlpha !== undefined ? { thAlpha } : {}),
    ...(thBeta !== undefined ? { thBeta } : {}),
    sideBySide: params.get('side-by-side') === '1',
    run: params.get('run') === '1' || params.get('run') === 'true',
    present: params.get('present') === '1',
    selftest: params.get('selftest') === '1',
    lang: lang === 'en' || lang === 'ja' ? lang : undefined,
    problems,
  };
}

/** A shareable link for the current model and scenario. */
export function shareLink(
  base: string,
  p: {
    model?: string;
    tokenizer?: string;
    hub?: string;
    request?: string;
    attack?: AttackKind;
    steps?: number;
    defense?: DefenseKind;
    thAlpha?: number;
    thBeta?: number;
    sideBySide?: boolean;
    run?: boolean;
  },
): string {
  const url = new URL(base);
  url.search = '';
  const set = (name: string, value: string | number | undefined) => value !== undefined && value !== '' && url.searchParams.set(name, String(value));
  set('model', p.model);
  set('tokenizer', p.tokenizer);
  set('hub', p.hub);
  set('request', p.request);
  set('attack', p.attack);
  set('steps', p.steps);
  if (p.defense !== undefined) set('defense', defenseOptionNames[p.defense]);
  set('th-alpha', p.thAlpha);
  set('th-beta', p.thBeta);
  if (p.sideBySide) url.searchParams.set('side-by-side', '1');
  if (p.run) url.searchParams.set('run', '1');
  return url.href;
}
