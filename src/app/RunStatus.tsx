// The run's progress in the top bar, in view however far the page is scrolled: what is running
// (an attack step, a defended run, a SmoothLLM copy, the suffix search, a defense re-run after the
// slider moved), a progress bar, and Cancel.

import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import type { LabProgress } from '../lab/runner';
import { useApp } from '../store';
import { cancelRun } from './actions';

/**
 * How far a run is, 0 to 1, or undefined where the end is unknown (a suffix search's accepted steps).
 * A run measures each step undefended, then defended (SmoothLLM: copy by copy); a re-run only defended.
 */
export function progressFraction(progress: LabProgress | undefined, rerun: boolean): number | undefined {
  if (!progress) return 0;
  if (progress.phase === 'search') return progress.iterations ? (progress.iteration ?? 0) / progress.iterations : undefined;
  if (!progress.steps) return undefined;
  const copies = progress.copy && progress.copies ? (progress.copy - 1) / progress.copies : 0;
  const within = progress.phase === 'attack' ? 0 : rerun ? copies : 0.5 + copies / 2;
  return Math.min(1, (progress.step + within) / progress.steps);
}

export function RunStatus() {
  const { t } = useTranslation();
  const { running, rerunning, progress } = useApp(useShallow((s) => ({ running: s.running, rerunning: s.rerunning, progress: s.labProgress })));
  if (!running && !rerunning) return null;
  const text = rerunning
    ? t('scenario.rerunning')
    : !progress
      ? t('scenario.progressStart')
      : progress.phase === 'search'
        ? progress.loss !== undefined
          ? t('scenario.progressGcg', { iteration: progress.iteration ?? 0, iterations: progress.iterations ?? 0, loss: progress.loss.toFixed(3) })
          : t('scenario.progressSearch', { iteration: progress.iteration ?? 0, iterations: progress.iterations ?? 0 })
        : t(progress.phase === 'defense' ? 'scenario.progressDefense' : 'scenario.progressStep', {
            // One convention everywhere: step 0 is the plain request, "step k of N" with N the last step.
            step: progress.step,
            steps: progress.steps !== undefined ? progress.steps - 1 : '?',
            copy: progress.copy ? t('scenario.progressCopy', { copy: progress.copy, copies: progress.copies }) : '',
          });
  const fraction = progressFraction(progress, rerunning);
  return (
    <div className="run-status" data-testid="run-status">
      <span role="status" aria-live="polite" className="run-status-text" data-testid="run-progress">
        {text}
      </span>
      {/* Without a value the bar is indeterminate: the end of a suffix search is not known. */}
      <progress max={1} {...(fraction !== undefined ? { value: fraction } : {})} aria-label={t('shell.runProgress')} />
      {running && (
        <button type="button" className="danger" onClick={cancelRun} data-testid="cancel">
          {t('common.cancel')}
        </button>
      )}
    </div>
  );
}
