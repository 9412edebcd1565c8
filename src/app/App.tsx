// The app shell: header (language, trace import/export, share link, presenter), the model and
// scenario panels, and the stage with the charts. Reads the URL contract on open.

import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { getState, setState, useApp } from '../store';
import { setLanguage, type UiLanguage } from '../i18n';
import { exportTrace, importTraceFile, loadModelChoice, loadScenarioFiles, probeWebGPU, runScenario } from './actions';
import { checkThisComputer } from './selftest-actions';
import { Costs } from './Costs';
import { applyLinkModelSettings, applyLinkScenario } from './demo-link';
import { downloadReport } from './report-actions';
import { ErrorMessage } from './ErrorMessage';
import { FileButton } from './FileButton';
import { withLocalLabels, type TemplateNames } from './labels';
import { ModelPanel } from './ModelPanel';
import { Presenter, startPresenting } from './Presenter';
import { RunStatus } from './RunStatus';
import { SCENARIO_PANEL_ID, ScenarioPanel } from './ScenarioPanel';
import { ShareMenu } from './ShareMenu';
import { Stage } from './Stage';
import { parseUrlParams } from './url';

/** Opens the URL's model and, with run=1, its scenario: one link, one ready demo. */
async function followUrl(): Promise<string[]> {
  const params = parseUrlParams(location.search);
  if (params.lang) setLanguage(params.lang);
  const files = await loadScenarioFiles().catch(() => undefined);
  applyLinkScenario(params, files?.requests, params.lang ?? (document.documentElement.lang === 'ja' ? 'ja' : 'en'));
  if (!params.model) {
    if (params.selftest && (await probeWebGPU())) await checkThisComputer();
    return [...params.problems];
  }
  if (!(await probeWebGPU())) return [...params.problems];
  const loaded = await loadModelChoice({ model: params.model, tokenizer: params.tokenizer, hub: params.hub });
  const summary = getState().summary;
  const problems = [...params.problems, ...(loaded && summary ? applyLinkModelSettings(params, summary) : [])];
  if (params.selftest) await checkThisComputer();
  if (loaded && params.run) {
    await runScenario();
    if (params.present && getState().trace) startPresenting();
  }
  return problems;
}

let started = false;

/**
 * "Skip to the scenario": first in Tab order, shown only when focused, it moves focus past the
 * header and the model panel (about twenty Tab presses) to the scenario panel.
 */
function SkipLink() {
  const { t } = useTranslation();
  return (
    <a
      className="skip-link"
      href={`#${SCENARIO_PANEL_ID}`}
      data-testid="skip-link"
      onClick={(event) => {
        // Focus without touching the address: a copied demo link keeps no #fragment.
        event.preventDefault();
        document.getElementById(SCENARIO_PANEL_ID)?.focus();
      }}
    >
      {t('shell.skipToScenario')}
    </a>
  );
}

function NoWebGPU({ reason }: { reason?: string }) {
  const { t } = useTranslation();
  return (
    <div className="notice" role="alert" data-testid="no-webgpu">
      <strong>{t('shell.noWebgpuTitle')}</strong>
      <p>{t('shell.noWebgpuBody')}</p>
      <ul>
        <li>{t('shell.noWebgpuChrome')}</li>
        <li>{t('shell.noWebgpuFlag')}</li>
        <li>{t('shell.noWebgpuOther')}</li>
      </ul>
      <p>{t('shell.noWebgpuReplay')}</p>
      {reason && reason !== 'no-api' && reason !== 'no-adapter' && (
        <details>
          <summary>{t('shell.technical')}</summary>
          <p className="muted" lang="en">
            {reason}
          </p>
        </details>
      )}
    </div>
  );
}

