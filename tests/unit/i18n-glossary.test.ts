// Every Japanese string the lab shows follows docs/glossary-ja.md: the glossary's term wherever the
// English names the concept, none of the rejected variants, and no English UI word left untranslated.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resources } from '../../src/i18n';
import { defenseName, type DefenseRecordLike } from '../../src/lab/defense-name';
import { reportWordTables } from '../../src/report/words';

interface GlossaryRow {
  readonly english: string;
  readonly term: string;
  readonly stem: string;
  readonly rejected: readonly string[];
}

/** The "## Terms" table of docs/glossary-ja.md. */
function glossary(): GlossaryRow[] {
  const text = readFileSync('docs/glossary-ja.md', 'utf8');
  const section = text.slice(text.indexOf('## Terms'), text.indexOf('\n## ', text.indexOf('## Terms') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| English') && !line.startsWith('|---'))
    .map((line) => {
      const [english, term, stem, rejected] = line.split('|').slice(1).map((cell) => cell.trim());
      return { english, term, stem, rejected: rejected ? rejected.split('、').map((r) => r.trim()).filter(Boolean) : [] };
    });
}

/** Where the English text names each concept (the glossary's first column). */
const englishPatterns: Record<string, RegExp | undefined> = {
  attention: /\battention\b/i,
  'attention slipping': /\bslip(s|ping)?\b/i,
  'attention sharpening': /\bsharpen(s|ing|ed)?\b/i,
  request: /\brequests?\b/i,
  complied: /\bcompl(y|ies|ied|iance|iant|ying)\b/i,
  refused: /\brefus(e|es|ed|al|als|ing)\b/i,
  // The Export menu; "did not export attention" is the engine's sense (記録), not this one.
  export: /\bExport/,
  'opening (start of an answer)': undefined,
  query: /\bquer(y|ies)\b/i,
  sink: /\bsink/i,
  template: /\btemplates?\b/i,
  suffix: /\bsuffix(es)?\b/i,
  // An attack step; a decode step is one generated token.
  step: /(?<!decode )\bsteps?\b/i,
  layer: /\blayers?\b/i,
  head: /\bheads?\b/i,
  defended: /(?<![a-z])defended\b/i,
  undefended: /\bundefended\b/i,
  'refusal margin': /\brefusal margin\b/i,
  'first-token lean': /\blean(s|ing)?\b/i,
  temperature: /\btemperatures?\b/i,
  jailbreak: /\bjailbreaks?\b/i,
  response: undefined,
  trace: /\btraces?\b/i,
  SmoothLLM: /SmoothLLM/,
  'Token Highlighter': /Token Highlighter/,
  GCG: /\bGCG\b/,
};

/** Names and symbols a Japanese string may keep in Latin letters (docs/glossary-ja.md, "Names kept in English"). */
const allowedLatin = new Set(
  (
    'SmoothLLM GCG ICA PoC GGUF gguf WebGPU GPU KL SHA-256 CSV SVG PNG JSON URL Hugging Face Chrome Edge Safari Firefox Linux Windows macOS ' +
    'ChromeOS Android Qwen2.5 Qwen3 Llama SmolLM2 Gemma Q4_K_M Q8_0 English T N q k L H p P R Esc log nats ms goal prompt eval x ' +
    'sweep-temperature benign https Enter Hu Chen Ho'
  ).split(' '),
);

type Strings = Map<string, string>;

function flatten(value: unknown, prefix: string, out: Strings): Strings {
  if (typeof value === 'string') out.set(prefix, value);
  else if (value && typeof value === 'object') for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  return out;
}

const defenses: DefenseRecordLike[] = [
  { kind: 'sharpening', settings: { sharpening: { temperature: 0.7, layers: [12, 23] } } },
  { kind: 'sharpening', settings: { sharpening: { temperature: 0.5, layers: [3, 3], heads: [0, 3] } } },
  { kind: 'smoothllm', settings: { smooth: { n: 10, q: 10, perturbation: 'patch' } } },
  { kind: 'highlighter', settings: { highlighter: { alpha: 0.25, beta: 0.5 } } },
  { kind: 'sharpening+highlighter+smoothllm', settings: { sharpening: { temperature: 0.7, layers: [12, 23] }, highlighter: {}, smooth: {} } },
];

/** Every (English, Japanese) pair of strings the lab shows, by where it comes from. */
function pairs(): { where: string; en: string; ja: string }[] {
  const en = flatten(resources.en.translation, '', new Map());
  const ja = flatten(resources.ja.translation, '', new Map());
  const all: { where: string; en: string; ja: string }[] = [];
  for (const [key, text] of ja) {
    // Japanese has no plural forms: its `_other` stands for English's `_one` and `_other`.
    all.push({ where: `locale ${key}`, en: en.get(key) ?? '', ja: text });
  }
  for (const [key, text] of Object.entries(reportWordTables.ja)) all.push({ where: `report ${key}`, en: reportWordTables.en[key as keyof typeof reportWordTables.en], ja: text });
  const templates = JSON.parse(readFileSync('public/scenarios/templates.json', 'utf8')) as { templates: { id: string; name: string; name_ja: string }[] };
  for (const template of templates.templates) all.push({ where: `template ${template.id}`, en: template.name, ja: template.name_ja });
  for (const defense of defenses) all.push({ where: `defense ${defense.kind}`, en: defenseName(defense, 'en'), ja: defenseName(defense, 'ja') });
  return all;
}

/** The text without placeholders, addresses, the app's name and quoted model text (「Sure, …」). */
function prose(text: string): string {
  return text
    .replace(/\{\{[^}]*\}\}/g, ' ')
    .replace(/\b[a-z]+:\/\/\S+/g, ' ')
    .replace(/Attention Slip Lab/g, ' ')
    .replace(/step by step/gi, ' ')
    .replace(/\{[a-z]+\}/g, ' ')
    .replace(/「[\x20-\x7e]*」|“[\x20-\x7e]*”/g, ' ');
}

describe('the Japanese glossary (docs/glossary-ja.md)', () => {
  const rows = glossary();
  const strings = pairs();

  it('has a row for every concept the test knows, and the test a pattern for every row', () => {
    expect(rows.map((r) => r.english).sort()).toEqual(Object.keys(englishPatterns).sort());
    expect(strings.length).toBeGreaterThan(300);
  });

  it('is followed by every Japanese string: no rejected variant anywhere', () => {
    const found = strings.flatMap(({ where, ja }) =>
      rows.flatMap((row) => row.rejected.filter((word) => ja.includes(word)).map((word) => `${where}: 「${word}」 (use ${row.term}) in ${ja}`)),
    );
    expect(found).toEqual([]);
  });

  it('is followed by every Japanese string: the term wherever the English names the concept', () => {
    const missing = strings.flatMap(({ where, en, ja }) =>
      rows.flatMap((row) => {
        const pattern = englishPatterns[row.english];
        return pattern && pattern.test(prose(en)) && !ja.includes(row.stem) ? [`${where}: needs ${row.term} (${row.stem}) — ${ja}  ⟸  ${en}`] : [];
      }),
    );
    expect(missing).toEqual([]);
  });

  it('leaves no English UI word untranslated in a Japanese string', () => {
    const english = strings.flatMap(({ where, ja }) => {
      const words = prose(ja).replace(/Token Highlighter/g, ' ').match(/[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z]/g) ?? [];
      return words.filter((word) => !allowedLatin.has(word)).map((word) => `${where}: "${word}" in ${ja}`);
    });
    expect(english).toEqual([]);
  });
});
