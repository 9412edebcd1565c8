// What the UI asks for: probe WebGPU, load a model, run a scenario, re-run the defense, import
// and export traces. Talks to the engine worker and writes the store.

import { CATALOGUE, DEFAULT_HUB, findModel, modelUrl, roughGpuBytes, tooBigSentence } from '../../models/catalogue';
import { requestPersistence } from '../download';
import { GCG_DEFAULTS } from '../attacks/gcg';
import type { EvalRequest } from '../attacks/requests';
import { parseIcaDemosFile, parseRequestsFile, parseTemplatesFile, type IcaDemosFile, type RequestsFile, type TemplatesFile } from '../attacks/scenarios';
import { buildScenario } from '../lab/build';
import { runEmbeddingScales } from '../lab/defend';
import { defenseRecord } from '../lab/header';
import { composeDefense, type DefenseChoice, type DefenseSpec, type Scenario } from '../lab/scenario';
import { serializeTrace, type Trace } from '../lab/trace';
import { scenarioOfTrace } from './restore';
import { getState, setState, showTrace, type ScenarioSlice, type UiError } from '../store';
import { errorFacts } from '../util/format';
import { isCancel, type Call } from '../worker/client';
import { engine, workError } from './engine';
import { rememberedSelfTest } from './selftest-actions';
import { parseInWorker, type ParseCall } from '../worker/parse-client';
import type { ModelSource, TokenizerSource } from '../worker/protocol';

let loadCall: Call<unknown> | undefined;
let runCall: Call<Trace> | undefined;

/** Asks the worker for a WebGPU adapter; without `navigator.gpu` there is no need to start it. */
export async function probeWebGPU(): Promise<boolean> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    setState({ webgpu: 'missing', webgpuReason: 'no-api' });
    return false;
  }
  try {
    const { adapter, reason } = await engine().probe();
    setState(adapter ? { webgpu: 'available', adapter } : { webgpu: 'missing', webgpuReason: reason ?? 'no-adapter' });
    const remembered = adapter && rememberedSelfTest(adapter.description);
    if (remembered && getState().selfTest?.status !== 'running') setState({ selfTest: { status: 'done', result: remembered } });
    return adapter !== null;
  } catch (error) {
    setState({ webgpu: 'missing', webgpuReason: errorFacts(error).message });
    return false;
  }
}

export interface ModelChoice {
  /** A catalogue id or a URL of a .gguf. */
  readonly model: string;
  readonly tokenizer?: string;
  readonly hub?: string;
}

/** The model and tokenizer sources of a `?model=&tokenizer=&hub=` choice. */
export function resolveChoice(choice: ModelChoice): { model: ModelSource; tokenizer: TokenizerSource; label: string } | { error: string } {
  const hub = (choice.hub || DEFAULT_HUB).replace(/\/+$/, '');
  const entry = findModel(choice.model);
  if (entry) {
    return {
      model: { kind: 'url', url: modelUrl(entry, hub), id: entry.id, name: `${entry.name} ${entry.quant}` },
      tokenizer: { kind: 'hub', repo: choice.tokenizer || entry.tokenizerRepo, hub },
      label: `${entry.name} ${entry.quant}`,
    };
  }
  let url: URL;
  try {
    url = new URL(choice.model, location.href);
  } catch {
    return { error: `“${choice.model}” is neither a catalogue model nor a URL; pick a model from the list or paste the address of a .gguf file.` };
  }
  if (!choice.tokenizer) {
    return { error: 'A model given by URL needs its tokenizer too: add the hub repo with the chat template (for example Qwen/Qwen2.5-0.5B-Instruct).' };
  }
  const name = decodeURIComponent(url.pathname.split('/').pop() || 'model.gguf');
  return { model: { kind: 'url', url: url.href, id: name }, tokenizer: { kind: 'hub', repo: choice.tokenizer, hub }, label: name };
}

