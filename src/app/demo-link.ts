// Demo links: the scenario on screen written as a link (the URL contract, url.ts), and a link's
// settings put back into the store, so that the copied link, opened anywhere, runs the same trace.

import { DEFAULT_HUB, findModel } from '../../models/catalogue';
import { GCG_APP_DEFAULTS } from '../attacks/gcg';
import { requestText, targetText, type RequestsFile } from '../attacks/scenarios';
import { defenseKindWith, defenseParts, partsOfDefense } from '../lab/kinds';
import { getState, setState, type AppState } from '../store';
import type { ModelSource, TokenizerSource } from '../worker/protocol';
import type { LinkSettings, UrlParams } from './url';

/** Where a link loads the model from: `model=`, `tokenizer=`, `hub=`; or why it cannot. */
export type ModelLink = { readonly model: string; readonly tokenizer?: string; readonly hub?: string } | { readonly local: true };

/** The link parameters that load this model again, or `local` for a file picked on this computer. */
export function modelLinkOf(model: ModelSource, tokenizer: TokenizerSource): ModelLink {
  if (model.kind === 'file' || tokenizer.kind === 'files') return { local: true };
  const hub = tokenizer.hub && tokenizer.hub.replace(/\/+$/, '') !== DEFAULT_HUB ? tokenizer.hub : undefined;
  const entry = findModel(model.id);
  if (entry) return { model: entry.id, hub, ...(tokenizer.repo !== entry.tokenizerRepo ? { tokenizer: tokenizer.repo } : {}) };
  return { model: model.url, tokenizer: tokenizer.repo, hub };
}

/**
 * Everything a run depends on, as link settings: the request and its language, the attack and its
 * settings, each checked defense with its settings, response length and seed, the UI language,
 * and whether the link opens presenter mode once the run is done.
 */
export function linkSettingsOf(s: AppState, model: ModelLink | undefined, uiLanguage: 'en' | 'ja', present: boolean): LinkSettings {
  const checked = { sharpening: s.sharpen.enabled, highlighter: s.highlight.enabled, smoothllm: s.smooth.enabled };
  const searches = s.attack === 'suffix' || s.attack === 'gcg';
  return {
    ...(model && !('local' in model) ? model : {}),
    lang: uiLanguage,
    request: s.requestText.trim(),
    ...(s.language !== uiLanguage ? { requestLang: s.language } : {}),
    attack: s.attack,
    ...(s.attack !== 'none' && s.attack !== 'custom' ? { steps: s.steps } : {}),
    ...(searches ? { target: s.target.trim() } : {}),
    ...(s.attack === 'suffix' ? { iterations: s.suffixIterations } : {}),
    ...(s.attack === 'gcg' ? { gcgTopK: s.gcgTopK, gcgBatch: s.gcgBatch, gcgSuffix: s.gcgSuffix.trim() || undefined } : {}),
    ...(s.attack === 'custom' ? { custom: s.customPrompts } : {}),
    defense: defenseKindWith(defenseParts.filter((part) => checked[part])),
    ...(s.sharpen.enabled
      ? {
          temperature: s.sharpen.temperature,
          layers: [Math.min(...s.sharpen.layers), Math.max(...s.sharpen.layers)] as [number, number],
          heads: s.sharpen.heads,
        }
      : {}),
    ...(s.highlight.enabled ? { thAlpha: s.highlight.alpha, thBeta: s.highlight.beta, thAffirmation: s.highlight.affirmation } : {}),
    ...(s.smooth.enabled ? { smoothN: s.smooth.n, smoothQ: s.smooth.q, smoothPerturbation: s.smooth.perturbation } : {}),
    sideBySide: s.sideBySide && Object.values(checked).filter(Boolean).length > 1,
    tokens: s.maxNewTokens,
    seed: s.seed,
    run: true,
    present,
  };
}

/**
 * Puts a link's scenario into the store before the model loads: the request (a starter one when the
 * link has none), the attack, the defenses and their settings. Layers and heads wait for the model
 * (applyLinkModelSettings), which says how many it has.
 */
export function applyLinkScenario(params: UrlParams, requests: RequestsFile | undefined, uiLanguage: 'en' | 'ja'): void {
  const language = params.requestLang ?? params.lang ?? uiLanguage;
  setState({ language });
  const starter = requests?.harmful[0];
  if (params.request) {
    const known = requests && [...requests.harmful, ...requests.benign].find((r) => r.goal === params.request || r.goal_ja === params.request);
    setState({ requestText: params.request, requestId: known?.id ?? 'custom', ...(known ? { target: targetText(known, language) } : {}) });
  } else if (starter) {
    // A starter request in the scenario language, so the panel is never empty.
    setState({ requestId: starter.id, requestText: requestText(starter, language), target: targetText(starter, language) });
  }
  if (params.target) setState({ target: params.target });
  // GCG's own default step count (50) unless the link sets one.
  if (params.attack) setState({ attack: params.attack, ...(params.attack === 'gcg' ? { steps: GCG_APP_DEFAULTS.steps } : {}) });
  const s = getState();
  setState({
    steps: params.steps ?? s.steps,
    maxNewTokens: params.tokens ?? s.maxNewTokens,
    seed: params.seed ?? s.seed,
    suffixIterations: params.iterations ?? s.suffixIterations,
    gcgTopK: params.gcgTopK ?? s.gcgTopK,
    gcgBatch: params.gcgBatch ?? s.gcgBatch,
    gcgSuffix: params.gcgSuffix ?? s.gcgSuffix,
    customPrompts: params.custom ?? s.customPrompts,
  });
  const parts = params.defense ? partsOfDefense(params.defense) : undefined;
  const { sharpen, smooth, highlight } = getState();
  setState({
    sharpen: { ...sharpen, enabled: parts ? parts.includes('sharpening') : sharpen.enabled, temperature: params.temperature ?? sharpen.temperature },
    smooth: {
      ...smooth,
      enabled: parts ? parts.includes('smoothllm') : smooth.enabled,
      n: params.smoothN ?? smooth.n,
      q: params.smoothQ ?? smooth.q,
      perturbation: params.smoothPerturbation ?? smooth.perturbation,
    },
    highlight: {
      ...highlight,
      enabled: parts ? parts.includes('highlighter') : highlight.enabled,
      alpha: params.thAlpha ?? highlight.alpha,
      beta: params.thBeta ?? highlight.beta,
      affirmation: params.thAffirmation ?? highlight.affirmation,
    },
    ...(parts ? { sideBySide: params.sideBySide } : {}),
  });
}

/** The link's sharpened layers and heads, once the model says how many it has; a sentence for each that does not fit. */
export function applyLinkModelSettings(params: UrlParams, model: { readonly nLayer: number; readonly nHead: number }): string[] {
  const problems: string[] = [];
  const { sharpen } = getState();
  let { layers, heads } = sharpen;
  if (params.layers) {
    if (params.layers[1] < model.nLayer) layers = [params.layers[0], params.layers[1]];
    else problems.push(`The link's layers "${params.layers.join('-')}" are outside this model's layers 0-${model.nLayer - 1}; the upper half (${layers.join('-')}) is sharpened instead.`);
  }
  if (params.heads) {
    if (params.heads.every((head) => head < model.nHead)) heads = [...params.heads];
    else problems.push(`The link's heads "${params.heads.join(',')}" are outside this model's heads 0-${model.nHead - 1}; all heads are sharpened instead.`);
  }
  setState({ sharpen: { ...sharpen, layers, heads } });
  return problems;
}
