// The model cache over a CacheStore: downloads several files with one progress stream, answers
// whether a URL is cached, lists, deletes and measures what is stored.

import { DownloadError } from '../errors';
import { blobSource, type ByteSource } from '../gguf/source';
import { fetchFile, fileJob, readStoredState, type FileJob, type StoredState } from './fetch-file';
import { abortError, busyError, httpError, isAbortError, networkError, quotaError, storageUnavailableError } from './messages';
import { dataNameOf, sidecarName } from './naming';
import { ProgressTracker } from './progress';
import { parseContentRange, responseFacts } from './resume';
import { parseSidecar } from './sidecar';
import type { CacheStore } from './store';
import type { CacheEntry, CachedFile, DownloadOptions, DownloadRequest, StorageEstimate } from './types';

export interface ModelCacheOptions {
  /** Defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /**
   * When resumed requests carry If-Range: 'same-origin' (default) avoids the CORS preflight that
   * If-Range triggers on other origins; the answer's ETag and size are checked either way.
   */
  readonly ifRange?: 'same-origin' | 'always' | 'never';
  /** Automatic resumes per file after a connection that was delivering bytes breaks (default 5). */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  /** Progress clock in ms (default performance.now). */
  readonly now?: () => number;
}

/** A URL, or a request whose `key` names the cache entry. */
export type CacheLookup = string | DownloadRequest;

const TICK_MS = 250;
const jobOf = (lookup: CacheLookup) => fileJob(typeof lookup === 'string' ? { url: lookup } : lookup);

export class ModelCache {
  private readonly fetchImpl: typeof fetch;
  private readonly options: ModelCacheOptions;
  /** Downloads running in this realm, by data file name, so deleting an entry can stop them. */
  private readonly active = new Map<string, { controller: AbortController; settled: Promise<unknown> }>();

