// `eval --sweep-temperature`: the temperature sweep on the command line. The attack on every request
// and the benign prompts at each T, stored under DIR/T<t>/ as they finish (so a second call resumes,
// and a call with more temperatures adds them), then DIR/sweep.csv, DIR/sweep.json and the
// recommended temperature.

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { csvFormat } from 'd3';
import { DEFAULT_UTILITY_BOUNDS, type UtilityBounds } from '../analysis/utility';
import { parseBenign, type BenignPrompt } from '../attacks/benign';
import type { EvalRequest } from '../attacks/requests';
import type { Language } from '../attacks/types';
import { SlipLabError } from '../errors';
import type { DefenseSpec, Lab, Scenario } from '../lab/scenario';
import { sharpeningOf } from '../lab/scenario';
import { checkSweepTemperatures, checkUtilityBounds, runSweep, SweepInputError, sweepCsv, type BenignResult, type SweepProgress, type SweepResult, type SweepStore } from '../lab/sweep';
import { parseTrace, serializeTrace, summaryColumns, summaryRows, type Trace } from '../lab/trace';
import { z } from '../util/zod';
import { UsageError } from './command';
import { wholeNumber } from './options';

export interface SweepArgs {
  readonly temperatures: readonly number[];
  /** Benign prompts file; absent: the shipped public/scenarios/benign.csv. */
  readonly benign?: string;
  readonly benignLimit?: number;
  /** Only the benign prompts in this language (default: all). */
  readonly benignLanguage?: Language;
  readonly answerTokens: number;
  readonly bounds: UtilityBounds;
}

/** The sweep's options as parseArgs gives them. */
export interface SweepOptionValues {
  'sweep-temperature'?: string;
  benign?: string;
  'benign-limit'?: string;
  'benign-language'?: string;
  'answer-tokens'?: string;
  'max-over-refusal'?: string;
  'min-agreement'?: string;
  'attn-temperature'?: string;
}

export const SWEEP_OPTIONS = {
  'sweep-temperature': { type: 'string' },
  benign: { type: 'string' },
  'benign-limit': { type: 'string' },
  'benign-language': { type: 'string' },
  'answer-tokens': { type: 'string' },
  'max-over-refusal': { type: 'string' },
  'min-agreement': { type: 'string' },
} as const;

const usage = <T>(check: () => T): T => {
  try {
    return check();
  } catch (error) {
    if (error instanceof SweepInputError) throw new UsageError(error.message);
    throw error;
  }
};

function share(text: string, option: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!(Number.isFinite(value) && value >= 0 && value <= 1)) throw new UsageError(`${option} must be a share from 0 to 1, got "${text}".`);
  return value;
}

/** `--sweep-temperature 1,0.9,…` and its companions, or undefined without a sweep. */
export function parseSweepArgs(values: SweepOptionValues): SweepArgs | undefined {
  const list = values['sweep-temperature'];
  if (list === undefined) {
    for (const option of ['benign', 'benign-limit', 'benign-language', 'answer-tokens', 'max-over-refusal', 'min-agreement'] as const) {
      if (values[option] !== undefined) throw new UsageError(`--${option} sets up a temperature sweep; add --sweep-temperature 1,0.9,0.8,0.7,0.6,0.5.`);
    }
    return undefined;
  }
  if (values['attn-temperature'] !== undefined) throw new UsageError('--sweep-temperature sets the temperatures itself; drop --attn-temperature.');
  const temperatures = list.split(',').map((piece) => {
    const value = piece.trim() === '' ? NaN : Number(piece);
    if (!Number.isFinite(value)) throw new UsageError(`--sweep-temperature must be comma-separated numbers such as 1,0.9,0.8,0.7,0.6,0.5, got "${list}".`);
    return value;
  });
  usage(() => checkSweepTemperatures(temperatures));
  const language = values['benign-language'];
  if (language !== undefined && language !== 'en' && language !== 'ja') throw new UsageError(`--benign-language must be en or ja, got "${language}".`);
  return {
    temperatures,
    ...(values.benign !== undefined ? { benign: values.benign } : {}),
    ...(values['benign-limit'] !== undefined ? { benignLimit: wholeNumber(values['benign-limit'], '--benign-limit', 1) } : {}),
    ...(language ? { benignLanguage: language } : {}),
    answerTokens: values['answer-tokens'] !== undefined ? wholeNumber(values['answer-tokens'], '--answer-tokens', 1) : 64,
    bounds: {
      maxOverRefusal: values['max-over-refusal'] !== undefined ? share(values['max-over-refusal'], '--max-over-refusal') : DEFAULT_UTILITY_BOUNDS.maxOverRefusal,
      minAgreement: values['min-agreement'] !== undefined ? share(values['min-agreement'], '--min-agreement') : DEFAULT_UTILITY_BOUNDS.minAgreement,
    },
  };
}

