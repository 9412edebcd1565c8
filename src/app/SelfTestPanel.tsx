// "Check this computer": runs the self-test and shows its verdict, the worst errors against the
// float64 reference, the adapter and the loaded model's decode time; and the small tick presenter
// mode shows, so a presenter knows before the meeting that this machine computes correctly.

import { useTranslation } from 'react-i18next';
import { useApp } from '../store';
import { checkThisComputer } from './selftest-actions';

export function SelfTestPanel() {
  const { t } = useTranslation();
  const selfTest = useApp((s) => s.selfTest);
  const webgpu = useApp((s) => s.webgpu);
  const busy = useApp((s) => s.status === 'loading' || s.running || s.rerunning);
  const result = selfTest?.status === 'done' ? selfTest.result : undefined;
  return (
    <div className="selftest" data-testid="selftest">
      <button type="button" disabled={webgpu !== 'available' || selfTest?.status === 'running' || busy} onClick={() => void checkThisComputer()}>
        {selfTest?.status === 'running' ? t('selftest.running') : t('selftest.check')}
      </button>
      {result && (
        <div className={result.passed ? 'selftest-result pass' : 'selftest-result fail'} role="status" data-testid="selftest-result">
          <strong>{result.passed ? `✓ ${t('selftest.passed')}` : `✗ ${t('selftest.failed')}`}</strong>
          {result.reason && <p lang="en">{result.reason}</p>}
          <dl>
            <dt>{t('selftest.logitError')}</dt>
            <dd data-testid="selftest-logit-error">{result.worstLogitError.toExponential(1)}</dd>
            <dt>{t('selftest.attentionError')}</dt>
            <dd data-testid="selftest-attention-error">{result.worstAttentionError.toExponential(1)}</dd>
            {result.decodeMs !== undefined && (
              <>
                <dt>{t('selftest.decode', { model: result.decodeModel })}</dt>
                <dd data-testid="selftest-decode">{t('selftest.decodeMs', { ms: result.decodeMs.toFixed(result.decodeMs < 10 ? 1 : 0) })}</dd>
              </>
            )}
            <dt>{t('selftest.adapter')}</dt>
            <dd data-testid="selftest-adapter">{result.adapter.description}</dd>
          </dl>
          <details>
            <summary>{t('selftest.details')}</summary>
            <p className="muted">{result.adapter.features.join(', ') || '—'}</p>
            <ul className="muted selftest-limits">
              {Object.entries(result.adapter.limits).map(([name, value]) => (
                <li key={name}>
                  {name}: {value.toLocaleString('en')}
                </li>
              ))}
            </ul>
          </details>
          <p className="muted">{t('selftest.when', { date: new Date(result.checkedAt).toLocaleString() })}</p>
        </div>
      )}
    </div>
  );
}

/** Presenter mode's corner mark: a green tick when this computer passed its check, a red cross with the sentence when not. */
export function SelfTestMark() {
  const { t } = useTranslation();
  const selfTest = useApp((s) => s.selfTest);
  if (selfTest?.status !== 'done') return null;
  const { result } = selfTest;
  return (
    <span
      className={result.passed ? 'selftest-mark pass' : 'selftest-mark fail'}
      data-testid="selftest-mark"
      title={result.passed ? t('selftest.passed') : result.reason}
      aria-label={result.passed ? t('selftest.passed') : `${t('selftest.failed')}: ${result.reason ?? ''}`}
    >
      {result.passed ? '✓' : `✗ ${result.reason ?? ''}`}
    </span>
  );
}
