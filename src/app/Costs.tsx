// What the defense costs: the temperature sweep's controls (grid, everyday prompts, run, progress
// with time left, cancel) and the trade-off panel of its result.

import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import { setState, useApp } from '../store';
import { TradeOff } from '../ui/panels';
import { ErrorMessage } from './ErrorMessage';
import { FileButton } from './FileButton';
import { cancelSweep, loadBenignFile, runTemperatureSweep } from './sweep-actions';
import { parseTemperatures } from './sweep-grid';

/** "about 3 min left", or '' before the first item finished. */
function timeLeft(seconds: number | undefined, t: ReturnType<typeof useTranslation>['t']): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const time = seconds < 90 ? t('sweep.seconds', { n: Math.max(1, Math.round(seconds)) }) : t('sweep.minutes', { n: Math.round(seconds / 60) });
  return t('sweep.left', { time });
}

export function Costs() {
  const { t } = useTranslation();
  const id = useId();
  const s = useApp(
    useShallow((state) => ({
      status: state.status,
      requestText: state.requestText,
      sweep: state.sweep,
      sweepModelId: state.sweepModelId,
      running: state.sweepRunning,
      progress: state.sweepProgress,
      error: state.sweepError,
      temperatures: state.sweepTemperatures,
      benignSource: state.benignSource,
      benignCount: state.benignCount,
      userBenign: state.userBenign,
      sliderT: state.sharpen.enabled ? state.sharpen.temperature : undefined,
    })),
  );
  const grid = parseTemperatures(s.temperatures);
  const ready = s.status === 'ready';
  const hasRequest = s.requestText.trim() !== '';
  const canRun = ready && hasRequest && grid !== undefined && !s.running && (s.benignSource === 'shipped' || s.userBenign.length > 0);
  const progress = s.progress;
  const progressText = progress
    ? [
        t('sweep.progress', {
          t: String(Number(progress.temperature.toFixed(3))),
          phase: t(progress.phase === 'attack' ? 'sweep.phaseAttack' : 'sweep.phaseBenign'),
          done: progress.done,
          total: progress.total,
        }),
        timeLeft(progress.secondsLeft, t),
      ]
        .filter(Boolean)
        .join(' · ')
    : t('sweep.starting');

  return (
    <section className="costs" aria-labelledby={`${id}-heading`} data-testid="costs">
      <div className="costs-controls">
        <h2 id={`${id}-heading`}>{t('sweep.heading')}</h2>
        <p className="muted costs-explain">{t('sweep.explain')}</p>
        <div className="costs-fields">
          <label htmlFor={`${id}-grid`}>
            {t('sweep.temperatures')}
            <input
              id={`${id}-grid`}
              type="text"
              inputMode="decimal"
              value={s.temperatures}
              onChange={(e) => setState({ sweepTemperatures: e.target.value })}
              aria-invalid={grid === undefined}
              aria-describedby={grid === undefined ? `${id}-grid-problem` : undefined}
              data-testid="sweep-temperatures"
            />
          </label>
          <fieldset className="costs-benign">
            <legend>{t('sweep.benign')}</legend>
            <label className="check">
              <input type="radio" name={`${id}-benign`} checked={s.benignSource === 'shipped'} onChange={() => setState({ benignSource: 'shipped' })} />
              {t('sweep.shipped')}
            </label>
            <label className="check">
              <input
                type="radio"
                name={`${id}-benign`}
                checked={s.benignSource === 'user'}
                disabled={s.userBenign.length === 0}
                onChange={() => setState({ benignSource: 'user' })}
              />
              {t('sweep.user')}
              {s.userBenign.length > 0 ? <span className="muted"> ({t('sweep.userCount', { count: s.userBenign.length })})</span> : null}
            </label>
            <FileButton accept=".csv,text/csv,.json,application/json" onFile={(file) => void loadBenignFile(file)} inputTestId="benign-file" className="link">
              {t('sweep.loadBenign')}
            </FileButton>
          </fieldset>
          <label htmlFor={`${id}-count`}>
            {t('sweep.count')}
            <input
              id={`${id}-count`}
              type="number"
              min={1}
              max={500}
              value={s.benignCount}
              onChange={(e) => setState({ benignCount: Math.max(1, Math.min(500, Math.round(Number(e.target.value) || 1))) })}
              data-testid="sweep-benign-count"
            />
          </label>
        </div>
        {grid === undefined ? (
          <p className="error" id={`${id}-grid-problem`} data-testid="sweep-problem">
            {t('sweep.badTemperatures')}
          </p>
        ) : !ready ? (
          <p className="muted">{t('sweep.needsModel')}</p>
        ) : !hasRequest ? (
          <p className="muted">{t('sweep.needsRequest')}</p>
        ) : null}
        <div className="run-row">
          {s.running ? (
            <button type="button" className="danger" onClick={cancelSweep} data-testid="sweep-cancel">
              {t('sweep.cancel')}
            </button>
          ) : (
            <button type="button" className="primary" disabled={!canRun} onClick={() => void runTemperatureSweep()} data-testid="sweep-run">
              {t('sweep.run')}
            </button>
          )}
        </div>
        {s.running && (
          <div className="progress" data-testid="sweep-progress">
            <progress max={progress?.total ?? 1} value={progress?.done ?? 0} aria-label={t('sweep.heading')} />
            <span role="status" aria-live="polite" className="progress-label">
              {progressText}
            </span>
          </div>
        )}
        {s.error && <ErrorMessage error={s.error} testId="sweep-error" />}
      </div>
      {s.sweep ? <TradeOff sweep={s.sweep} currentTemperature={s.sliderT} /> : <p className="muted costs-empty">{t('tradeoff.empty')}</p>}
    </section>
  );
}
