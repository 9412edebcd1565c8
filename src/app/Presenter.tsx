// Presenter mode for meetings: full screen, large type, high contrast, and a short guided story
// (refusal → attention slips → compliance → sharpening restores it) driven by the arrow keys
// and space. Escape leaves.

import { useCallback, useEffect, useMemo, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace } from '../lab/trace';
import { useShallow } from 'zustand/react/shallow';
import { getState, setState, useApp } from '../store';
import { ResponsePanel, SlippingTimeline, TokenStrip } from '../ui/panels';
import { modelMean } from '../analysis/mass';
import { SelfTestMark } from './SelfTestPanel';
import { currentRun, tokenDecoder } from './Stage';
import { storyFacts, storySlides } from './story';

const pct = (value: number) => `${(value * 100).toFixed(1)}%`;

/** Enters presenter mode, asking for full screen (refused quietly where the browser says no). */
export function startPresenting(): void {
  setState({ presenting: true, slide: 0, playing: false, step: 0, showDefended: false, query: 'last', redacted: true });
  const root = document.documentElement;
  if (!document.fullscreenElement && root.requestFullscreen) root.requestFullscreen().catch(() => undefined);
}

export function stopPresenting(): void {
  setState({ presenting: false, playing: false });
  if (document.fullscreenElement) document.exitFullscreen().catch(() => undefined);
}

