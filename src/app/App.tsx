// The app shell: header (language, trace import/export, share link, presenter), the model and
// scenario panels, and the stage with the charts. Reads the URL contract on open.

import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { findModel } from '../../models/catalogue';
import { GCG_APP_DEFAULTS } from '../attacks/gcg';
import { requestText, targetText } from '../attacks/scenarios';
import { getState, setState, useApp } from '../store';
import { setLanguage, type UiLanguage } from '../i18n';
import { defenseKindWith, defenseParts, partsOfDefense } from '../lab/kinds';
import { exportTrace, importTraceFile, loadModelChoice, loadScenarioFiles, probeWebGPU, runScenario } from './actions';
import { checkThisComputer } from './selftest-actions';
import { ErrorMessage } from './ErrorMessage';
import { FileButton } from './FileButton';
import { withLocalLabels } from './labels';
import { ModelPanel } from './ModelPanel';
import { Presenter, startPresenting } from './Presenter';
import { ScenarioPanel } from './ScenarioPanel';
import { Stage } from './Stage';
import { parseUrlParams, shareLink } from './url';

/** Opens the URL's model and, with run=1, its scenario: one link, one ready demo. */
async function followUrl(): Promise<string[]> {
  const params = parseUrlParams(location.search);
  if (params.lang) setLanguage(params.lang);
  const language = params.lang ?? (document.documentElement.lang === 'ja' ? 'ja' : 'en');
  setState({ language });
  const files = await loadScenarioFiles().catch(() => undefined);
  // A starter request in the scenario language, so the panel is never empty.
  const starter = files?.requests.harmful[0];
  if (params.request) {
    const known = files && [...files.requests.harmful, ...files.requests.benign].find((r) => r.goal === params.request || r.goal_ja === params.request);
    setState({ requestText: params.request, requestId: known?.id ?? 'custom', ...(known ? { target: targetText(known, language) } : {}) });
  } else if (starter) {
    setState({ requestId: starter.id, requestText: requestText(starter, language), target: targetText(starter, language) });
  }
  // GCG's own default step count (50) unless the link sets one.
  if (params.attack) setState({ attack: params.attack, ...(params.attack === 'gcg' ? { steps: GCG_APP_DEFAULTS.steps } : {}) });
  if (params.steps) setState({ steps: params.steps });
  if (params.tokens) setState({ maxNewTokens: params.tokens });
  if (params.defense) {
    const parts = partsOfDefense(params.defense);
    const { sharpen, smooth, highlight } = getState();
    setState({
      sharpen: { ...sharpen, enabled: parts.includes('sharpening') },
      smooth: { ...smooth, enabled: parts.includes('smoothllm') },
      highlight: { ...highlight, enabled: parts.includes('highlighter') },
      sideBySide: params.sideBySide,
    });
  }
  const { highlight } = getState();
  setState({ highlight: { ...highlight, alpha: params.thAlpha ?? highlight.alpha, beta: params.thBeta ?? highlight.beta } });
  if (!params.model) {
    if (params.selftest && (await probeWebGPU())) await checkThisComputer();
    return [...params.problems];
  }
  if (!(await probeWebGPU())) return [...params.problems];
  const loaded = await loadModelChoice({ model: params.model, tokenizer: params.tokenizer, hub: params.hub });
  if (params.selftest) await checkThisComputer();
  if (loaded && params.run) {
    await runScenario();
    if (params.present && getState().trace) startPresenting();
  }
  return [...params.problems];
}

let started = false;

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
  const [problems, setProblems] = useState<string[]>([]);
  const [copied, setCopied] = useState(false);
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
  // What the panels show: the trace with the runner's English step labels in the UI language.
  const shown = useMemo(() => trace && withLocalLabels(trace, t), [trace, t]);
  const share = () => {
    const s = getState();
    const p = params.current;
    const model = s.summary ? (findModel(s.summary.id) ? s.summary.id : p.model) : p.model;
    const link = shareLink(location.href, {
      model,
      tokenizer: model && findModel(model) ? undefined : (s.summary?.tokenizer ?? p.tokenizer),
      hub: p.hub,
      request: s.requestText,
      attack: s.attack,
      steps: s.steps,
      // Every checked defense (side by side or combined, as side-by-side says).
      defense: defenseKindWith(defenseParts.filter((part) => ({ sharpening: s.sharpen.enabled, highlighter: s.highlight.enabled, smoothllm: s.smooth.enabled })[part])),
      ...(s.highlight.enabled ? { thAlpha: s.highlight.alpha, thBeta: s.highlight.beta } : {}),
      sideBySide: s.sideBySide,
      run: true,
    });
    void navigator.clipboard?.writeText(link).then(
      () => setCopied(true),
      () => window.prompt(t('shell.shareCopy'), link),
    );
    setTimeout(() => setCopied(false), 2000);
  };

  return (
    <div className="app">
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
          <button type="button" onClick={share} disabled={!summary}>
            {copied ? t('shell.copied') : t('shell.share')}
          </button>
          <button type="button" className="primary" onClick={startPresenting} disabled={!trace} data-testid="present">
            {t('shell.present')}
          </button>
          <select aria-label={t('language.label')} value={language} onChange={(e) => setLanguage(e.target.value as UiLanguage)} data-testid="language">
            <option value="en">{t('language.en')}</option>
            <option value="ja">{t('language.ja')}</option>
          </select>
        </nav>
      </header>
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
        </main>
      </div>
      {presenting && shown && <Presenter trace={shown} />}
    </div>
  );
}
