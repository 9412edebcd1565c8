// The temperature sweep from the app: the current request's attack and a set of everyday prompts at
// each T of a grid, in the engine worker, with progress, time left and cancel; and the user's own
// everyday prompts from a CSV.

import { parseBenign, type BenignPrompt } from '../attacks/benign';
import { checkRequestsSize } from '../attacks/requests';
import type { SweepResult } from '../lab/sweep';
import { getState, setState } from '../store';
import { errorFacts } from '../util/format';
import type { Call } from '../worker/client';
import { appScenario, defenseOf, loadScenarioFiles } from './actions';
import { engine, workError } from './engine';
import { parseTemperatures } from './sweep-grid';

let shipped: Promise<string> | undefined;

/** The shipped everyday prompts (public/scenarios/benign.csv) in `language`. */
async function shippedBenign(language: 'en' | 'ja'): Promise<BenignPrompt[]> {
  shipped ??= fetch(`${import.meta.env.BASE_URL}scenarios/benign.csv`).then((response) => {
    if (!response.ok) throw new Error(`Could not load scenarios/benign.csv (HTTP ${response.status}); reload the page.`);
    return response.text();
  });
  shipped.catch(() => (shipped = undefined));
  return parseBenign(await shipped, 'benign.csv', language).filter((prompt) => prompt.language === language);
}

/** The everyday prompts a sweep would use now: the first `benignCount` of the chosen set. */
export async function sweepBenign(): Promise<BenignPrompt[]> {
  const { benignSource, userBenign, benignCount, language } = getState();
  const all = benignSource === 'user' ? userBenign : await shippedBenign(language);
  return all.slice(0, Math.max(1, benignCount));
}

/** The sweep in progress: its worker call once sent, and whether Cancel was pressed before that. */
let current: { call?: Call<SweepResult>; cancelled: boolean } | undefined;

/** Runs the sweep on the loaded model; the trade-off panel shows it when done. */
export async function runTemperatureSweep(): Promise<void> {
  const state = getState();
  const temperatures = parseTemperatures(state.sweepTemperatures);
  if (state.status !== 'ready' || !state.summary || state.sweepRunning || !temperatures || state.requestText.trim() === '') return;
  const modelId = state.summary.id;
  const mine: { call?: Call<SweepResult>; cancelled: boolean } = { cancelled: false };
  current = mine;
  setState({ sweepRunning: true, sweepProgress: undefined, sweepError: undefined });
  try {
    const scenario = appScenario(state, await loadScenarioFiles());
    const benign = await sweepBenign();
    // Cancelled while the scenario files and prompts were read: nothing was sent.
    if (mine.cancelled) return;
    const [first, last] = state.sharpen.layers;
    const call = engine().sweep(
      {
        scenarios: [scenario],
        benign,
        temperatures,
        layers: [Math.min(first, last), Math.max(first, last)],
        ...(state.sharpen.heads?.length ? { heads: state.sharpen.heads } : {}),
        // Token Highlighter or SmoothLLM, when checked, join sharpening at every T.
        defense: defenseOf(state),
        answerTokens: state.maxNewTokens,
        seed: state.seed,
      },
      (sweepProgress) => {
        if (current === mine) setState({ sweepProgress });
      },
    );
    mine.call = call;
    const sweep = await call.result;
    if (current === mine) setState({ sweep, sweepModelId: modelId });
  } catch (error) {
    if (current === mine) setState({ sweepError: mine.call ? workError(error) : errorFacts(error) });
  } finally {
    if (current === mine) {
      current = undefined;
      setState({ sweepRunning: false, sweepProgress: undefined });
    }
  }
}

export function cancelSweep(): void {
  if (!current) return;
  current.cancelled = true;
  current.call?.cancel();
}

/** Reads the user's everyday prompts (CSV with a goal column) and picks them for the sweep. */
export async function loadBenignFile(file: File): Promise<void> {
  try {
    checkRequestsSize(file.size, file.name);
    const prompts = parseBenign(await file.text(), file.name, getState().language);
    setState({ userBenign: prompts, benignSource: 'user', benignCount: prompts.length, sweepError: undefined });
  } catch (error) {
    setState({ sweepError: errorFacts(error) });
  }
}