/** Cancels whatever works on the current trace: a run, a defense re-run, a map. */
function cancelTraceWork(): void {
  clearTimeout(rerunTimer);
  if (runCall) {
    runCall.cancel();
    // Forget it now, so none of its late steps lands on whatever replaces it.
    runCall = undefined;
    setState({ running: false, labProgress: undefined });
  }
  rerunCall?.cancel();
  rerunCall = undefined;
  mapCall?.cancel();
  mapCall = undefined;
  setState({ rerunning: false, mapPending: false });
}

/**
 * The GPU memory this page may plan to use: half the device memory the browser reports
 * (`navigator.deviceMemory`, GiB; integrated GPUs and SwiftShader share it with everything else),
 * or undefined where the browser does not say.
 */
function memoryBudget(): number | undefined {
  const gib = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  return gib && Number.isFinite(gib) && gib > 0 ? (gib * 2 ** 30) / 2 : undefined;
}

/** The sentence for a model over the memory budget, naming a catalogue model that fits. */
function tooBigError(label: string, needs: number, budget: number): UiError {
  return { name: 'DeviceLimitError', message: tooBigSentence(label, needs, budget) };
}

/** What was loaded last, so a lost GPU device can be recovered from with one button. */
let lastLoad: { model: ModelSource; tokenizer: TokenizerSource; label: string } | undefined;

/** Where the model on screen came from (a demo link loads it from there again). */
export function loadedModelSources(): { readonly model: ModelSource; readonly tokenizer: TokenizerSource } | undefined {
  return getState().summary ? lastLoad : undefined;
}

async function loadWith(model: ModelSource, tokenizer: TokenizerSource, label: string): Promise<boolean> {
  loadCall?.cancel();
  // A new model: a run, re-run or map of the old one must not land on the screen afterwards.
  cancelTraceWork();
  lastLoad = { model, tokenizer, label };
  setState({ status: 'loading', loadingLabel: label, loadProgress: undefined, modelError: undefined, summary: undefined });
  const call = engine().load(model, tokenizer, (progress) => setState({ loadProgress: progress }), memoryBudget());
  loadCall = call;
  try {
    const summary = await call.result;
    if (loadCall !== call) return false;
    const layers = summary.nLayer;
    const { sharpen } = getState();
    // Default sharpening range: the upper half of the layers, where the paper finds safety heads.
    const fits = sharpen.layers[1] < layers && sharpen.layers[1] > 0;
    setState({
      status: 'ready',
      summary,
      loadProgress: undefined,
      sharpen: fits ? sharpen : { ...sharpen, layers: [Math.floor(layers / 2), layers - 1] },
    });
    // Ask the browser not to evict the saved model before the meeting; say whether it agreed.
    if (model.kind === 'url') void requestPersistence().then((storagePersisted) => setState({ storagePersisted }), () => undefined);
    return true;
  } catch (error) {
    if (loadCall !== call) return false;
    setState(isCancel(error) ? { status: 'idle', loadProgress: undefined } : { status: 'error', modelError: errorFacts(error), loadProgress: undefined });
    return false;
  } finally {
    if (loadCall === call) loadCall = undefined;
  }
}

export async function loadModelChoice(choice: ModelChoice): Promise<boolean> {
  const resolved = resolveChoice(choice);
  if ('error' in resolved) {
    setState({ status: 'error', modelError: { name: 'ChoiceError', message: resolved.error } });
    return false;
  }
  // A catalogue model's size is known: refuse one too big for this device before downloading it.
  const entry = findModel(choice.model);
  const budget = memoryBudget();
  if (entry && budget !== undefined && roughGpuBytes(entry) > budget) {
    setState({ status: 'error', modelError: tooBigError(resolved.label, roughGpuBytes(entry), budget) });
    return false;
  }
  return loadWith(resolved.model, resolved.tokenizer, resolved.label);
}

/**
 * After the GPU device was lost: a new device (the worker makes one on the next load), the same
 * model again from the browser's cache, and the scenario on screen run again.
 */
export async function recoverFromDeviceLoss(): Promise<void> {
  if (!lastLoad) return;
  const { trace, traceSource } = getState();
  const rerun = trace !== undefined && traceSource === 'live';
  if (await loadWith(lastLoad.model, lastLoad.tokenizer, lastLoad.label)) {
    if (rerun) await runScenario();
  }
}