export function App() {
  const { t, i18n } = useTranslation();
  const trace = useApp((s) => s.trace);
  const presenting = useApp((s) => s.presenting);
  const webgpu = useApp((s) => s.webgpu);
  const webgpuReason = useApp((s) => s.webgpuReason);
  const traceError = useApp((s) => s.traceError);
  const traceReading = useApp((s) => s.traceReading);
  const summary = useApp((s) => s.summary);
  const sweep = useApp((s) => s.sweep);
  const sweepModelId = useApp((s) => s.sweepModelId);
  const reportShowOutput = useApp((s) => s.reportShowOutput);
  const reportPending = useApp((s) => s.reportPending);
  const reportError = useApp((s) => s.reportError);
  const [problems, setProblems] = useState<string[]>([]);
  const params = useRef(parseUrlParams(location.search));

  useEffect(() => {
    // Once per page, even when StrictMode mounts the app twice in development.
    if (started) return;
    started = true;
    void followUrl().then(setProblems);
    // Without a model in the URL, still find out whether WebGPU works, to say so up front.
    if (!params.current.model && !params.current.selftest) void probeWebGPU();
  }, []);

  // Keyboard: space plays, arrows step, P presents (outside text fields).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (getState().presenting || event.altKey || event.ctrlKey || event.metaKey) return;
      if (target && (target.closest('input, textarea, select, [contenteditable], [role="grid"], [role="slider"], .chart-focus') || target.isContentEditable)) return;
      const { trace: current, step } = getState();
      if (!current) return;
      if (event.key === 'p' || event.key === 'P') {
        startPresenting();
      } else if (event.key === 'ArrowRight') {
        setState({ step: Math.min(current.steps.length - 1, step + 1), playing: false });
      } else if (event.key === 'ArrowLeft') {
        setState({ step: Math.max(0, step - 1), playing: false });
      } else return;
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const language = (i18n.resolvedLanguage ?? 'en') as UiLanguage;
  // The ladder's template names in both languages, so a step label follows the UI language.
  const [templates, setTemplates] = useState<readonly TemplateNames[]>();
  useEffect(() => {
    loadScenarioFiles().then((files) => setTemplates(files.templates.templates), () => undefined);
  }, []);
  // What the panels show: step labels in the UI language, defenses named from their settings.
  const shown = useMemo(() => trace && withLocalLabels(trace, t, { language, templates }), [trace, t, language, templates]);
  return (
    <div className="app">
      <SkipLink />
      <header className="app-header">
        <h1>
          {t('app.title')}
          <span className="tagline">{t('shell.tagline')}</span>
        </h1>
        <nav className="header-actions" aria-label={t('shell.actions')}>
          <FileButton accept=".json,application/json" onFile={(file) => void importTraceFile(file)} inputTestId="trace-file" testId="import-trace">
            {t('shell.importTrace')}
          </FileButton>
          <button type="button" onClick={exportTrace} disabled={!trace} data-testid="export-trace">
            {t('shell.exportTrace')}
          </button>
          <button
            type="button"
            onClick={() => void downloadReport(language, t)}
            disabled={(!trace && !sweep) || reportPending}
            title={t('report.includeOutputHint')}
            data-testid="download-report"
          >
            {reportPending ? t('report.preparing') : t('report.download')}
          </button>
          <label className="check header-check" title={t('report.includeOutputHint')}>
            <input type="checkbox" checked={reportShowOutput} onChange={(e) => setState({ reportShowOutput: e.target.checked })} data-testid="report-show-output" />
            {t('report.includeOutput')}
          </label>
          <ShareMenu language={language} />
          <button type="button" className="primary" onClick={startPresenting} disabled={!trace} data-testid="present">
            {t('shell.present')}
          </button>
          <select aria-label={t('language.label')} value={language} onChange={(e) => setLanguage(e.target.value as UiLanguage)} data-testid="language">
            <option value="en">{t('language.en')}</option>
            <option value="ja">{t('language.ja')}</option>
          </select>
        </nav>
      </header>
      {/* Sticks to the top of the window while a run or re-run goes on, however far the page is scrolled. */}
      <RunStatus />
      <div className="app-body">
        <aside className="sidebar">
          <ModelPanel hub={params.current.hub} />
          <ScenarioPanel />
        </aside>
        <main className="main" id="main">
          {webgpu === 'missing' && <NoWebGPU reason={webgpuReason} />}
          {problems.map((p) => (
            <p key={p} className="error" role="alert">
              {p}
            </p>
          ))}
          {traceReading && (
            <p className="muted" role="status" data-testid="trace-reading">
              {t('shell.readingTrace', { name: traceReading })}
            </p>
          )}
          {traceError && <ErrorMessage error={traceError} testId="trace-error" />}
          {reportError && <ErrorMessage error={reportError} testId="report-error" />}
          {shown ? (
            <Stage trace={shown} />
          ) : (
            <div className="empty" data-testid="empty">
              <h2>{t('shell.emptyTitle')}</h2>
              <ol>
                <li>{t('shell.emptyStep1')}</li>
                <li>{t('shell.emptyStep2')}</li>
                <li>{t('shell.emptyStep3')}</li>
              </ol>
              <p className="muted">{t('shell.emptyReplay')}</p>
            </div>
          )}
          {(summary || sweep) && <Costs />}
        </main>
      </div>
      {presenting && shown && <Presenter trace={shown} sweep={sweep && shown.settings.model.id === sweepModelId ? sweep : undefined} />}
    </div>
  );
}
