// A zod validation issue as a clause a user can act on ("steps[3].verdict must be 'refused' or
// 'complied'"): shared by every file format the app reads (traces, scenario files, requests).

import type { z } from 'zod';

export type Issue = z.ZodError['issues'][number];

/** `['steps', 3, 'verdict']` → `steps[3].verdict`. */
export function formatPath(path: readonly PropertyKey[], root = 'the file'): string {
  if (path.length === 0) return root;
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join('');
}

const typeNouns: Record<string, string> = {
  string: 'a string',
  number: 'a finite number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
};

function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? 'nothing') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * One zod issue as a clause a user can act on, e.g. "steps[3].verdict must be 'refused' or
 * 'complied'"; `input` is the parsed JSON, to tell a missing field from a wrong one.
 */
export function describeIssue(issue: Issue, input: unknown, root?: string): string {
  const where = formatPath(issue.path, root);
  switch (issue.code) {
    case 'invalid_type':
      if (valueAt(input, issue.path) === undefined) return `${where} is missing`;
      return `${where} must be ${typeNouns[issue.expected] ?? `of type ${issue.expected}`}`;
    case 'invalid_value':
      return `${where} must be ${orList(issue.values.map(quote))}`;
    case 'too_small':
      if (issue.origin === 'array') return `${where} must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return issue.minimum === 1 ? `${where} must not be empty` : `${where} must have at least ${issue.minimum} characters`;
      return `${where} must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `${where} must have at most ${issue.maximum} items`;
      if (issue.origin === 'string') return `${where} must have at most ${issue.maximum} characters`;
      return `${where} must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
    case 'custom':
      return `${where} ${issue.message}`;
    default:
      return `${where} is invalid (${issue.message})`;
  }
}
