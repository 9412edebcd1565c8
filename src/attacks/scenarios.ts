// The scenario files in public/scenarios/ (requests, template ladder, ICA demos): schemas and parsers.

import { SlipLabError } from '../errors';
import { describeIssue } from '../util/describe-issue';
import { excerpt, firstTooDeep } from '../util/json-guard';
import { z } from '../util/zod';
import type { Language } from './types';

/** A scenario file does not match its schema; the message names the first problem. */
export class ScenarioFormatError extends SlipLabError {}

const requestSchema = z.object({
  id: z.string().min(1),
  category: z.string().min(1),
  harmful: z.boolean(),
  goal: z.string().min(1),
  /** The affirmative opening a suffix attack optimises towards ("Sure, here is …"). */
  target: z.string().min(1),
  goal_ja: z.string().min(1),
  target_ja: z.string().min(1),
});

const requestsFileSchema = z.object({
  version: z.literal(1),
  description: z.string().optional(),
  harmful: z.array(requestSchema).min(1),
  benign: z.array(requestSchema),
});

const wrapperSchema = z.object({ before: z.string(), after: z.string() });

const templateSchema = z.object({
  id: z.string().min(1),
  /** Position on the ladder: 0 is the plain request, higher is stronger. */
  level: z.number().int().nonnegative(),
  name: z.string().min(1),
  name_ja: z.string().min(1),
  techniques: z.array(z.string()),
  description: z.string(),
  en: wrapperSchema,
  ja: wrapperSchema,
});

const templatesFileSchema = z.object({
  version: z.literal(1),
  description: z.string().optional(),
  templates: z.array(templateSchema).min(1),
});

const exchangeSchema = z.object({ question: z.string().min(1), answer: z.string().min(1) });
const labelsSchema = z.object({ question: z.string(), answer: z.string() });

const demosFileSchema = z.object({
  version: z.literal(1),
  description: z.string().optional(),
  /** How a demonstration is written into the prompt: `${question}${q}\n${answer}${a}`. */
  labels: z.object({ en: labelsSchema, ja: labelsSchema }),
  /** The marker standing in for every piece of redacted content. */
  redacted: z.object({ en: z.string().min(1), ja: z.string().min(1) }),
  demos: z.array(z.object({ id: z.string().min(1), category: z.string(), en: exchangeSchema, ja: exchangeSchema })).min(1),
});

export type ScenarioRequest = z.infer<typeof requestSchema>;
export type RequestsFile = z.infer<typeof requestsFileSchema>;
export type JailbreakTemplate = z.infer<typeof templateSchema>;
export type TemplatesFile = z.infer<typeof templatesFileSchema>;
export type IcaDemosFile = z.infer<typeof demosFileSchema>;
export type IcaDemo = IcaDemosFile['demos'][number];

/** The request text in a language. */
export function requestText(request: ScenarioRequest, language: Language): string {
  return language === 'ja' ? request.goal_ja : request.goal;
}

/** The affirmative target in a language (what the suffix search scores). */
export function targetText(request: ScenarioRequest, language: Language): string {
  return language === 'ja' ? request.target_ja : request.target;
}

/** Deepest nesting a scenario file may have: the files nest 4 levels, a hostile one thousands (see firstTooDeep). */
const MAX_DEPTH = 16;

function parseWith<T>(schema: z.ZodType<T>, jsonText: string, fileName: string): T {
  const deep = firstTooDeep(jsonText, MAX_DEPTH);
  if (deep >= 0) {
    throw new ScenarioFormatError(`${fileName} nests lists or objects more than ${MAX_DEPTH} levels deep (at character ${deep}), which no scenario file does; fix the file or restore it from the repository.`);
  }
  let data: unknown;
  try {
    data = JSON.parse(jsonText);
  } catch (error) {
    const reason = excerpt((error as Error).message, 160);
    throw new ScenarioFormatError(`${fileName} is not valid JSON (${reason}); fix the file or restore it from the repository.`, { cause: error });
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    const problem = describeIssue(result.error.issues[0], data);
    throw new ScenarioFormatError(`${fileName} is invalid: ${problem}; fix that field or restore the file from the repository.`);
  }
  return result.data;
}

function requireUniqueIds(items: readonly { id: string }[], fileName: string): void {
  const seen = new Set<string>();
  for (const { id } of items) {
    if (seen.has(id)) throw new ScenarioFormatError(`${fileName} uses the id "${excerpt(id)}" twice; give every entry its own id.`);
    seen.add(id);
  }
}

export function parseRequestsFile(jsonText: string, fileName = 'requests.json'): RequestsFile {
  const file = parseWith(requestsFileSchema, jsonText, fileName);
  requireUniqueIds([...file.harmful, ...file.benign], fileName);
  return file;
}

/** Templates come back sorted by level, weakest first. */
export function parseTemplatesFile(jsonText: string, fileName = 'templates.json'): TemplatesFile {
  const file = parseWith(templatesFileSchema, jsonText, fileName);
  requireUniqueIds(file.templates, fileName);
  return { ...file, templates: [...file.templates].sort((a, b) => a.level - b.level) };
}

export function parseIcaDemosFile(jsonText: string, fileName = 'ica-demos.json'): IcaDemosFile {
  const file = parseWith(demosFileSchema, jsonText, fileName);
  requireUniqueIds(file.demos, fileName);
  return file;
}
