// "Download report": the PoC report (src/report) of the trace on screen and the sweep of the same
// model, in the UI language, with the model file's SHA-256 when that model is loaded.

import type { TFunction } from 'i18next';
import { version as APP_VERSION } from '../../package.json';
import { renderReport, reportFileName, type ReportModelFacts } from '../report';
import { getState, setState } from '../store';
import { loadScenarioFiles, saveFile } from './actions';
import { engine, workError } from './engine';
import { withLocalLabels } from './labels';

/** The sweep that belongs with the trace on screen (same model), or the sweep alone without a trace. */
export function reportSweep() {
  const { trace, sweep, sweepModelId } = getState();
  return sweep && (!trace || trace.settings.model.id === sweepModelId) ? sweep : undefined;
}

export async function downloadReport(language: 'en' | 'ja', t: TFunction): Promise<void> {
  const state = getState();
  const sweep = reportSweep();
  if ((!state.trace && !sweep) || state.reportPending) return;
  const modelId = state.trace?.settings.model.id ?? state.sweepModelId ?? 'model';
  setState({ reportPending: true, reportError: undefined });
  const templates = await loadScenarioFiles().then((files) => files.templates.templates, () => undefined);
  const trace = state.trace && withLocalLabels(state.trace, t, { language, templates });
  let model: ReportModelFacts | undefined;
  try {
    // The exact file is known only while that model is loaded; otherwise the report says "not computed".
    if (state.status === 'ready' && state.summary?.id === modelId) {
      try {
        const hash = await engine().modelHash().result;
        model = { sha256: hash.sha256, fileBytes: hash.bytes };
      } catch (error) {
        setState({ reportError: workError(error) });
      }
    }
    const html = renderReport({
      language,
      traces: trace ? [trace] : [],
      ...(sweep ? { sweep } : {}),
      showOutput: state.reportShowOutput,
      ...(model ? { model } : {}),
      appVersion: APP_VERSION,
      ...(state.sharpen.enabled ? { markedTemperature: state.sharpen.temperature } : {}),
      modelName: modelId,
    });
    saveFile(reportFileName(modelId), new Blob([html], { type: 'text/html;charset=utf-8' }));
  } finally {
    setState({ reportPending: false });
  }
}