export function Presenter({ trace }: { trace: Trace }) {
  const { t } = useTranslation();
  const { slide, step, redacted, layer, head } = useApp(useShallow((s) => ({ slide: s.slide, step: s.step, redacted: s.redacted, layer: s.layer, head: s.head })));
  const slides = useMemo(() => storySlides(trace), [trace]);
  const facts = useMemo(() => storyFacts(trace), [trace]);
  const current = slides[Math.min(slide, slides.length - 1)];
  const root = useRef<HTMLDivElement>(null);
  const wasFullscreen = useRef(false);
  const last = trace.steps.length - 1;

  const go = useCallback(
    (index: number) => {
      const target = Math.max(0, Math.min(slides.length - 1, index));
      const next = slides[target];
      setState({ slide: target, step: next.step, showDefended: next.defended, playing: false, query: 'last' });
    },
    [slides],
  );

  const forward = useCallback(() => {
    const { step: s } = getState();
    // The slipping slide walks the attack one step per key press before moving on.
    if (current.kind === 'slipping' && s < last) setState({ step: s + 1, playing: false });
    else go(slide + 1);
  }, [current.kind, go, last, slide]);

  const backward = useCallback(() => {
    const { step: s } = getState();
    if (current.kind === 'slipping' && s > 0) setState({ step: s - 1, playing: false });
    else go(slide - 1);
  }, [current.kind, go, slide]);

  // Focus moves into the presentation, and back to where it was (the Present button) after it.
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    return () => previous?.focus?.();
  }, []);

  useEffect(() => {
    root.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      // Enter and space on a focused control (Exit, the redaction switch) act on that control.
      const onControl = (event.target as HTMLElement | null)?.closest?.('button, input, select, textarea, [role="switch"]');
      if (onControl && (event.key === 'Enter' || event.key === ' ')) return;
      switch (event.key) {
        case 'Tab':
          // A modal dialog: Tab and Shift+Tab cycle through the presentation's own controls and
          // never reach the page behind it.
          trapFocus(event, root.current);
          break;
        case 'ArrowRight':
        case 'PageDown':
        case ' ':
        case 'Enter':
          event.preventDefault();
          forward();
          break;
        case 'ArrowLeft':
        case 'PageUp':
        case 'Backspace':
          event.preventDefault();
          backward();
          break;
        case 'Home':
          event.preventDefault();
          go(0);
          break;
        case 'End':
          event.preventDefault();
          go(slides.length - 1);
          break;
        case 'Escape':
          event.preventDefault();
          stopPresenting();
          break;
        case 'r':
        case 'R':
          setState({ redacted: !getState().redacted });
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    const onFullscreen = () => {
      // Leaving full screen with the browser's own Escape also leaves presenter mode.
      if (!document.fullscreenElement && getState().presenting && wasFullscreen.current) stopPresenting();
      wasFullscreen.current = Boolean(document.fullscreenElement);
    };
    document.addEventListener('fullscreenchange', onFullscreen);
    return () => {
      window.removeEventListener('keydown', onKey);
      document.removeEventListener('fullscreenchange', onFullscreen);
    };
  }, [forward, backward, go, slides.length]);

  const run = currentRun(trace, step, current.defended);
  const decode = tokenDecoder(run);
  const verdictWord = (v: 'refused' | 'complied') => t(`presenter.verdictWord.${v}`);

  let title: string;
  let caption: string;
  switch (current.kind) {
    case 'intro':
      title = t('presenter.introTitle');
      caption = t('presenter.introCaption', { model: trace.settings.model.id, attack: t(`attack.${trace.settings.attack.kind}`), steps: facts.steps });
      break;
    case 'baseline':
      title = t(facts.baselineVerdict === 'refused' ? 'presenter.baselineRefused' : 'presenter.baselineComplied');
      caption = t('presenter.baselineCaption', { mass: pct(facts.baselineMass) });
      break;
    case 'slipping': {
      const record = trace.steps[step];
      title = t('presenter.slippingTitle');
      caption = t('presenter.slippingCaption', {
        step: record.step,
        label: record.label,
        mass: pct(modelMean(record.requestMass.lastPrompt)),
        verdict: verdictWord(record.verdict),
      });
      break;
    }
    case 'complied':
      title =
        facts.firstComplied === undefined
          ? t('presenter.neverComplied')
          : facts.firstComplied === 0
            ? t('presenter.compliedAlready')
            : t('presenter.compliedTitle', { step: trace.steps[facts.attackedStep].step });
      caption = t('presenter.compliedCaption', { from: pct(facts.baselineMass), to: pct(facts.attackedMass) });
      break;
    case 'defended':
      title = t(facts.defendedVerdict === 'refused' ? 'presenter.defendedRefused' : 'presenter.defendedComplied', { defense: facts.defenseLabel ?? '' });
      caption = t('presenter.defendedCaption', { attacked: pct(facts.attackedMass), defended: pct(facts.defendedMass ?? 0) });
      break;
    case 'summary':
      title = t('presenter.summaryTitle');
      caption = '';
      break;
  }

  return (
    <div
      ref={root}
      className="presenter"
      data-presenter="true"
      data-theme="dark"
      data-testid="presenter"
      role="dialog"
      aria-modal="true"
      aria-label={t('presenter.label')}
      tabIndex={-1}
    >
      <header className="presenter-head">
        <h1 data-testid="presenter-title">{title}</h1>
        {caption && (
          <p className="presenter-caption" data-testid="presenter-caption">
            {caption}
          </p>
        )}
      </header>
      <main className="presenter-body">
        {current.kind === 'intro' && (
          <>
            <blockquote className="presenter-request" lang={trace.request.language}>
              {trace.request.text}
            </blockquote>
            <p className="presenter-explain">{t('presenter.introBody')}</p>
          </>
        )}
        {/* Two things per slide at most, so each fits a projector's screen. */}
        {(current.kind === 'slipping' || current.kind === 'defended') && (
          <SlippingTimeline trace={trace} step={step} onStepChange={(i) => setState({ step: i })} layer={layer} head={head} />
        )}
        {(current.kind === 'baseline' || current.kind === 'complied' || current.kind === 'slipping') && (
          <TokenStrip run={run} trace={trace} layer="mean" head="mean" query="last" onQueryChange={() => undefined} decodeToken={decode} redacted={redacted} />
        )}
        {(current.kind === 'baseline' || current.kind === 'complied' || current.kind === 'defended') && (
          <ResponsePanel trace={trace} run={run} redacted={redacted} onRedactedChange={(r) => setState({ redacted: r })} decodeToken={decode} />
        )}
        {current.kind === 'summary' && (
          <table className="presenter-summary" data-testid="presenter-summary">
            <thead>
              <tr>
                <th />
                <th>{t('presenter.attention')}</th>
                <th>{t('presenter.outcome')}</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th>{t('presenter.rowBaseline')}</th>
                <td>{pct(facts.baselineMass)}</td>
                <td>{verdictWord(facts.baselineVerdict)}</td>
              </tr>
              <tr>
                <th>{t('presenter.rowAttacked', { step: trace.steps[facts.attackedStep].step })}</th>
                <td>{pct(facts.attackedMass)}</td>
                <td>{verdictWord(facts.attackedVerdict)}</td>
              </tr>
              {facts.defendedVerdict && (
                <tr>
                  <th>{t('presenter.rowDefended', { defense: facts.defenseLabel ?? '' })}</th>
                  <td>{pct(facts.defendedMass ?? 0)}</td>
                  <td>{verdictWord(facts.defendedVerdict)}</td>
                </tr>
              )}
            </tbody>
          </table>
        )}
      </main>
      <footer className="presenter-foot">
        <span data-testid="presenter-slide">
          {t('presenter.slide', { slide: slide + 1, total: slides.length })}
        </span>
        <span className="muted">{t('presenter.keys')}</span>
        <SelfTestMark />
        <button type="button" onClick={stopPresenting}>
          {t('presenter.exit')}
        </button>
      </footer>
    </div>
  );
}

/** Keeps Tab focus inside `dialog`: from its last control to its first and back, and back in from outside. */
function trapFocus(event: KeyboardEvent, dialog: HTMLElement | null): void {
  if (!dialog) return;
  const controls = [...dialog.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')].filter(
    (el) => !el.hasAttribute('disabled') && el.getClientRects().length > 0,
  );
  const active = document.activeElement as HTMLElement | null;
  if (controls.length === 0) {
    event.preventDefault();
    dialog.focus();
    return;
  }
  const first = controls[0];
  const last = controls[controls.length - 1];
  const inside = active !== null && dialog.contains(active);
  if (!inside || (event.shiftKey && (active === first || active === dialog)) || (!event.shiftKey && active === last)) {
    event.preventDefault();
    (event.shiftKey ? last : first).focus();
  }
}