export function loadLocalFile(file: File, tokenizer: TokenizerSource): Promise<boolean> {
  return loadWith({ kind: 'file', file, id: file.name }, tokenizer, file.name);
}

export function cancelLoad(): void {
  loadCall?.cancel();
}

// ---- scenario files ------------------------------------------------------------------------

export interface ScenarioFiles {
  readonly requests: RequestsFile;
  readonly templates: TemplatesFile;
  readonly demos: IcaDemosFile;
}

let scenarioFiles: Promise<ScenarioFiles> | undefined;

/** The starter requests, templates and ICA demonstrations from public/scenarios/. */
export function loadScenarioFiles(): Promise<ScenarioFiles> {
  const base = import.meta.env.BASE_URL;
  const text = async (name: string) => {
    const response = await fetch(`${base}scenarios/${name}`);
    if (!response.ok) throw new Error(`Could not load scenarios/${name} (HTTP ${response.status}); reload the page.`);
    return response.text();
  };
  scenarioFiles ??= (async () => ({
    requests: parseRequestsFile(await text('requests.json')),
    templates: parseTemplatesFile(await text('templates.json')),
    demos: parseIcaDemosFile(await text('ica-demos.json')),
  }))();
  scenarioFiles.catch(() => (scenarioFiles = undefined));
  return scenarioFiles;
}

type DefenseSwitches = Pick<ScenarioSlice, 'sharpen' | 'smooth' | 'highlight' | 'sideBySide'>;

/**
 * The defense the scenario's switches describe: the checked defenses combined, or, side by side,
 * the first checked one alone (the others run beside it, see comparedDefensesOf).
 */
export function defenseOf(s: DefenseSwitches): DefenseSpec {
  const parts = defenseChoices(s);
  return s.sideBySide && parts.length > 1 ? composeDefense(parts[0]) : composeDefense(Object.assign({}, ...parts) as DefenseChoice);
}

/** Side by side: each checked defense after the first, alone; otherwise none. */
export function comparedDefensesOf(s: DefenseSwitches): DefenseSpec[] {
  const parts = defenseChoices(s);
  return s.sideBySide && parts.length > 1 ? parts.slice(1).map(composeDefense) : [];
}

/** Each checked defense's settings, in the order sharpening, Token Highlighter, SmoothLLM. */
function defenseChoices(s: DefenseSwitches): DefenseChoice[] {
  const sharpening = {
    temperature: s.sharpen.temperature,
    layers: [Math.min(...s.sharpen.layers), Math.max(...s.sharpen.layers)] as [number, number],
    ...(s.sharpen.heads?.length ? { heads: s.sharpen.heads } : {}),
  };
  const smooth = { n: s.smooth.n, q: s.smooth.q, perturbation: s.smooth.perturbation };
  const highlighter = { affirmation: s.highlight.affirmation, alpha: s.highlight.alpha, beta: s.highlight.beta };
  return [...(s.sharpen.enabled ? [{ sharpening }] : []), ...(s.highlight.enabled ? [{ highlighter }] : []), ...(s.smooth.enabled ? [{ smooth }] : [])];
}

/** The lab scenario for the current settings (the same builder `eval` uses). */
export function appScenario(s: ScenarioSlice, files: ScenarioFiles): Scenario {
  const request = s.requestText.trim();
  const user = s.userRequests.find((r) => `user:${r.id}` === s.requestId);
  const known = user ?? [...files.requests.harmful, ...files.requests.benign].find((r) => r.id === s.requestId);
  const compare = comparedDefensesOf(s);
  const scenario = buildScenario(
    {
      request: { ...(known ? { id: known.id, category: known.category } : {}), text: request, language: s.language },
      attack: s.attack,
      steps: s.steps,
      suffix: { target: s.target.trim() || 'Sure, here is', iterations: s.suffixIterations, length: s.suffixLength },
      gcg: { target: s.target.trim() || GCG_DEFAULTS.target, topK: s.gcgTopK, batch: s.gcgBatch, suffix: s.gcgSuffix },
      customPrompts: s.customPrompts,
      defense: defenseOf(s),
      maxNewTokens: s.maxNewTokens,
      seed: s.seed,
    },
    files,
  );
  return compare.length > 0 ? { ...scenario, compare } : scenario;
}

