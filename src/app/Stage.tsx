// The panels of the current trace: slipping timeline with playback, token strip, layer × head
// grid, one head's attention matrix, and the response. Undefended or defended run switch.

import { useEffect, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace, TraceRun } from '../lab/trace';
import { useShallow } from 'zustand/react/shallow';
import { setState, useApp } from '../store';
import { requestMap } from './actions';
import { AttentionMatrix, HeadGrid, ResponsePanel, SlippingTimeline, TokenStrip } from '../ui/panels';

/** Text of a generated token id, from the run's own decoded tokens. */
export function tokenDecoder(run: TraceRun | undefined): ((id: number) => string) | undefined {
  if (!run?.generatedTokens || !run.generatedTexts) return undefined;
  const texts = new Map<number, string>();
  run.generatedTokens.forEach((id, i) => texts.set(id, run.generatedTexts![i]));
  return (id) => texts.get(id) ?? `#${id}`;
}

/** The run the panels show: the step's undefended run, or its defended one when chosen and present. */
export function currentRun(trace: Trace, step: number, defended: boolean): TraceRun {
  const record = trace.steps[Math.min(step, trace.steps.length - 1)];
  return defended && record.defended ? record.defended : record;
}

/** Advances the playhead every `ms` while playing; stops at the last step. */
export function usePlayback(ms = 1400) {
  const playing = useApp((s) => s.playing);
  const step = useApp((s) => s.step);
  const total = useApp((s) => s.trace?.steps.length ?? 0);
  useEffect(() => {
    if (!playing) return;
    if (step >= total - 1) {
      setState({ playing: false });
      return;
    }
    const timer = setTimeout(() => setState({ step: step + 1 }), ms);
    return () => clearTimeout(timer);
  }, [playing, step, total, ms]);
}

export function Stage({ trace }: { trace: Trace }) {
  const { t } = useTranslation();
  const { step, layer, head, query, showDefended, redacted, playing, sinkAdjusted, traceSource, status, running, mapPending } = useApp(
    useShallow((s) => ({
      step: s.step,
      layer: s.layer,
      head: s.head,
      query: s.query,
      showDefended: s.showDefended,
      redacted: s.redacted,
      playing: s.playing,
      sinkAdjusted: s.sinkAdjusted,
      traceSource: s.traceSource,
      status: s.status,
      running: s.running,
      mapPending: s.mapPending,
    })),
  );
  usePlayback();
  const run = currentRun(trace, step, showDefended);
  const hasDefended = trace.steps.some((s) => s.defended);
  const decode = useMemo(() => tokenDecoder(run), [run]);
  const last = trace.steps.length - 1;

  return (
    <div className="stage" data-testid="stage">
      <div className="stage-controls" role="toolbar" aria-label={t('stage.controls')}>
        <button
          type="button"
          onClick={() => setState(playing ? { playing: false } : { playing: true, step: step >= last ? 0 : step })}
          aria-pressed={playing}
          data-testid="play"
          disabled={trace.steps.length < 2}
        >
          {playing ? `⏸ ${t('stage.pause')}` : `▶ ${t('stage.play')}`}
        </button>
        <button type="button" onClick={() => setState({ step: Math.max(0, step - 1), playing: false })} disabled={step <= 0} aria-label={t('stage.previous')}>
          ◀
        </button>
        <span className="step-label" data-testid="step-label">
          {t('stage.step', { step: trace.steps[step]?.step ?? 0, total: trace.steps[last]?.step ?? 0, label: trace.steps[step]?.label ?? '' })}
        </span>
        <button type="button" onClick={() => setState({ step: Math.min(last, step + 1), playing: false })} disabled={step >= last} aria-label={t('stage.next')}>
          ▶
        </button>
        {hasDefended && (
          <div className="segmented" role="group" aria-label={t('stage.whichRun')}>
            <button type="button" aria-pressed={!showDefended} onClick={() => setState({ showDefended: false })} data-testid="show-undefended">
              {t('run.undefended')}
            </button>
            <button type="button" aria-pressed={showDefended} onClick={() => setState({ showDefended: true })} data-testid="show-defended">
              {t('run.defended')}
            </button>
          </div>
        )}
        <label className="check">
          <input type="checkbox" checked={sinkAdjusted} onChange={(e) => setState({ sinkAdjusted: e.target.checked })} />
          {t('stage.sinkAdjusted')}
        </label>
        {traceSource === 'imported' && <span className="badge">{t('stage.replay')}</span>}
      </div>

      <SlippingTimeline trace={trace} step={step} onStepChange={(i) => setState({ step: i, playing: false })} layer={layer} head={head} sinkAdjusted={sinkAdjusted} />
      <TokenStrip
        run={run}
        trace={trace}
        layer={layer}
        head={head}
        query={query}
        onQueryChange={(q) => setState({ query: q })}
        decodeToken={decode}
        redacted={redacted}
      />
      <div className="stage-pair">
        <HeadGrid trace={trace} run={run} layer={layer} head={head} onSelect={(l, h) => setState({ layer: l, head: h })} sinkAdjusted={sinkAdjusted} />
        <AttentionMatrix
          trace={trace}
          run={run}
          // With no head chosen, show the head the trace recorded (the strongest safety head).
          layer={layer === 'mean' && head === 'mean' && run.map ? run.map.layer : layer}
          head={layer === 'mean' && head === 'mean' && run.map ? run.map.head : head}
          onSelectHead={(l, h) => setState({ layer: l, head: h })}
          mapPending={mapPending}
          {...(traceSource === 'live' && status === 'ready' && !running
            ? { onRequestMap: (l: number, h: number) => void requestMap(step, showDefended, l, h) }
            : {})}
        />
      </div>
      <ResponsePanel
        trace={trace}
        run={run}
        redacted={redacted}
        onRedactedChange={(r) => setState({ redacted: r })}
        query={query}
        onQueryChange={(q) => setState({ query: q })}
        decodeToken={decode}
      />
    </div>
  );
}
