// A replayed trace's scenario, as the scenario panel's settings: request, attack and its settings,
// steps, defense and its settings (layers, heads), response length and seed, so that Run runs the
// trace's scenario again rather than whatever the form held before.

import type { EvalRequest } from '../attacks/requests';
import { targetText, type ScenarioRequest } from '../attacks/scenarios';
import { attackKinds, type AttackKind } from '../lab/kinds';
import type { Trace } from '../lab/trace';
import type { ScenarioSlice } from '../store';

type Settings = Readonly<Record<string, unknown>>;

const isObject = (value: unknown): value is Settings => typeof value === 'object' && value !== null && !Array.isArray(value);
const int = (value: unknown, min: number, max: number): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
const finite = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The scenario panel's defense switches for a recorded defense and the ones compared beside it. */
function defenseSwitches(trace: Trace, current: ScenarioSlice): Pick<ScenarioSlice, 'sharpen' | 'smooth' | 'highlight' | 'sideBySide'> {
  const records = [trace.settings.defense, ...(trace.settings.compare ?? [])];
  const settingsOf = (part: 'sharpening' | 'smooth' | 'highlighter'): Settings | undefined => {
    for (const record of records) {
      const value = record.settings[part];
      if (isObject(value)) return value;
    }
    return undefined;
  };
  const enabled = (part: 'sharpening' | 'smoothllm' | 'highlighter') => records.some((r) => r.kind.split('+').includes(part));

  const s = settingsOf('sharpening');
  const layers = Array.isArray(s?.layers) && s.layers.length === 2 ? s.layers.map((l) => int(l, 0, 10_000)) : [];
  const heads = Array.isArray(s?.heads) ? s.heads.map((h) => int(h, 0, 10_000)).filter((h): h is number => h !== undefined) : [];
  const sharpen = {
    enabled: enabled('sharpening'),
    temperature: finite(s?.temperature) ?? current.sharpen.temperature,
    layers: layers[0] !== undefined && layers[1] !== undefined ? ([layers[0], layers[1]] as [number, number]) : current.sharpen.layers,
    ...(heads.length > 0 ? { heads } : {}),
  };

  const m = settingsOf('smooth');
  const perturbation = text(m?.perturbation);
  const smooth = {
    enabled: enabled('smoothllm'),
    n: int(m?.n, 1, 1000) ?? current.smooth.n,
    q: finite(m?.q) ?? current.smooth.q,
    perturbation: perturbation === 'swap' || perturbation === 'insert' || perturbation === 'patch' ? perturbation : current.smooth.perturbation,
  };

  const h = settingsOf('highlighter');
  const highlight = {
    enabled: enabled('highlighter'),
    alpha: finite(h?.alpha) ?? current.highlight.alpha,
    beta: finite(h?.beta) ?? current.highlight.beta,
    affirmation: text(h?.affirmation) ?? current.highlight.affirmation,
  };
  return { sharpen, smooth, highlight, sideBySide: (trace.settings.compare?.length ?? 0) > 0 };
}

/** A custom attack's prompts back as the JSON the panel reads, `{request}` where the request was. */
function customPromptsOf(trace: Trace): string {
  const prompts = trace.steps.map((step) => ({
    label: step.label,
    prompt: (step.segments ?? [])
      .filter((segment) => segment.kind !== 'system')
      .map((segment) => (segment.kind === 'request' ? '{request}' : segment.text))
      .join(''),
  }));
  return JSON.stringify(prompts, null, 2);
}

/** The attack, its step count and its own settings as the panel holds them. */
function attackSettings(trace: Trace, current: ScenarioSlice): Partial<ScenarioSlice> {
  const kind = trace.settings.attack.kind;
  const attack: AttackKind = (attackKinds as readonly string[]).includes(kind) ? kind : current.attack;
  const a = trace.settings.attack.settings;
  // Step 0 is the plain request: the panel counts the steps after it.
  const recordedSteps = Math.max(1, trace.steps.length - 1);
  switch (attack) {
    case 'ladder':
      return { attack, steps: Array.isArray(a.templates) ? Math.max(1, a.templates.length - 1) : recordedSteps };
    case 'ica':
      return { attack, steps: int(a.maxShots, 1, 1000) ?? recordedSteps };
    case 'suffix': {
      const target = text(a.target);
      const iterations = int(a.iterations, 1, 100_000);
      const length = int(a.suffixLength, 1, 1000);
      return {
        attack,
        steps: int(a.maxSteps, 1, 1000) ?? recordedSteps,
        ...(target !== undefined ? { target } : {}),
        ...(iterations !== undefined ? { suffixIterations: iterations } : {}),
        ...(length !== undefined ? { suffixLength: length } : {}),
      };
    }
    case 'gcg': {
      const target = text(a.target);
      const topK = int(a.topK, 1, 1024);
      const batch = int(a.batch, 1, 1024);
      return {
        attack,
        steps: int(a.iterations, 1, 100_000) ?? recordedSteps,
        ...(target !== undefined ? { target } : {}),
        ...(topK !== undefined ? { gcgTopK: topK } : {}),
        ...(batch !== undefined ? { gcgBatch: batch } : {}),
        gcgSuffix: text(a.suffix) ?? '',
      };
    }
    case 'custom':
      return { attack, customPrompts: customPromptsOf(trace) };
    case 'none':
      return { attack };
  }
}

/**
 * The scenario panel's settings that reproduce `trace`: everything it records, the rest of the
 * form (`current`) kept. A starter request is picked when the trace names one of them.
 */
export function scenarioOfTrace(trace: Trace, current: ScenarioSlice, starters: readonly (ScenarioRequest | EvalRequest)[] = []): Partial<ScenarioSlice> {
  const language = trace.request.language ?? current.language;
  const { id, text: request } = trace.request;
  const same = (r: ScenarioRequest | EvalRequest) => r.id === id && (r.goal === request || ('goal_ja' in r && r.goal_ja === request));
  const user = current.userRequests.find(same);
  const known = user ? undefined : starters.find(same);
  const requestId = user ? `user:${user.id}` : known ? known.id : 'custom';
  // The ladder and ICA do not record a target; a starter request has its own in each language.
  const starter = known && 'target_ja' in known ? (known as ScenarioRequest) : undefined;
  const target: string | undefined = starter ? targetText(starter, language) : user?.target;
  const maxNewTokens = int(trace.settings.generation?.maxNewTokens, 1, 256);
  const seed = int(trace.settings.seeds.attack, 0, Number.MAX_SAFE_INTEGER);
  return {
    language,
    requestId,
    requestText: request,
    ...(target ? { target } : {}),
    ...attackSettings(trace, current),
    ...defenseSwitches(trace, current),
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
}