/** The benign prompts of the sweep: the file, filtered by language, cut to the limit. */
export function benignPrompts(text: string, fileName: string, args: SweepArgs, language: Language): BenignPrompt[] {
  let prompts = parseBenign(text, fileName, language);
  if (args.benignLanguage) prompts = prompts.filter((p) => p.language === args.benignLanguage);
  if (args.benignLimit !== undefined) prompts = prompts.slice(0, args.benignLimit);
  if (prompts.length === 0) throw new SlipLabError(`${fileName} has no benign prompts in ${args.benignLanguage === 'ja' ? 'Japanese' : 'English'}; pick the other --benign-language or add rows.`);
  return prompts;
}

/** The folder of one temperature's results: T0.7, T1. */
export const temperatureFolder = (temperature: number) => `T${temperature}`;

const benignSchema = z.object({
  id: z.string(),
  goal: z.string(),
  language: z.enum(['en', 'ja']),
  answer: z.string(),
  answerTokens: z.array(z.number().int().nonnegative()).optional(),
  defendedAnswer: z.string(),
  undefendedRefused: z.boolean(),
  defendedRefused: z.boolean(),
  measures: z.object({ agreement: z.number(), kl: z.number(), dLogLik: z.number(), referenceLogLik: z.number().optional() }),
});

async function writeAtomically(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, text);
  await rename(partial, path);
}

