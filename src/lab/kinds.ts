// The attack and defense kinds, listed once: the trace schema, the URL parser, the CLI's options
// and help, and the app's menus all derive from these lists.

/** Attacks, in the order the app's menu offers them (the strongest demo first). */
export const attackKinds = ['ladder', 'ica', 'suffix', 'gcg', 'custom', 'none'] as const;
export type AttackKind = (typeof attackKinds)[number];

/**
 * The defenses a kind combines, innermost first: sharpening changes the model's attention, Token
 * Highlighter the input embeddings the model reads (its gradient is taken on the sharpened model),
 * SmoothLLM votes over perturbed copies of the prompt, each sent through both.
 */
export const defenseParts = ['sharpening', 'highlighter', 'smoothllm'] as const;
export type DefensePart = (typeof defenseParts)[number];

/** Defenses as a trace records them: none, or the parts it combines joined by "+" in the order above. */
export const defenseKinds = [
  'none',
  'sharpening',
  'smoothllm',
  'sharpening+smoothllm',
  'highlighter',
  'sharpening+highlighter',
  'highlighter+smoothllm',
  'sharpening+highlighter+smoothllm',
] as const;
export type DefenseKind = (typeof defenseKinds)[number];

/** The short names the CLI's `--defense` and the URL's `defense=` use for each defense kind. */
export const defenseOptionNames = {
  none: 'none',
  sharpening: 'sharpen',
  smoothllm: 'smoothllm',
  'sharpening+smoothllm': 'both',
  highlighter: 'highlighter',
  'sharpening+highlighter': 'sharpen+highlighter',
  'highlighter+smoothllm': 'highlighter+smoothllm',
  'sharpening+highlighter+smoothllm': 'sharpen+highlighter+smoothllm',
} as const satisfies Record<DefenseKind, string>;
export type DefenseOptionName = (typeof defenseOptionNames)[DefenseKind];

/** The CLI/URL name of each part, for names that list parts ("sharpen+smoothllm"). */
const partOptionNames = { sharpening: 'sharpen', highlighter: 'highlighter', smoothllm: 'smoothllm' } as const satisfies Record<DefensePart, string>;

/** The parts a defense kind combines (none for `none`). */
export function partsOfDefense(kind: DefenseKind): DefensePart[] {
  return kind === 'none' ? [] : (kind.split('+') as DefensePart[]);
}

/** The kind that combines exactly these parts. */
export function defenseKindWith(parts: Iterable<DefensePart>): DefenseKind {
  const chosen = new Set(parts);
  const name = defenseParts.filter((part) => chosen.has(part)).join('+') || 'none';
  return defenseKinds.find((kind) => kind === name)!;
}

/**
 * The defense kind of a CLI/URL name, or undefined for an unknown name: a name of the list above,
 * or parts joined by "+" in any order ("highlighter+sharpen").
 */
export function defenseKindOf(name: string): DefenseKind | undefined {
  const named = defenseKinds.find((kind) => defenseOptionNames[kind] === name);
  if (named) return named;
  const parts = name.split('+').map((piece) => defenseParts.find((part) => partOptionNames[part] === piece.trim()));
  return parts.length > 1 && parts.every((part) => part !== undefined) ? defenseKindWith(parts as DefensePart[]) : undefined;
}

export const isAttackKind = (value: string): value is AttackKind => (attackKinds as readonly string[]).includes(value);

/** "a, b, c or d", for sentences that list the choices. */
export function choiceList(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