/** Runs the current scenario; steps appear in the charts as they finish. */
export async function runScenario(): Promise<void> {
  const state = getState();
  if (state.status !== 'ready' || state.running) return;
  if (state.requestText.trim() === '') {
    setState({ runError: { name: 'EmptyRequest', message: 'The request is empty; type the request the attack should try to get answered.' } });
    return;
  }
  let scenario: Scenario;
  try {
    scenario = appScenario(state, await loadScenarioFiles());
  } catch (error) {
    setState({ runError: errorFacts(error) });
    return;
  }
  cancelTraceWork();
  setState({ running: true, runError: undefined, labProgress: undefined, playing: false });
  // The steps of this run, kept here: the store's trace may be replaced meanwhile (an import).
  const steps: Trace['steps'] = [];
  const call = engine().run(scenario, {
    onProgress: (labProgress) => setState({ labProgress }),
    onStep: (step, header) => {
      if (runCall !== call) return;
      steps.push(step);
      const trace = { ...header, steps: [...steps] } as Trace;
      if (steps.length === 1) showTrace(trace, 'live');
      else setState({ trace, traceSource: 'live', step: steps.length - 1 });
    },
  });
  runCall = call;
  try {
    const trace = await call.result;
    if (runCall !== call) return;
    setState({ trace, traceSource: 'live', running: false, labProgress: undefined });
    // The slider moved during the run: bring the defended runs up to date.
    const now = getState();
    if (JSON.stringify([defenseOf(now), comparedDefensesOf(now)]) !== JSON.stringify([scenario.defense, scenario.compare ?? []])) scheduleDefenseRerun(0);
  } catch (error) {
    if (runCall === call) setState({ running: false, labProgress: undefined, runError: workError(error) });
  } finally {
    if (runCall === call) runCall = undefined;
  }
}

export function cancelRun(): void {
  runCall?.cancel();
}

let rerunTimer: ReturnType<typeof setTimeout> | undefined;
let rerunCall: Call<Trace> | undefined;

/**
 * Re-runs the defended runs of the live trace with the current defense settings (the temperature
 * slider and layer range), shortly after the last change; an older re-run is cancelled.
 */
export function scheduleDefenseRerun(delayMs = 350): void {
  clearTimeout(rerunTimer);
  // Only a live trace of the loaded model can be re-run (not an import, not another model's).
  const canRerun = () => {
    const { trace, traceSource, status, running, summary } = getState();
    return trace !== undefined && traceSource === 'live' && status === 'ready' && !running && trace.settings.model.id === summary?.id;
  };
  // From the change on, not only once the re-run starts: the charts' defended values are already stale.
  if (canRerun()) setState({ rerunning: true });
  rerunTimer = setTimeout(async () => {
    if (!canRerun()) {
      if (!rerunCall) setState({ rerunning: false });
      return;
    }
    const trace = getState().trace!;
    rerunCall?.cancel();
    mapCall?.cancel();
    // The side-by-side runs are re-run only when they changed (the slider moves only the defense).
    const compare = comparedDefensesOf(getState());
    const compareChanged = JSON.stringify(compare.map((d) => defenseRecord(d))) !== JSON.stringify(trace.settings.compare ?? []);
    const call = engine().rerunDefense(trace, defenseOf(getState()), (labProgress) => setState({ labProgress }), compareChanged ? compare : undefined);
    rerunCall = call;
    setState({ rerunning: true, mapPending: false });
    try {
      const updated = await call.result;
      if (rerunCall !== call) return;
      rerunCall = undefined;
      if (getState().trace !== trace) return setState({ rerunning: false, labProgress: undefined });
      setState({ trace: updated, rerunning: false, labProgress: undefined, showDefended: getState().showDefended && updated.steps[0]?.defended !== undefined });
    } catch (error) {
      if (rerunCall !== call) return;
      setState({ rerunning: false, labProgress: undefined, runError: workError(error) });
    }
  }, delayMs);
}

let mapCall: Call<unknown> | undefined;

