// `eval`: the batch evaluator. Runs one attack (and optionally a defense) on every request of a
// CSV or JSON file, writes one Trace per request and a summary.csv, shows progress on the
// terminal, and resumes an interrupted run without redoing finished requests.

import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRequests } from '../attacks/requests';
import { parseIcaDemosFile, parseTemplatesFile } from '../attacks/scenarios';
import type { Language } from '../attacks/types';
import { DefenseConfigError } from '../defenses/errors';
import { highlighterSettings, type HighlighterSettings } from '../defenses/highlighter';
import { perturbationKinds, type PerturbationKind } from '../defenses/smoothllm';
import { configFromGguf } from '../engine/config';
import { SlipLabError } from '../errors';
import { loadModel } from '../engine/model';
import { openGguf } from '../gguf/reader';
import { pathSource } from '../gguf/source-node';
import { buildScenario } from '../lab/build';
import { attackKinds, choiceList, defenseKindOf, isAttackKind, partsOfDefense, type AttackKind } from '../lab/kinds';
import { runScenario, type LabProgress } from '../lab/runner';
import { composeDefense, defenseLabel, sharpeningOf, type DefenseSpec, type Lab } from '../lab/scenario';
import { parseTrace, serializeTrace, summaryCsv, type Trace } from '../lab/trace';
import { loadTokenizer } from '../tokenizer/source-node';
import { checkTokenizerFitsModel } from '../tokenizer/tokenizer';
import { UsageError, parseOptions, type CliCommand } from './command';
import { attentionTemperature, gcgOptions, headList, layerRange, positiveNumber, wholeNumber } from './options';
import { openNodeGpu } from './node-gpu';
import { DEFENSE_NAMES, EVAL_HELP as HELP, EVAL_USAGE as USAGE } from './eval-help';
import { loadBenign, parseSweepArgs, sweepEval, SWEEP_OPTIONS, type SweepArgs } from './eval-sweep';
import { parseReportArgs, writeEvalReport, type ReportArgs } from './eval-report';

const SCENARIOS = fileURLToPath(new URL('../../public/scenarios/', import.meta.url));

interface EvalArgs {
  model: string;
  tokenizer: string;
  hub?: string;
  requests: string;
  language: Language;
  limit?: number;
  attack: AttackKind;
  steps: number;
  demos?: string;
  templates?: string;
  custom?: string;
  system?: string;
  iterations: number;
  suffixLength: number;
  candidates: number;
  gcg: ReturnType<typeof gcgOptions>;
  defense: DefenseSpec;
  /** Sharpening options given without a defense that uses them are refused; kept to say so. */
  maxNewTokens: number;
  seed: number;
  /** Record one head's full attention map per step (bigger traces). */
  map: boolean;
  out: string;
  /** `--sweep-temperature …`: a temperature sweep with benign prompts (eval-sweep.ts). */
  sweep?: SweepArgs;
  /** `--report FILE`: the PoC report of what the eval or sweep wrote (eval-report.ts). */
  report?: ReportArgs;
}

