// The panels of the current trace: slipping timeline with playback, token strip, layer × head
// grid, one head's attention matrix, and the response. Undefended or defended run switch.

import { useEffect, useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace, TraceRun } from '../lab/trace';
import { useShallow } from 'zustand/react/shallow';
import { setState, useApp } from '../store';
import { requestMap } from './actions';
import { AttentionMatrix, HeadGrid, ResponsePanel, SlippingTimeline, TokenStrip } from '../ui/panels';
import type { HeadSelection, LayerSelection } from '../ui/panels/data';

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

/**
 * Marks a chart whose numbers a defense re-run is about to replace: dimmed, with "Updating…" over
 * it, until the new numbers land (a slider re-run takes seconds on a slow GPU).
 */
function StaleMark({ stale, name, children }: { stale: boolean; name: string; children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className={stale ? 'stale-wrap is-stale' : 'stale-wrap'} aria-busy={stale || undefined} data-stale={stale ? 'true' : undefined} data-testid={`stale-${name}`}>
      {stale && (
        <span className="stale-badge" role="note">
          {t('stage.updating')}
        </span>
      )}
      {children}
    </div>
  );
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
  const { step, layer, head, query, showDefended, redacted, playing, sinkAdjusted, traceSource, status, running, rerunning, mapPending } = useApp(
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
      rerunning: s.rerunning,
      mapPending: s.mapPending,
    })),
  );
  usePlayback();
  const run = currentRun(trace, step, showDefended);
  const hasDefended = trace.steps.some((s) => s.defended);
  const decode = useMemo(() => tokenDecoder(run), [run]);
  const last = trace.steps.length - 1;

  const canComputeMap = traceSource === 'live' && status === 'ready' && !running;
  // A re-run replaces the defended runs: the timeline draws them always, the other panels when shown
  // (the token strip's Highlighter layer too, whose influences come from the defended run).
  const staleTimeline = rerunning;
  const staleShown = rerunning && showDefended;
  const staleStrip = staleShown || (rerunning && trace.settings.defense.kind.includes('highlighter'));
  /** Picks a head; in a live session its map is computed at once when the run does not hold it. */
  const selectHead = (l: LayerSelection, h: HeadSelection) => {
    setState({ layer: l, head: h });
    if (canComputeMap && run && typeof l === 'number' && typeof h === 'number' && !(run.map?.layer === l && run.map.head === h))
      void requestMap(step, showDefended, l, h);
  };

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

      <StaleMark stale={staleTimeline} name="timeline">
        <SlippingTimeline trace={trace} step={step} onStepChange={(i) => setState({ step: i, playing: false })} layer={layer} head={head} sinkAdjusted={sinkAdjusted} />
      </StaleMark>
      <StaleMark stale={staleStrip} name="tokens">
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
      </StaleMark>
      <div className="stage-pair">
        <StaleMark stale={staleShown} name="grid">
          <HeadGrid trace={trace} run={run} layer={layer} head={head} onSelect={selectHead} sinkAdjusted={sinkAdjusted} />
        </StaleMark>
        <StaleMark stale={staleShown} name="matrix">
          <AttentionMatrix
            trace={trace}
            run={run}
            // With no head chosen, show the head the trace recorded (the strongest safety head).
            layer={layer === 'mean' && head === 'mean' && run.map ? run.map.layer : layer}
            head={layer === 'mean' && head === 'mean' && run.map ? run.map.head : head}
            onSelectHead={selectHead}
            mapPending={mapPending}
            {...(canComputeMap ? { onRequestMap: (l: number, h: number) => void requestMap(step, showDefended, l, h) } : {})}
          />
        </StaleMark>
      </div>
      <StaleMark stale={staleShown} name="response">
        <ResponsePanel
          trace={trace}
          run={run}
          redacted={redacted}
          onRedactedChange={(r) => setState({ redacted: r })}
          query={query}
          onQueryChange={(q) => setState({ query: q })}
          decodeToken={decode}
        />
      </StaleMark>
    </div>
  );
}
