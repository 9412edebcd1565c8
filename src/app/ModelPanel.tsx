// Model choice: the catalogue with sizes and cache state, a URL, or a local .gguf; download and
// load progress (bytes, speed, time left); the browser cache's size and a button to clear it.

import { useCallback, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { CATALOGUE, findModel, modelUrl } from '../../models/catalogue';
import { formatBytes } from '../util/format';
import { clearCache, listCached, storageEstimate, type CacheEntry, type StorageEstimate } from '../download';
import { useApp } from '../store';
import { ErrorMessage } from './ErrorMessage';
import { SelfTestPanel } from './SelfTestPanel';
import { FileButton } from './FileButton';
import { cancelLoad, loadLocalFile, loadModelChoice, recoverFromDeviceLoss } from './actions';

function formatDuration(seconds: number | undefined, t: (key: 'model.secondsLeft' | 'model.minutesLeft', options: { n: number }) => string): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  return seconds < 90 ? t('model.secondsLeft', { n: Math.max(1, Math.round(seconds)) }) : t('model.minutesLeft', { n: Math.round(seconds / 60) });
}

export function ModelPanel({ hub }: { hub?: string }) {
  const { t } = useTranslation();
  const status = useApp((s) => s.status);
  const progress = useApp((s) => s.loadProgress);
  const summary = useApp((s) => s.summary);
  const error = useApp((s) => s.modelError);
  const label = useApp((s) => s.loadingLabel);
  const webgpu = useApp((s) => s.webgpu);
  const persisted = useApp((s) => s.storagePersisted);
  // A replayed trace names its model here, and the catalogue offers it for loading.
  const replayModel = useApp((s) => (s.traceSource === 'imported' ? s.trace?.settings.model : undefined));
  const [choice, setChoice] = useState(CATALOGUE[0].id);
  const [url, setUrl] = useState('');
  const [tokenizer, setTokenizer] = useState('');
  const [cached, setCached] = useState<CacheEntry[]>([]);
  const [storage, setStorage] = useState<StorageEstimate>();
  const ids = { select: useId(), url: useId(), tokenizer: useId() };
  const replayEntry = replayModel && findModel(replayModel.id);
  useEffect(() => {
    if (replayEntry) setChoice(replayEntry.id);
  }, [replayEntry]);

  const refreshCache = useCallback(async () => {
    try {
      setCached(await listCached());
      setStorage(await storageEstimate());
    } catch {
      // Storage APIs may be missing (private windows); the panel then shows no cache line.
    }
  }, []);
  useEffect(() => {
    void refreshCache();
  }, [refreshCache, status]);

  const isCachedUrl = (u: string) => cached.some((entry) => entry.url === u && entry.complete);
  const loading = status === 'loading';
  const disabled = loading || webgpu !== 'available';

  const fraction = progress && progress.bytesTotal > 0 ? progress.bytesDone / progress.bytesTotal : undefined;
  const phaseText = progress
    ? progress.phase === 'download'
      ? t('model.downloading', {
          done: formatBytes(progress.bytesDone),
          total: formatBytes(progress.bytesTotal),
          speed: progress.bytesPerSecond ? `${formatBytes(progress.bytesPerSecond)}/s` : '…',
          left: formatDuration(progress.secondsLeft, t),
        })
      : progress.phase === 'upload'
        ? t('model.uploading', { done: formatBytes(progress.bytesDone), total: formatBytes(progress.bytesTotal) })
        : t(progress.phase === 'tokenizer' ? 'model.tokenizer' : 'model.compiling')
    : t('model.starting');

  return (
    <section className="side-section" aria-labelledby="model-heading" data-testid="model-panel">
      <h2 id="model-heading">{t('model.heading')}</h2>
      <label htmlFor={ids.select}>{t('model.catalogue')}</label>
      <div className="row">
        <select id={ids.select} value={choice} onChange={(e) => setChoice(e.target.value)} disabled={loading}>
          {CATALOGUE.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name} · {m.quant} · {formatBytes(m.sizeBytes)}
              {isCachedUrl(modelUrl(m, hub)) ? ` · ${t('model.cachedMark')}` : ''}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => void loadModelChoice({ model: choice, hub })} disabled={disabled}>
          {t('model.load')}
        </button>
      </div>

      <details className="more">
        <summary>{t('model.other')}</summary>
        <label htmlFor={ids.url}>{t('model.url')}</label>
        <input id={ids.url} type="url" placeholder="https://…/model.gguf" value={url} onChange={(e) => setUrl(e.target.value)} />
        <label htmlFor={ids.tokenizer}>{t('model.tokenizerRepo')}</label>
        <input id={ids.tokenizer} type="text" placeholder="Qwen/Qwen2.5-0.5B-Instruct" value={tokenizer} onChange={(e) => setTokenizer(e.target.value)} />
        <div className="row">
          <button type="button" disabled={disabled || !url.trim()} onClick={() => void loadModelChoice({ model: url.trim(), tokenizer: tokenizer.trim(), hub })}>
            {t('model.loadUrl')}
          </button>
          <FileButton
            accept=".gguf"
            inputTestId="model-file"
            disabled={disabled || !tokenizer.trim()}
            title={tokenizer.trim() ? undefined : t('model.fileNeedsTokenizer')}
            onFile={(file) => void loadLocalFile(file, { kind: 'hub', repo: tokenizer.trim(), hub })}
          >
            {t('model.openFile')}
          </FileButton>
        </div>
      </details>

      {loading && (
        <div className="progress" role="status" aria-live="polite" data-testid="load-progress">
          <div className="progress-label">
            {label}: {phaseText}
          </div>
          <progress max={1} value={fraction} aria-label={t('model.progress')} />
          <button type="button" className="link" onClick={cancelLoad}>
            {t('common.cancel')}
          </button>
        </div>
      )}
      {status === 'error' && error && <ErrorMessage error={error} testId="model-error" />}
      {status === 'error' && error?.name === 'DeviceLostError' && (
        <button type="button" className="primary" data-testid="recover" onClick={() => void recoverFromDeviceLoss()}>
          {t('model.recover')}
        </button>
      )}
      {status === 'ready' && summary && (
        <p className="model-summary" data-testid="model-summary">
          <strong>{summary.id}</strong>
          <br />
          {t('model.summary', {
            arch: summary.architecture,
            layers: summary.nLayer,
            heads: summary.nHead,
            size: formatBytes(summary.weightBytes),
          })}
          <br />
          <span className="muted">{summary.cached ? t('model.fromCache') : summary.note ?? ''}</span>
        </p>
      )}
      {replayModel && (
        <p className="model-replay" data-testid="trace-model">
          {t('model.traceModel', { model: replayEntry ? `${replayEntry.name} ${replayEntry.quant}` : replayModel.id })}{' '}
          <span className="muted">
            {t('model.traceShape', { arch: replayModel.architecture ?? '?', layers: replayModel.nLayer, heads: replayModel.nHead })}
          </span>
          <br />
          {status === 'ready' && summary
            ? summary.id === replayModel.id
              ? t('model.traceModelLoaded')
              : t('model.traceModelOther', { loaded: summary.id })
            : t(replayEntry ? 'model.traceModelLoadCatalogue' : 'model.traceModelLoad')}
        </p>
      )}
      <SelfTestPanel />
      {storage && (
        <p className="muted storage" data-testid="storage">
          {t('model.storage', { ours: formatBytes(storage.ours), count: cached.filter((c) => c.complete).length })}{' '}
          {persisted !== undefined && storage.ours > 0 && (
            <>
              {t(persisted ? 'model.persisted' : 'model.notPersisted')}{' '}
            </>
          )}
          {storage.ours > 0 && (
            <button
              type="button"
              className="link"
              disabled={loading}
              onClick={async () => {
                if (!window.confirm(t('model.clearConfirm'))) return;
                await clearCache();
                await refreshCache();
              }}
            >
              {t('model.clear')}
            </button>
          )}
        </p>
      )}
    </section>
  );
}
