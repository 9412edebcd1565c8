// The attack and defense kinds, listed once: the trace schema, the URL parser, the CLI's options
// and help, and the app's menus all derive from these lists.

/** Attacks, in the order the app's menu offers them (the strongest demo first). */
export const attackKinds = ['ladder', 'ica', 'suffix', 'custom', 'none'] as const;
export type AttackKind = (typeof attackKinds)[number];

/** Defenses as a trace records them. */
export const defenseKinds = ['none', 'sharpening', 'smoothllm', 'sharpening+smoothllm'] as const;
export type DefenseKind = (typeof defenseKinds)[number];

/** The short names the CLI's `--defense` and the URL's `defense=` use for each defense kind. */
export const defenseOptionNames = {
  none: 'none',
  sharpening: 'sharpen',
  smoothllm: 'smoothllm',
  'sharpening+smoothllm': 'both',
} as const satisfies Record<DefenseKind, string>;
export type DefenseOptionName = (typeof defenseOptionNames)[DefenseKind];

/** The defense kind of a CLI/URL name, or undefined for an unknown name. */
export function defenseKindOf(name: string): DefenseKind | undefined {
  return defenseKinds.find((kind) => defenseOptionNames[kind] === name);
}

export const isAttackKind = (value: string): value is AttackKind => (attackKinds as readonly string[]).includes(value);

/** "a, b, c or d", for sentences that list the choices. */
export function choiceList(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