  constructor(
    readonly store: CacheStore,
    options: ModelCacheOptions = {},
  ) {
    this.options = options;
    // Wrapped: a bare `fetch` stored on an object throws "Illegal invocation" when called.
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Downloads `requests` one after another into the cache and resolves with each cached file.
   * Files already complete are not fetched again; partial ones resume. Progress covers all files.
   */
  async downloadFiles(requests: readonly DownloadRequest[], options: DownloadOptions = {}): Promise<CachedFile[]> {
    const { signal, onProgress } = options;
    if (signal?.aborted) throw abortError(signal);
    if (!this.store.canWrite) throw storageUnavailableError();
    const jobs = requests.map(fileJob);
    const states = await Promise.all(jobs.map((job) => readStoredState(this.store, job)));
    const totals = await this.knownTotals(jobs, states, signal);
    // Room for the sizes servers reported (catalogue estimates are checked once a server answers).
    const stillNeeded = jobs.reduce((sum, _, i) => sum + (states[i].complete ? 0 : Math.max(0, (totals[i].exact ?? 0) - states[i].have)), 0);
    const missing = jobs.filter((_, i) => !states[i].complete);
    if (missing.length) await this.checkRoom({ name: missing.map((j) => j.name).join(' + ') }, stillNeeded);

    const now = this.options.now ?? (() => performance.now());
    const tracker = new ProgressTracker(
      jobs.map((job, i) => ({ url: job.url, have: states[i].have, total: totals[i].exact ?? job.request.expectedSize, complete: states[i].complete })),
      now(),
    );
    let listenerError: { error: unknown } | undefined;
    const emit = (force = false) => {
      const progress = tracker.poll(now(), force);
      if (!progress || !onProgress) return;
      try {
        onProgress(progress);
      } catch (error) {
        listenerError ??= { error };
      }
    };
    emit(true);
    // Keeps the speed and time left honest while no bytes arrive (a stalled connection).
    const ticker = setInterval(emit, TICK_MS);
    try {
      for (let i = 0; i < jobs.length; i++) {
        if (states[i].complete) continue;
        tracker.start(i);
        await this.runExclusive(jobs[i], signal, (linked) =>
          fetchFile(jobs[i], {
            store: this.store,
            fetch: this.fetchImpl,
            ifRange: this.sendsIfRange(jobs[i].url),
            retries: this.options.retries ?? 5,
            retryDelayMs: this.options.retryDelayMs ?? 1000,
            tracker,
            index: i,
            emit: (force) => {
              emit(force);
              if (listenerError) throw listenerError.error;
            },
            signal: linked,
            checkRoom: (job, bytes, size) => this.checkRoom(job, bytes, size),
          }),
        );
      }
    } finally {
      clearInterval(ticker);
    }
    if (listenerError) throw listenerError.error;
    const files = await Promise.all(jobs.map((job) => this.cachedFile(job)));
    return files.map((file, i) => {
      if (!file) throw new DownloadError(`${jobs[i].name} vanished from the browser storage right after its download; try again.`);
      return file;
    });
  }

  /** The cached bytes of a complete file as a ByteSource (no network), or undefined. */
  async cachedSource(lookup: CacheLookup): Promise<ByteSource | undefined> {
    const file = await this.cachedFile(jobOf(lookup));
    return file && blobSource(file.blob, file.url);
  }

  async isCached(lookup: CacheLookup): Promise<boolean> {
    return (await readStoredState(this.store, jobOf(lookup))).complete;
  }

  /** Every entry, complete or partial, newest first. */
  async listCached(): Promise<CacheEntry[]> {
    const entries: CacheEntry[] = [];
    for (const name of await this.store.names()) {
      const fileName = dataNameOf(name);
      if (!fileName) continue;
      const sidecar = parseSidecar(await this.store.readText(name));
      if (!sidecar) continue;
      let bytes: number | undefined;
      let busy = false;
      try {
        bytes = (await this.store.size(fileName)) ?? 0;
      } catch {
        busy = true; // open for writing elsewhere (browsers other than Chromium refuse to read it then)
      }
      entries.push({
        key: sidecar.key,
        url: sidecar.url,
        name: sidecar.name,
        fileName,
        bytes: bytes ?? 0,
        totalBytes: sidecar.totalBytes ?? undefined,
        complete: !busy && sidecar.complete && sidecar.totalBytes === bytes,
        savedAt: sidecar.savedAt,
        ...(busy ? { busy } : {}),
      });
    }
    return entries.sort((a, b) => b.savedAt - a.savedAt);
  }

  /** Removes an entry (stopping its download in this realm first); false when there was none. */
  async deleteCached(lookup: CacheLookup): Promise<boolean> {
    const job = jobOf(lookup);
    await this.stopActive(job.fileName);
    const existed = (await this.store.size(sidecarName(job.fileName)).catch(() => 0)) !== undefined;
    await this.removeFiles(job.name, [job.fileName, sidecarName(job.fileName)]);
    return existed;
  }

  /** Removes every cached and partial file (stopping this realm's downloads first). */
  async clearCache(): Promise<void> {
    await Promise.all([...this.active.keys()].map((name) => this.stopActive(name)));
    await this.removeFiles('A model', await this.store.names());
  }

  async storageEstimate(): Promise<StorageEstimate> {
    const [{ usage, quota }, names] = await Promise.all([this.store.estimate(), this.store.names()]);
    let ours = 0;
    for (const name of names) ours += (await this.store.size(name).catch(() => 0)) ?? 0;
    return { usage, quota, ours };
  }

  /** Asks the browser to keep the cache under storage pressure; true when it will. */
  requestPersistence(): Promise<boolean> {
    return this.store.persist();
  }

  private async cachedFile(job: FileJob): Promise<CachedFile | undefined> {
    const state = await readStoredState(this.store, job);
    if (!state.complete || !state.sidecar) return undefined;
    const blob = await this.store.file(job.fileName);
    if (!blob) return undefined;
    const { sidecar } = state;
    return {
      key: sidecar.key,
      url: sidecar.url,
      name: sidecar.name,
      fileName: job.fileName,
      bytes: blob.size,
      totalBytes: blob.size,
      complete: true,
      savedAt: sidecar.savedAt,
      blob,
    };
  }

  /**
   * Sizes the cache or the server can tell before any body streams: stored in sidecars, or, for
   * several files, asked with `Range: bytes=0-0` probes so that the first progress event has the
   * right total (a single file's own GET says its size before its body streams).
   */
  private async knownTotals(jobs: FileJob[], states: StoredState[], signal?: AbortSignal): Promise<{ exact: number | undefined }[]> {
    const totals = states.map((state) => ({ exact: state.complete ? state.have : (state.sidecar?.totalBytes ?? undefined) }));
    const unknown = jobs.map((_, i) => i).filter((i) => totals[i].exact === undefined);
    if (unknown.length > 1) {
      const probed = await Promise.all(unknown.map((i) => this.probeSize(jobs[i], signal)));
      unknown.forEach((i, n) => (totals[i].exact = probed[n]));
    }
    return totals;
  }

  private async probeSize(job: FileJob, signal?: AbortSignal): Promise<number | undefined> {
    let response: Response;
    try {
      response = await this.fetchImpl(job.url, { headers: { Range: 'bytes=0-0' }, signal, cache: 'no-store' });
    } catch (e) {
      if (signal?.aborted || isAbortError(e)) throw abortError(signal);
      throw networkError(job.name, job.url, e);
    }
    await response.body?.cancel().catch(() => {});
    if (!response.ok) throw httpError(job.name, job.url, response.status);
    const facts = responseFacts(response);
    if (response.status === 206) return parseContentRange(facts.contentRange)?.total;
    const length = Number(facts.contentLength ?? NaN);
    return Number.isInteger(length) && !facts.contentEncoding ? length : undefined;
  }

  /**
   * Fails early, with the quota sentence, when the browser reports too little room for `bytes`
   * more; the sentence names `size` (the whole file, as people think of it).
   */
  private async checkRoom(job: Pick<FileJob, 'name'>, bytes: number, size = bytes): Promise<void> {
    if (bytes <= 0) return;
    const { usage, quota } = await this.store.estimate().catch(() => ({ usage: undefined, quota: undefined }));
    if (usage !== undefined && quota !== undefined && quota - usage < bytes) throw quotaError(job.name, size);
  }

  private sendsIfRange(url: string): boolean {
    const mode = this.options.ifRange ?? 'same-origin';
    if (mode !== 'same-origin') return mode === 'always';
    const origin = (globalThis as { location?: { origin: string } }).location?.origin;
    return origin !== undefined && new URL(url).origin === origin;
  }

  /** Runs one file's download under the cross-tab lock, registered so deletion can stop it. */
  private async runExclusive(job: FileJob, signal: AbortSignal | undefined, task: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    const forward = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    const running = this.store.exclusive(job.fileName, controller.signal, () => task(controller.signal));
    const entry = { controller, settled: running.catch(() => {}) };
    this.active.set(job.fileName, entry);
    try {
      await running;
    } catch (e) {
      if (controller.signal.aborted) throw abortError(controller.signal);
      throw e;
    } finally {
      signal?.removeEventListener('abort', forward);
      if (this.active.get(job.fileName) === entry) this.active.delete(job.fileName);
    }
  }

  private async stopActive(fileName: string): Promise<void> {
    const entry = this.active.get(fileName);
    if (!entry) return;
    entry.controller.abort(new DOMException('The download was cancelled because its cache entry was deleted.', 'AbortError'));
    await entry.settled;
  }

  /** Removes `names`; a file still open for writing elsewhere becomes the busy sentence. */
  private async removeFiles(what: string, names: string[]): Promise<void> {
    let failure: unknown;
    for (const name of names) await this.store.remove(name).catch((e) => (failure ??= e));
    if (failure !== undefined) {
      const name = (failure as { name?: string }).name;
      if (name === 'NoModificationAllowedError' || name === 'InvalidModificationError') throw busyError(what, failure);
      throw failure;
    }
  }
}