/**
 * Computes the selected head's map for the shown step (undefended or defended run) and stores it
 * in the trace, so the matrix panel (and a saved trace) has it.
 */
export async function requestMap(stepIndex: number, defended: boolean, layer: number, head: number): Promise<void> {
  const { trace, status, summary } = getState();
  const step = trace?.steps[stepIndex];
  const run = defended ? step?.defended : step;
  if (!trace || !run || status !== 'ready' || trace.settings.model.id !== summary?.id) return;
  mapCall?.cancel();
  // The defense the shown defended run was made with (the slider may have moved since).
  const defense = defended ? ({ kind: trace.settings.defense.kind, ...trace.settings.defense.settings } as DefenseSpec) : ({ kind: 'none' } as const);
  const call = engine().map(run.tokens, layer, head, defense, defended ? runEmbeddingScales(run) : undefined);
  mapCall = call;
  setState({ mapPending: true });
  try {
    const map = await call.result;
    if (mapCall !== call) return;
    mapCall = undefined;
    const current = getState().trace;
    if (current !== trace) return setState({ mapPending: false });
    const steps = current.steps.map((s, i) => (i !== stepIndex ? s : defended && s.defended ? { ...s, defended: { ...s.defended, map } } : { ...s, map }));
    setState({ trace: { ...current, steps }, mapPending: false });
  } catch (error) {
    if (mapCall === call) setState({ mapPending: false, runError: workError(error) });
  }
}

// Files are parsed in a worker of their own (parse-client.ts), so a large or hostile file never
// stalls the page; a file chosen while the last one is still parsing stops that parse.
let requestsRead: ParseCall<EvalRequest[]> | undefined;
let traceRead: ParseCall<Trace> | undefined;

/** Adds the requests of a CSV (a `goal` column) or requests.json to the picker, and picks the first. */
export async function loadRequestsFile(file: File): Promise<void> {
  requestsRead?.cancel();
  const read = parseInWorker({ kind: 'requests', file, fileName: file.name, language: getState().language });
  requestsRead = read;
  try {
    const requests = await read.result;
    if (requestsRead !== read) return;
    const first = requests[0];
    setState({ userRequests: requests, requestId: `user:${first.id}`, requestText: first.goal, target: first.target, runError: undefined });
  } catch (error) {
    if (requestsRead === read) setState({ runError: errorFacts(error) });
  } finally {
    if (requestsRead === read) requestsRead = undefined;
  }
}

// ---- traces --------------------------------------------------------------------------------

/** Replays a trace file; a file that is not a readable trace leaves the trace on screen as it was. */
export async function importTraceFile(file: File): Promise<boolean> {
  traceRead?.cancel();
  const read = parseInWorker({ kind: 'trace', file });
  traceRead = read;
  setState({ traceReading: file.name, traceError: undefined });
  try {
    const trace = await read.result;
    // The starter requests, so a replayed starter shows as itself in the picker (not as typed text).
    const files = await loadScenarioFiles().catch(() => undefined);
    if (traceRead !== read) return false;
    cancelTraceWork();
    showTrace(trace, 'imported');
    // The form shows the trace's scenario, so Run runs it again instead of something else.
    setState(scenarioOfTrace(trace, getState(), files ? [...files.requests.harmful, ...files.requests.benign] : []));
    return true;
  } catch (error) {
    if (traceRead === read) setState({ traceError: errorFacts(error) });
    return false;
  } finally {
    if (traceRead === read) {
      traceRead = undefined;
      setState({ traceReading: undefined });
    }
  }
}

/** Downloads `text` as a file. */
export function saveFile(name: string, text: string | Blob, type = 'application/json'): void {
  const blob = typeof text === 'string' ? new Blob([text], { type }) : text;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function traceFileName(trace: Trace): string {
  const slug = (trace.request.id ?? trace.request.text.slice(0, 32))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `slip-lab-trace-${trace.settings.attack.kind}-${slug || 'request'}.json`;
}

export function exportTrace(): void {
  const { trace } = getState();
  if (trace) saveFile(traceFileName(trace), serializeTrace(trace, { pretty: false }));
}

export { CATALOGUE };