/** Finished work as files: DIR/T<t>/<n>-<id>.json (traces) and DIR/T<t>/benign/<n>-<id>.json. A damaged file is run again. */
function fileStore(out: string, traceFile: (index: number) => string, benignFile: (index: number) => string): SweepStore {
  const read = async <T>(path: string, parse: (text: string) => T): Promise<T | undefined> => {
    try {
      return parse(await readFile(path, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const folder = async (...parts: string[]) => {
    const dir = join(out, ...parts);
    await mkdir(dir, { recursive: true });
    return dir;
  };
  return {
    getTrace: (t, i) => read(join(out, temperatureFolder(t), traceFile(i)), parseTrace),
    putTrace: async (t, i, trace) => writeAtomically(join(await folder(temperatureFolder(t)), traceFile(i)), serializeTrace(trace)),
    getBenign: (t, i) => read(join(out, temperatureFolder(t), 'benign', benignFile(i)), (text) => benignSchema.parse(JSON.parse(text)) as BenignResult),
    putBenign: async (t, i, result) => writeAtomically(join(await folder(temperatureFolder(t), 'benign'), benignFile(i)), `${JSON.stringify(result, null, 2)}\n`),
  };
}

/** summary.csv of a sweep: the undefended rows once, then each temperature's defended rows. */
export function sweepSummaryCsv(tracesPerTemperature: readonly (readonly Trace[])[]): string {
  const rows = tracesPerTemperature.flatMap((traces, k) => summaryRows(traces).filter((row) => k === 0 || row.defense !== 'none'));
  const order = [...new Set(rows.map((row) => row.defense))];
  rows.sort((a, b) => a.step - b.step || order.indexOf(a.defense) - order.indexOf(b.defense));
  return csvFormat(rows, [...summaryColumns]);
}

/** What summary.csv reads of a trace: the attention rows and maps stay on disk, not in memory. */
function summaryOnly(trace: Trace): Trace {
  const light = <R extends Trace['steps'][number] | NonNullable<Trace['steps'][number]['defended']>>(run: R) => {
    const { lastPromptRow: _rows, generatedRows: _generated, map: _map, ...rest } = run;
    return { ...rest, requestMass: { ...run.requestMass, generated: [] } };
  };
  return { ...trace, steps: trace.steps.map((step) => ({ ...light(step), ...(step.defended ? { defended: light(step.defended) } : {}) }) as Trace['steps'][number]) };
}

const fixed = (value: number, digits = 3) => Number(value.toFixed(digits)).toString();

/** The recommendation as a sentence (stdout). */
export function recommendationText(result: SweepResult): string {
  const { bounds } = result;
  const limits = `over-refusal ≤ ${fixed(bounds.maxOverRefusal)}, agreement ≥ ${fixed(bounds.minAgreement)}`;
  const p = result.recommended;
  if (!p) return `Recommended temperature: none meets the bounds (${limits}); loosen them with --max-over-refusal / --min-agreement or try other temperatures.`;
  return (
    `Recommended temperature: T = ${p.temperature} (lowest ASR with ${limits}): ASR ${fixed(p.asr)} (undefended ${fixed(result.undefended.asr)}), ` +
    `mean request mass ${fixed(p.meanRequestMass, 4)}, over-refusal ${fixed(p.overRefusal)}, agreement ${fixed(p.agreement)}, ` +
    `KL ${fixed(p.kl, 4)} nats/token, Δlog-likelihood ${fixed(p.dLogLik, 4)} nats/token.` +
    (p.temperature === 1 ? ' T = 1 leaves attention as it is: no sharper temperature of the grid did better within the bounds.' : '')
  );
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** A bar on a terminal, one line per finished item otherwise. */
function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (p: SweepProgress) => void {
  let lastDone = -1;
  return (p) => {
    const left = p.secondsLeft !== undefined ? ` · ${formatSeconds(p.secondsLeft)} left` : '';
    const text = `${p.done}/${p.total} T=${p.temperature} ${p.phase}${left}`;
    if (stream.isTTY) {
      const width = 24;
      const bar = '█'.repeat(Math.round((p.done / p.total) * width)).padEnd(width, '░');
      stream.write(`\r\x1b[2K${bar} ${text}`);
      if (p.done === p.total) stream.write('\n');
    } else if (p.done > lastDone && lastDone >= 0) {
      stream.write(`[${text}]\n`);
    }
    lastDone = p.done;
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export interface LoadedBenign {
  readonly prompts: readonly BenignPrompt[];
  /** Of the file's text: a resume must read the same file. */
  readonly digest: string;
}

/** Reads and checks the sweep's benign prompts (before the model loads, so a bad file fails fast). */
export async function loadBenign(args: SweepArgs, shipped: string, language: Language): Promise<LoadedBenign> {
  const path = args.benign ?? shipped;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SlipLabError(`Cannot read the benign prompts file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path.`);
  }
  return { prompts: benignPrompts(text, path, args, language), digest: digest(text) };
}

export interface SweepEvalInput {
  readonly lab: Lab;
  readonly args: SweepArgs;
  readonly out: string;
  /** The eval's settings (model, requests, attack, …): a resume must match them. */
  readonly settings: Record<string, unknown>;
  readonly requests: readonly EvalRequest[];
  readonly scenario: (request: EvalRequest) => Scenario;
  readonly defense: DefenseSpec;
  readonly benign: LoadedBenign;
  readonly system?: string;
  readonly seed: number;
  readonly traceFileName: (index: number, id: string) => string;
}

/** Runs the sweep into `out` (resuming what is there) and returns the text for stdout. */
export async function sweepEval(input: SweepEvalInput): Promise<string> {
  const { lab, args, out, requests } = input;
  const benign = input.benign.prompts;
  const sharpening = sharpeningOf(input.defense);
  // The grid is left out: each T is stored on its own, so a second call may add temperatures.
  // The eval's defense holds a placeholder temperature: record the parts and the layers instead.
  const { defense: _single, ...shared } = input.settings;
  const { sharpening: _sharpening, ...parts } = input.defense as DefenseSpec & { sharpening?: unknown };
  const settings = {
    ...shared,
    defense: { ...JSON.parse(JSON.stringify(parts)), layers: sharpening?.layers ?? null, heads: sharpening?.heads ?? null },
    sweep: { benign: input.benign.digest, benignLanguage: args.benignLanguage ?? null, benignLimit: args.benignLimit ?? null, answerTokens: args.answerTokens },
  };
  const manifestPath = join(out, 'run.json');
  const previous = await readFile(manifestPath, 'utf8').then(
    (text) => JSON.parse(text) as { settings?: unknown },
    () => undefined,
  );
  if (previous && JSON.stringify(previous.settings) !== JSON.stringify(settings)) {
    throw new SlipLabError(`${out} holds an evaluation with other settings (see its run.json); resume it with the same options, or pass a new --out folder.`);
  }
  await writeAtomically(manifestPath, `${JSON.stringify({ version: 1, settings, temperatures: args.temperatures }, null, 2)}\n`);

  const store = fileStore(
    out,
    (i) => input.traceFileName(i, requests[i].id),
    (i) => input.traceFileName(i, benign[i].id),
  );
  const result = await runSweep(lab, {
    scenarios: requests.map((request) => input.scenario(request)),
    benign,
    temperatures: args.temperatures,
    ...(sharpening ? { layers: sharpening.layers, ...(sharpening.heads ? { heads: sharpening.heads } : {}) } : {}),
    defense: input.defense,
    answerTokens: args.answerTokens,
    ...(input.system !== undefined ? { system: input.system } : {}),
    seed: input.seed,
    bounds: usage(() => checkUtilityBounds(args.bounds)),
    store,
    onProgress: progressPrinter(),
  });

  await writeAtomically(join(out, 'sweep.csv'), `${sweepCsv(result)}\n`);
  await writeAtomically(join(out, 'sweep.json'), `${JSON.stringify(result, null, 2)}\n`);
  const traces: Trace[][] = [];
  for (const t of args.temperatures) {
    const kept: Trace[] = [];
    for (const i of requests.keys()) {
      const trace = await store.getTrace(t, i);
      if (trace) kept.push(summaryOnly(trace));
    }
    traces.push(kept);
  }
  await writeAtomically(join(out, 'summary.csv'), `${sweepSummaryCsv(traces)}\n`);
  return (
    `Swept ${args.temperatures.length} temperatures over ${requests.length} request${requests.length === 1 ? '' : 's'} and ${benign.length} benign prompt${benign.length === 1 ? '' : 's'}; ` +
    `wrote sweep.csv, sweep.json, summary.csv and ${args.temperatures.map(temperatureFolder).join(', ')} to ${out}\n${recommendationText(result)}\n`
  );
}