function parseEvalArgs(argv: readonly string[]): EvalArgs | 'help' {
  const values = parseOptions(argv, {
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    hub: { type: 'string' },
    requests: { type: 'string' },
    language: { type: 'string' },
    limit: { type: 'string' },
    attack: { type: 'string' },
    steps: { type: 'string' },
    demos: { type: 'string' },
    templates: { type: 'string' },
    custom: { type: 'string' },
    system: { type: 'string' },
    iterations: { type: 'string' },
    'suffix-length': { type: 'string' },
    candidates: { type: 'string' },
    'gcg-steps': { type: 'string' },
    'gcg-topk': { type: 'string' },
    'gcg-batch': { type: 'string' },
    'gcg-target': { type: 'string' },
    'gcg-suffix': { type: 'string' },
    defense: { type: 'string' },
    'attn-temperature': { type: 'string' },
    layers: { type: 'string' },
    heads: { type: 'string' },
    'smooth-n': { type: 'string' },
    'smooth-q': { type: 'string' },
    'smooth-perturbation': { type: 'string' },
    'th-alpha': { type: 'string' },
    'th-beta': { type: 'string' },
    'th-affirmation': { type: 'string' },
    'max-new-tokens': { type: 'string' },
    seed: { type: 'string' },
    map: { type: 'boolean' },
    out: { type: 'string' },
    ...SWEEP_OPTIONS,
    report: { type: 'string' },
    'report-language': { type: 'string' },
    'report-show-output': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  for (const required of ['model', 'tokenizer', 'requests', 'attack', 'out'] as const) {
    if (!values[required]) throw new UsageError(`--${required} is required.`);
  }
  const attack = values.attack!;
  if (!isAttackKind(attack)) throw new UsageError(`--attack must be one of ${attackKinds.join(', ')}, got "${values.attack}".`);
  if (attack === 'custom' && !values.custom) throw new UsageError('--attack custom needs --custom <file.json|csv> with your prompts.');
  for (const option of ['gcg-steps', 'gcg-topk', 'gcg-batch', 'gcg-target', 'gcg-suffix'] as const) {
    if (values[option] !== undefined && attack !== 'gcg') throw new UsageError(`--${option} sets up GCG; add --attack gcg.`);
  }
  if (attack === 'gcg' && values.steps !== undefined) throw new UsageError('GCG counts its steps with --gcg-steps; drop --steps.');
  const language = (values.language ?? 'en') as Language;
  if (language !== 'en' && language !== 'ja') throw new UsageError(`--language must be en or ja, got "${values.language}".`);
  if (values.hub !== undefined && !/^https?:\/\/\S+$/.test(values.hub)) throw new UsageError(`--hub must be an http(s) URL, got "${values.hub}".`);

  const defenseKind = defenseKindOf(values.defense ?? 'none');
  if (!defenseKind) throw new UsageError(`--defense must be ${choiceList(DEFENSE_NAMES)}, got "${values.defense}".`);
  const parts = partsOfDefense(defenseKind);
  const sweep = parseSweepArgs(values);
  const report = parseReportArgs(values, language);
  // A sweep sharpens at each of its temperatures, on --layers / --heads, on top of the other parts.
  const sharpens = parts.includes('sharpening') || sweep !== undefined;
  const smooths = parts.includes('smoothllm');
  const highlights = parts.includes('highlighter');
  for (const option of ['attn-temperature', 'layers', 'heads'] as const) {
    if (values[option] !== undefined && !sharpens) throw new UsageError(`--${option} sets up sharpening; add --defense sharpen (or both).`);
  }
  for (const option of ['smooth-n', 'smooth-q', 'smooth-perturbation'] as const) {
    if (values[option] !== undefined && !smooths) throw new UsageError(`--${option} sets up SmoothLLM; add --defense smoothllm (or both).`);
  }
  for (const option of ['th-alpha', 'th-beta', 'th-affirmation'] as const) {
    if (values[option] !== undefined && !highlights) throw new UsageError(`--${option} sets up Token Highlighter; add --defense highlighter (or combine it, e.g. sharpen+highlighter).`);
  }
  const temperature = values['attn-temperature'] !== undefined ? attentionTemperature(values['attn-temperature']) : 0.7;
  const layers = values.layers !== undefined ? layerRange(values.layers) : undefined;
  const heads = values.heads !== undefined ? headList(values.heads) : undefined;
  // The layer range is completed once the model's depth is known (see withModelDepth).
  const sharpening = { temperature, layers: [layers?.first ?? 0, layers?.last ?? -1] as [number, number], ...(heads ? { heads } : {}) };
  const perturbation = (values['smooth-perturbation'] ?? 'swap') as PerturbationKind;
  if (!perturbationKinds.includes(perturbation)) throw new UsageError(`--smooth-perturbation must be swap, insert or patch, got "${values['smooth-perturbation']}".`);
  const smooth = {
    n: values['smooth-n'] !== undefined ? wholeNumber(values['smooth-n'], '--smooth-n', 1) : 10,
    q: values['smooth-q'] !== undefined ? positiveNumber(values['smooth-q'], '--smooth-q', 100) : 10,
    perturbation,
  };
  const highlighter = highlights ? highlighterOptions(values['th-alpha'], values['th-beta'], values['th-affirmation']) : undefined;
  const defense = composeDefense({ ...(sharpens ? { sharpening } : {}), ...(highlighter ? { highlighter } : {}), ...(smooths ? { smooth } : {}) });

  return {
    model: values.model!,
    tokenizer: values.tokenizer!,
    hub: values.hub,
    requests: values.requests!,
    language,
    limit: values.limit !== undefined ? wholeNumber(values.limit, '--limit', 1) : undefined,
    attack,
    steps: values.steps !== undefined ? wholeNumber(values.steps, '--steps') : 4,
    demos: values.demos,
    templates: values.templates,
    custom: values.custom,
    system: values.system,
    iterations: values.iterations !== undefined ? wholeNumber(values.iterations, '--iterations', 1) : 100,
    suffixLength: values['suffix-length'] !== undefined ? wholeNumber(values['suffix-length'], '--suffix-length', 1) : 20,
    candidates: values.candidates !== undefined ? wholeNumber(values.candidates, '--candidates', 1) : 1,
    gcg: gcgOptions(values),
    defense,
    maxNewTokens: values['max-new-tokens'] !== undefined ? wholeNumber(values['max-new-tokens'], '--max-new-tokens', 1) : 32,
    seed: values.seed !== undefined ? wholeNumber(values.seed, '--seed') : 0,
    map: values.map ?? false,
    out: values.out!,
    ...(sweep ? { sweep } : {}),
    ...(report ? { report } : {}),
  };
}

/** `--th-alpha A --th-beta B --th-affirmation TEXT`, checked as the defense checks them (defaults filled in). */
function highlighterOptions(alpha: string | undefined, beta: string | undefined, affirmation: string | undefined): HighlighterSettings {
  const number = (text: string, option: string) => {
    const value = text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(value)) throw new UsageError(`${option} must be a number, got "${text}".`);
    return value;
  };
  try {
    return highlighterSettings({
      ...(alpha !== undefined ? { alpha: number(alpha, '--th-alpha') } : {}),
      ...(beta !== undefined ? { beta: number(beta, '--th-beta') } : {}),
      ...(affirmation !== undefined ? { affirmation } : {}),
    });
  } catch (error) {
    if (error instanceof DefenseConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The sharpening layer range with "all layers" filled in for this model. */
function withModelDepth(defense: DefenseSpec, nLayer: number): DefenseSpec {
  const sharpening = sharpeningOf(defense);
  if (!sharpening) return defense;
  const [first, last] = sharpening.layers;
  if (last >= nLayer) throw new UsageError(`--layers ${first}-${last} is outside this model's layers 0-${nLayer - 1}.`);
  return { ...defense, sharpening: { ...sharpening, layers: [first, last < 0 ? nLayer - 1 : last] } } as DefenseSpec;
}

/** A file name for request n: its position (so the listing sorts) and its id, made safe. */
export function traceFileName(index: number, id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'request';
  return `${String(index + 1).padStart(4, '0')}-${safe}.json`;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new SlipLabError(`Cannot read the ${what} file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path.`);
  }
}

/** What makes two runs the same run (a resume must not mix settings). */
interface RunManifest {
  version: 1;
  settings: Record<string, unknown>;
  requests: { id: string; file: string }[];
}

class Progress {
  private readonly tty: boolean;
  private readonly started = performance.now();
  private line = '';

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, current: string, progress?: LabProgress): void {
    if (!this.tty) return;
    const width = 24;
    const fraction = this.total === 0 ? 1 : done / this.total;
    const bar = '█'.repeat(Math.round(fraction * width)).padEnd(width, '░');
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = done > 0 ? ((elapsed / done) * (this.total - done)) : undefined;
    const detail = progress
      ? progress.phase === 'search'
        ? progress.loss !== undefined
          ? `GCG step ${progress.iteration}/${progress.iterations}, loss ${progress.loss.toFixed(3)}`
          : `suffix search ${progress.iteration}/${progress.iterations}`
        : `step ${progress.step + 1}${progress.steps ? `/${progress.steps}` : ''}${progress.phase === 'defense' ? ' defended' : ''}${progress.copy ? ` copy ${progress.copy}/${progress.copies}` : ''}`
      : '';
    const text = `${bar} ${done}/${this.total} ${current} ${detail}${eta !== undefined ? ` · ${formatSeconds(eta)} left` : ''}`;
    const columns = this.stream.columns ?? 100;
    this.line = text.length > columns - 1 ? `${text.slice(0, columns - 2)}…` : text;
    this.stream.write(`\r\x1b[2K${this.line}`);
  }

  /** A finished request: a line of its own (kept on a terminal, the log otherwise). */
  finished(done: number, message: string): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
    this.stream.write(`[${done}/${this.total}] ${message}\n`);
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** What summary.csv needs of a trace; the attention rows and maps stay on disk, not in memory. */
function summaryView(trace: Trace): Trace {
  const light = (run: Trace['steps'][number] | NonNullable<Trace['steps'][number]['defended']>) => {
    const { lastPromptRow: _rows, generatedRows: _generated, map: _map, ...rest } = run;
    return rest;
  };
  return { ...trace, steps: trace.steps.map((step) => ({ ...light(step), ...(step.defended ? { defended: light(step.defended) } : {}) }) as Trace['steps'][number]) };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, text);
  await rename(partial, path);
}

async function runEval(args: EvalArgs): Promise<string> {
  const requestsText = await readText(args.requests, 'requests');
  let requests = parseRequests(requestsText, args.requests, args.language);
  if (args.limit !== undefined) requests = requests.slice(0, args.limit);
  const demosText = args.attack === 'ica' ? await readText(args.demos ?? join(SCENARIOS, 'ica-demos.json'), 'ICA demos') : undefined;
  const templatesText = args.attack === 'ladder' ? await readText(args.templates ?? join(SCENARIOS, 'templates.json'), 'templates') : undefined;
  const demos = demosText !== undefined ? parseIcaDemosFile(demosText) : undefined;
  const templates = templatesText !== undefined ? parseTemplatesFile(templatesText) : undefined;
  const customText = args.attack === 'custom' ? await readText(args.custom!, 'custom prompts') : undefined;
  const files = { demos, templates };
  const benign = args.sweep && (await loadBenign(args.sweep, join(SCENARIOS, 'benign.csv'), args.language));

  const source = await pathSource(args.model);
  let ctx;
  let lab: Lab;
  let defense: DefenseSpec;
  try {
    const config = configFromGguf(await openGguf(source));
    defense = withModelDepth(args.defense, config.nLayer);
    const tokenizer = await loadTokenizer(args.tokenizer, { hub: args.hub });
    checkTokenizerFitsModel(tokenizer, config.vocabSize);
    ctx = await openNodeGpu();
    const model = await loadModel(ctx, source);
    lab = {
      model,
      tokenizer,
      modelInfo: { id: args.model.split(/[\\/]/).pop()!, file: resolve(args.model) },
      tokenizerId: args.tokenizer,
      engineInfo: { backend: 'webgpu (Dawn)', adapter: ctx.adapter.description },
    };
  } catch (e) {
    await source.close?.();
    ctx?.destroy();
    throw e;
  }

  try {
    await mkdir(args.out, { recursive: true });
    const settings = {
      model: resolve(args.model),
      modelBytes: await source.size(),
      tokenizer: args.tokenizer,
      hub: args.hub ?? null,
      requests: digest(requestsText),
      ...(demosText !== undefined ? { demos: digest(demosText) } : {}),
      ...(templatesText !== undefined ? { templates: digest(templatesText) } : {}),
      ...(customText !== undefined ? { custom: digest(customText) } : {}),
      map: args.map,
      language: args.language,
      attack: args.attack,
      steps: args.steps,
      system: args.system ?? null,
      ...(args.attack === 'suffix' ? { iterations: args.iterations, suffixLength: args.suffixLength, candidates: args.candidates } : {}),
      ...(args.attack === 'gcg' ? { gcg: args.gcg } : {}),
      defense: { ...defense, label: defense.kind === 'none' ? 'none' : defenseLabel(defense) },
      maxNewTokens: args.maxNewTokens,
      seed: args.seed,
    };
    const scenarioOf = (request: (typeof requests)[number]) =>
      buildScenario(
        {
          request: { id: request.id, ...(request.category ? { category: request.category } : {}), text: request.goal, language: args.language },
          attack: args.attack,
          steps: args.attack === 'gcg' ? args.gcg.steps : args.steps,
          suffix: { target: request.target, iterations: args.iterations, length: args.suffixLength, candidates: args.candidates },
          gcg: { target: args.gcg.target ?? request.target, topK: args.gcg.topK, batch: args.gcg.batch, suffix: args.gcg.suffix },
          customPrompts: customText,
          system: args.system,
          defense,
          maxNewTokens: args.maxNewTokens,
          seed: args.seed,
          mapHead: args.map ? 'top' : false,
        },
        files,
      );
    if (args.sweep && benign) {
      const swept = await sweepEval({ lab, args: args.sweep, out: args.out, settings, requests, scenario: scenarioOf, defense, benign, system: args.system, seed: args.seed, traceFileName });
      return args.report ? swept + (await writeEvalReport(args.report, args.out, args.model)) : swept;
    }
    const manifest: RunManifest = { version: 1, settings, requests: requests.map((r, i) => ({ id: r.id, file: traceFileName(i, r.id) })) };
    const manifestPath = join(args.out, 'run.json');
    const previous = await readFile(manifestPath, 'utf8').then(
      (text) => JSON.parse(text) as RunManifest,
      () => undefined,
    );
    if (previous && JSON.stringify(previous.settings) !== JSON.stringify(manifest.settings)) {
      throw new SlipLabError(`${args.out} holds an evaluation with other settings (see its run.json); resume it with the same options, or pass a new --out folder.`);
    }
    await writeAtomically(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

    const existing = new Set(await readdir(args.out));
    const traces: Trace[] = [];
    const progress = new Progress(requests.length);
    let skipped = 0;
    const failed: string[] = [];
    for (const [index, request] of requests.entries()) {
      const file = traceFileName(index, request.id);
      if (existing.has(file)) {
        try {
          traces.push(summaryView(parseTrace(await readFile(join(args.out, file), 'utf8'))));
          skipped++;
          progress.finished(index + 1, `${request.id}: already done, kept`);
          continue;
        } catch {
          // A damaged trace (e.g. the disk filled up) is simply run again.
        }
      }
      const scenario = scenarioOf(request);
      progress.update(index, request.id);
      const started = performance.now();
      let trace: Trace;
      try {
        trace = await runScenario(lab, scenario, { onProgress: (p) => progress.update(index, request.id, p) });
      } catch (error) {
        // One request that cannot run (a prompt past the context) must not stop the batch: note
        // why next to where its trace would be, and go on. A resume tries it again.
        if (!(error instanceof SlipLabError)) throw error;
        const errorFile = file.replace(/\.json$/, '.error.json');
        await writeAtomically(join(args.out, errorFile), `${JSON.stringify({ request: request.id, error: error.name, message: error.message }, null, 2)}\n`);
        failed.push(errorFile);
        progress.finished(index + 1, `${request.id}: failed (${error.message})`);
        continue;
      }
      await writeAtomically(join(args.out, file), serializeTrace(trace));
      await rm(join(args.out, file.replace(/\.json$/, '.error.json')), { force: true });
      traces.push(summaryView(trace));
      await writeAtomically(join(args.out, 'summary.csv'), `${summaryCsv(traces)}\n`);
      const last = trace.steps[trace.steps.length - 1];
      progress.finished(
        index + 1,
        `${request.id}: ${trace.steps.length} steps in ${formatSeconds((performance.now() - started) / 1000)}; last step ${last.verdict}${last.defended ? `, defended ${last.defended.verdict}` : ''}`,
      );
    }
    if (traces.length > 0) await writeAtomically(join(args.out, 'summary.csv'), `${summaryCsv(traces)}\n`);
    const written = requests.length - skipped - failed.length;
    const report = `Wrote ${written} trace${written === 1 ? '' : 's'}${skipped ? ` (kept ${skipped} from an earlier run)` : ''} and summary.csv to ${args.out}`;
    if (failed.length > 0) {
      throw new SlipLabError(`${report}, but ${failed.length} request${failed.length === 1 ? '' : 's'} failed (see ${failed.join(', ')}); fix the cause and run the same command again to retry them.`);
    }
    return args.report ? `${report}\n${await writeEvalReport(args.report, args.out, args.model)}` : `${report}\n`;
  } finally {
    lab.model.dispose();
    ctx.destroy();
    await source.close?.();
  }
}

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'run an attack (and a defense) over a requests file; write traces and summary.csv, resumable',
  usage: USAGE,
  help: HELP,
  async run(argv) {
    const args = parseEvalArgs(argv);
    return args === 'help' ? `${HELP}\n` : runEval(args);
  },
};
