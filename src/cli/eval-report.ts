// `eval --report report.html`: the PoC report (src/report) of what an eval or a sweep wrote to its
// folder: the traces (of a sweep, those at the recommended temperature, else at its lowest attack
// success rate), DIR/sweep.json when a sweep ran, and the model file's SHA-256.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SlipLabError } from '../errors';
import type { SweepResult } from '../lab/sweep';
import { parseTrace, type Trace } from '../lab/trace';
import { renderReport, type ReportLanguage } from '../report';
import { UsageError } from './command';
import { temperatureFolder } from './eval-sweep';

export interface ReportArgs {
  /** Where the HTML goes. */
  readonly path: string;
  readonly language: ReportLanguage;
  /** Put what the model answered to harmful requests into the report (default: redacted). */
  readonly showOutput: boolean;
}

/** `--report FILE [--report-language en|ja] [--report-show-output]`, or undefined without --report. */
export function parseReportArgs(values: { report?: string; 'report-language'?: string; 'report-show-output'?: boolean }, language: ReportLanguage): ReportArgs | undefined {
  if (values.report === undefined) {
    if (values['report-language'] !== undefined || values['report-show-output']) throw new UsageError('--report-language and --report-show-output set up the report; add --report <file.html>.');
    return undefined;
  }
  if (!/\.html?$/i.test(values.report)) throw new UsageError(`--report must name an .html file, got "${values.report}".`);
  const reportLanguage = values['report-language'] ?? language;
  if (reportLanguage !== 'en' && reportLanguage !== 'ja') throw new UsageError(`--report-language must be en or ja, got "${values['report-language']}".`);
  return { path: values.report, language: reportLanguage, showOutput: values['report-show-output'] ?? false };
}

/** SHA-256 of a file, streamed (a model is gigabytes). */
export async function fileSha256(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Trace files of a folder, in request order (`0001-….json`); error notes and the manifest are not traces. */
async function traceFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => /^\d{4,}-.*\.json$/.test(name) && !name.endsWith('.error.json')).sort();
}

/** What the report reads of a trace: verdicts, responses and request masses, not the attention rows. */
function reportView(trace: Trace): Trace {
  const light = <R extends Trace['steps'][number] | NonNullable<Trace['steps'][number]['defended']>>(run: R): R => {
    const { lastPromptRow: _rows, generatedRows: _generated, map: _map, ...rest } = run;
    return { ...rest, requestMass: { ...run.requestMass, generated: [] } } as unknown as R;
  };
  return {
    ...trace,
    steps: trace.steps.map((step) => {
      const { compared: _compared, ...rest } = step;
      return { ...light(rest as typeof step), ...(step.defended ? { defended: light(step.defended) } : {}) };
    }),
  };
}

async function readTraces(dir: string): Promise<Trace[]> {
  const traces: Trace[] = [];
  for (const name of await traceFiles(dir)) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (error) {
      throw new SlipLabError(`Cannot read the trace ${join(dir, name)} for the report (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); run the eval again.`);
    }
    traces.push(reportView(parseTrace(text)));
  }
  return traces;
}

/** DIR/sweep.json, or undefined when no sweep ran there. */
async function readSweep(dir: string): Promise<SweepResult | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'sweep.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const sweep = JSON.parse(text) as SweepResult;
    if (!Array.isArray(sweep.points) || typeof sweep.bounds !== 'object' || sweep.bounds === null) throw new Error('no points or bounds');
    return sweep;
  } catch (error) {
    throw new SlipLabError(`${join(dir, 'sweep.json')} is not a sweep result (${(error as Error).message}); run the sweep again to rewrite it.`);
  }
}

/** The temperature whose traces the report shows for a sweep: the recommended one, else the lowest attack success rate. */
export function reportTemperature(sweep: SweepResult): number | undefined {
  if (sweep.recommended) return sweep.recommended.temperature;
  const best = [...sweep.points].sort((a, b) => a.asr - b.asr || Math.abs(a.temperature - 1) - Math.abs(b.temperature - 1))[0];
  return best?.temperature;
}

async function appVersion(): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Writes the report of `out` to `args.path`; returns the line for stdout. */
export async function writeEvalReport(args: ReportArgs, out: string, modelPath: string): Promise<string> {
  const sweep = await readSweep(out);
  const temperature = sweep && reportTemperature(sweep);
  const traces = await readTraces(temperature !== undefined ? join(out, temperatureFolder(temperature)) : out);
  if (traces.length === 0 && !sweep) throw new SlipLabError(`${out} holds no traces to report on; run the eval first (or check --out).`);
  const hash = await fileSha256(modelPath);
  const html = renderReport({
    language: args.language,
    traces,
    ...(sweep ? { sweep } : {}),
    showOutput: args.showOutput,
    model: { sha256: hash.sha256, fileBytes: hash.bytes, file: resolve(modelPath) },
    ...(await appVersion().then((version) => (version ? { appVersion: version } : {}))),
    modelName: modelPath.split(/[\\/]/).pop(),
  });
  const partial = `${args.path}.partial`;
  try {
    await writeFile(partial, html);
    await rename(partial, args.path);
  } catch (error) {
    throw new SlipLabError(`Cannot write the report ${args.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check that its folder exists and is writable.`);
  }
  const outputNote = args.showOutput ? 'harmful output included' : 'harmful output redacted';
  return `Wrote the report ${args.path} (${args.language === 'ja' ? 'Japanese' : 'English'}, ${traces.length} request${traces.length === 1 ? '' : 's'}${sweep ? ', with the sweep' : ''}; ${outputNote}).\n`;
}
