// Presenter mode for meetings: full screen, dark, large type, and a short story told one key press
// at a time (→, space, PageDown: next; ←, PageUp: back; Home, End; Esc leaves): the plain request,
// the attack revealed step by step, the defended run, what it costs, and the answers side by side.
// Every slide fits the screen and carries nothing to operate; N shows the speaker notes (hidden by
// default), W opens them in a window of their own, R shows or hides compliant output.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { SweepResult } from '../lab/sweep';
import type { Trace } from '../lab/trace';
import { useShallow } from 'zustand/react/shallow';
import { toUiLanguage } from '../i18n';
import { getState, setState, useApp } from '../store';
import { PanelChrome, TradeOff } from '../ui/panels';
import { SelfTestMark } from './SelfTestPanel';
import { Answers, type AnswerColumn } from './slides/Answers';
import { SlideTimeline } from './slides/SlideTimeline';
import { NotesStrip, NotesWindow } from './slides/SpeakerNotes';
import { costsSlide, storyFacts, storySlides } from './story';
import { defenseName, slideWords, speakerNotes, stepLabel, stepOfText } from './story-text';
import './presenter.css';

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

export function Presenter({ trace, sweep }: { trace: Trace; sweep?: SweepResult }) {
  const { t, i18n } = useTranslation();
  const { slide, redacted, sliderT } = useApp(
    useShallow((s) => ({ slide: s.slide, redacted: s.redacted, sliderT: s.sharpen.enabled ? s.sharpen.temperature : undefined })),
  );
  const [notesOpen, setNotesOpen] = useState(false);
  const [notesWindow, setNotesWindow] = useState(false);
  const slides = useMemo(() => storySlides(trace, { costs: sweep !== undefined && sweep.points.length > 0 }), [trace, sweep]);
  const costs = useMemo(() => (sweep ? costsSlide(sweep, t) : undefined), [sweep, t]);
  const facts = useMemo(() => storyFacts(trace), [trace]);
  const index = Math.min(slide, slides.length - 1);
  const current = slides[index];
  const root = useRef<HTMLDivElement>(null);
  const wasFullscreen = useRef(false);

  // One slide per key press, so the counter moves on every press. The working view follows, and
  // shows the step last on screen once the presentation ends.
  const go = useCallback(
    (to: number) => {
      const target = Math.max(0, Math.min(slides.length - 1, to));
      const next = slides[target];
      setState({ slide: target, step: next.step, showDefended: next.defended, playing: false, query: 'last' });
    },
    [slides],
  );
  const forward = useCallback(() => go(getState().slide + 1), [go]);
  const backward = useCallback(() => go(getState().slide - 1), [go]);

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
        case 'n':
        case 'N':
          setNotesOpen((open) => !open);
          break;
        case 'w':
        case 'W':
          setNotesWindow((open) => !open);
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

  const words =
    current.kind === 'costs' ? { headline: costs?.title ?? t('costs.slideTitle'), takeaway: costs?.caption ?? '' } : slideWords(current, trace, facts, t);
  const notes = {
    notes: speakerNotes(current, trace, facts, t, toUiLanguage(i18n.resolvedLanguage ?? i18n.language), costs),
    heading: t('slides.notesWindowTitle', { slide: index + 1, total: slides.length }),
  };
  const defense = defenseName(trace, t);
  const stepTag = (i: number) => `${stepOfText(trace, i, t)} · ${stepLabel(trace, i, t)}`;

  const answers: AnswerColumn[] = [];
  if (current.kind === 'payoff') {
    const attacked = trace.steps[facts.attackedStep];
    answers.push({ key: 'plain', title: t('slides.plainColumn'), subtitle: stepTag(0), run: trace.steps[0] });
    if (facts.attackedStep > 0) answers.push({ key: 'attacked', title: t('slides.attackedColumn'), subtitle: stepTag(facts.attackedStep), run: attacked });
    if (attacked.defended) answers.push({ key: 'defended', title: t('slides.defendedColumn', { defense }), subtitle: stepTag(facts.attackedStep), run: attacked.defended });
  }

  return (
    <div
      ref={root}
      className="presenter"
      data-presenter="true"
      data-theme="dark"
      data-testid="presenter"
      data-slide-kind={current.kind}
      role="dialog"
      aria-modal="true"
      aria-label={t('presenter.label')}
      tabIndex={-1}
    >
      <header className="presenter-head">
        <h1 data-testid="presenter-title">{words.headline}</h1>
      </header>
      <main className="presenter-body">
        {current.kind === 'intro' && (
          <>
            <p className="presenter-context" data-testid="presenter-context">
              {t('slides.introCaption', { model: trace.settings.model.id, attack: t(`attack.${trace.settings.attack.kind}`), count: facts.lastStep })}
            </p>
            <blockquote className="presenter-request" lang={trace.request.language}>
              {trace.request.text}
            </blockquote>
          </>
        )}
        {current.kind === 'step' && <SlideTimeline trace={trace} reveal={current.step} defended={false} defenseName={defense} tag={stepTag(current.step)} />}
        {current.kind === 'defended' && (
          <SlideTimeline trace={trace} reveal={trace.steps.length - 1} focus={facts.attackedStep} defended defenseName={defense} tag={stepTag(facts.attackedStep)} />
        )}
        {current.kind === 'costs' && sweep && (
          // The trade-off chart as the working view draws it, without its export menu and ⓘ button.
          <PanelChrome.Provider value={false}>
            <div className="slide-fit">
              <TradeOff sweep={sweep} currentTemperature={sliderT} />
            </div>
            {costs?.caveat && (
              <p className="presenter-explain" data-testid="presenter-caveat">
                {costs.caveat}
              </p>
            )}
          </PanelChrome.Provider>
        )}
        {current.kind === 'payoff' && <Answers columns={answers} redacted={redacted} />}
      </main>
      {words.takeaway && (
        <p className="presenter-takeaway" data-testid="presenter-caption">
          {words.takeaway}
        </p>
      )}
      <NotesStrip content={notes} open={notesOpen} />
      {notesWindow && <NotesWindow content={notes} onClosed={() => setNotesWindow(false)} />}
      <footer className="presenter-foot">
        <span className="presenter-counter" data-testid="presenter-slide">
          {t('presenter.slide', { slide: index + 1, total: slides.length })}
        </span>
        <span className="presenter-keys">{t('slides.keys')}</span>
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
