// Fetches one file into the cache: resumes a stored part with a Range request, starts over when
// the server's file changed or it ignores Range, streams the body to storage, and retries by
// itself when a connection that was delivering bytes breaks.

import { absoluteUrl, cacheFileName, cacheKey, displayName, sidecarName } from './naming';
import {
  abortError,
  httpError,
  interruptedError,
  isQuotaError,
  networkError,
  quotaError,
  sizeMismatchError,
  storageFailedError,
  unstableServerError,
} from './messages';
import type { ProgressTracker } from './progress';
import { decideResponse, planRequest, responseFacts, type PartialState } from './resume';
import { parseSidecar, serializeSidecar, type Sidecar } from './sidecar';
import type { CacheStore, CacheWriter } from './store';
import type { DownloadRequest } from './types';

/** One requested file with its derived identities. */
export interface FileJob {
  readonly request: DownloadRequest;
  readonly key: string;
  /** Absolute URL. */
  readonly url: string;
  /** Human-readable name for sentences. */
  readonly name: string;
  /** Data file in the cache folder (its sidecar: `sidecarName(fileName)`). */
  readonly fileName: string;
}

export function fileJob(request: DownloadRequest): FileJob {
  return {
    request,
    key: cacheKey(request),
    url: absoluteUrl(request.url),
    name: displayName(request),
    fileName: cacheFileName(request),
  };
}

/** What the cache holds for a job. A data file without a matching sidecar counts as nothing. */
export interface StoredState {
  readonly sidecar: Sidecar | undefined;
  /** Bytes stored that can be resumed from (0 without a sidecar). */
  readonly have: number;
  /** Sidecar says complete and the stored size matches its total. */
  readonly complete: boolean;
}

export async function readStoredState(store: CacheStore, job: FileJob): Promise<StoredState> {
  const sidecar = parseSidecar(await store.readText(sidecarName(job.fileName)));
  if (!sidecar || sidecar.key !== job.key) return { sidecar: undefined, have: 0, complete: false };
  const have = (await store.size(job.fileName)) ?? 0;
  return { sidecar, have, complete: sidecar.complete && sidecar.totalBytes === have };
}

export interface FetchContext {
  readonly store: CacheStore;
  readonly fetch: typeof fetch;
  /** Send If-Range with resumed requests (see `planRequest`). */
  readonly ifRange: boolean;
  /** Automatic resumes after a connection that was delivering bytes breaks. */
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly tracker: ProgressTracker;
  readonly index: number;
  /** Reports progress (throttled unless forced). */
  readonly emit: (force?: boolean) => void;
  readonly signal: AbortSignal | undefined;
  /** Throws the quota DownloadError (naming `size`) when `bytes` more will not fit. */
  readonly checkRoom: (job: FileJob, bytes: number, size: number) => Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(abortError(signal));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const cancelBody = (response: Response) => response.body?.cancel().catch(() => {});

/** Downloads `job` into the store; resolves once its sidecar says complete. */
export async function fetchFile(job: FileJob, ctx: FetchContext): Promise<void> {
  const { store, tracker, index, signal } = ctx;
  const sidecarFile = sidecarName(job.fileName);
  let state = await readStoredState(store, job);
  let refetched = false;
  let retries = 0;

  const saveSidecar = (sidecar: Sidecar) => store.writeText(sidecarFile, serializeSidecar(sidecar));
  const markComplete = async (sidecar: Sidecar | undefined, totalBytes: number) => {
    const now = Date.now();
    await saveSidecar({
      ...(sidecar ?? baseSidecar(job, now)),
      totalBytes,
      complete: true,
      savedAt: now,
    });
    tracker.finish(index, totalBytes);
    ctx.emit(true);
  };

  for (;;) {
    if (state.complete) return markComplete(state.sidecar, state.have);
    const partial: PartialState | undefined = state.sidecar && {
      have: state.have,
      totalBytes: state.sidecar.totalBytes ?? undefined,
      etag: state.sidecar.etag,
      lastModified: state.sidecar.lastModified,
    };
    const plan = planRequest(partial, { ifRange: ctx.ifRange });
    if (plan.kind === 'complete') return markComplete(state.sidecar, plan.totalBytes);
    tracker.setDone(index, plan.from);

    let response: Response;
    try {
      response = await ctx.fetch(job.url, { headers: plan.headers, signal, cache: 'no-store' });
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw networkError(job.name, job.url, e);
    }
    const decision = decideResponse(plan, partial, responseFacts(response));
    if (decision.kind === 'http-error') {
      await cancelBody(response);
      throw httpError(job.name, job.url, decision.status);
    }
    if (decision.kind === 'refetch') {
      await cancelBody(response);
      if (refetched) throw unstableServerError(job.name, decision.reason);
      refetched = true;
      state = { sidecar: undefined, have: 0, complete: false };
      continue;
    }
    if (decision.kind === 'complete') {
      await cancelBody(response);
      return markComplete(state.sidecar, decision.totalBytes);
    }

    // decision.kind === 'write'
    const { offset, totalBytes } = decision;
    tracker.setTotal(index, totalBytes);
    tracker.setDone(index, offset);
    try {
      if (totalBytes !== undefined) await ctx.checkRoom(job, totalBytes - offset, totalBytes);
    } catch (e) {
      await cancelBody(response);
      throw e;
    }
    const now = Date.now();
    const kept = offset > 0 && state.sidecar ? state.sidecar : baseSidecar(job, now);
    const sidecar: Sidecar = {
      ...kept,
      url: job.url,
      totalBytes: totalBytes ?? null,
      // A resumed answer may omit validators; keep the stored ones then.
      etag: decision.validators.etag ?? (offset > 0 ? kept.etag : undefined),
      lastModified: decision.validators.lastModified ?? (offset > 0 ? kept.lastModified : undefined),
      complete: false,
      savedAt: now,
    };
    const stored = await streamBody(job, ctx, response, sidecar, offset);
    if (stored.kind === 'done') {
      if (totalBytes === undefined || stored.bytes === totalBytes) return markComplete(sidecar, stored.bytes);
      if (stored.bytes > totalBytes) {
        await store.remove(job.fileName);
        await store.remove(sidecarFile);
        throw sizeMismatchError(job.name, stored.bytes, totalBytes);
      }
    }
    // The body ended early (an error, or a clean close before Content-Length): resume by
    // ourselves while the connection keeps delivering bytes.
    const madeProgress = stored.bytes > offset;
    if (!madeProgress || retries >= ctx.retries) {
      throw interruptedError(job.name, stored.bytes, totalBytes, stored.kind === 'broken' ? stored.cause : new Error('the connection closed early'));
    }
    retries++;
    await sleep(ctx.retryDelayMs, signal);
    state = await readStoredState(store, job);
  }
}

function baseSidecar(job: FileJob, now: number): Sidecar {
  return {
    version: 1,
    key: job.key,
    url: job.url,
    name: job.name,
    totalBytes: null,
    complete: false,
    startedAt: now,
    savedAt: now,
  };
}

type StreamOutcome = { kind: 'done'; bytes: number } | { kind: 'broken'; bytes: number; cause: unknown };

/**
 * Streams the body into the file from `offset`, with the sidecar saying how to resume it written
 * before the first byte lands. Storage failures and cancellation throw (after closing the file,
 * which keeps every byte written); a network failure returns what was stored.
 */
async function streamBody(job: FileJob, ctx: FetchContext, response: Response, sidecar: Sidecar, offset: number): Promise<StreamOutcome> {
  const { store, tracker, index, signal } = ctx;
  const storageFailure = (e: unknown) => (isQuotaError(e) ? quotaError(job.name, sidecar.totalBytes ?? undefined, e) : storageFailedError(job.name, e));
  // Truncate first, then describe: a crash in between leaves an empty file (fetched afresh), never
  // old bytes under a sidecar that speaks of a new file.
  let writer: CacheWriter | undefined;
  try {
    writer = await store.openWriter(job.fileName, offset);
    await store.writeText(sidecarName(job.fileName), serializeSidecar(sidecar));
  } catch (e) {
    await writer?.close().catch(() => {});
    await cancelBody(response);
    throw storageFailure(e);
  }
  let bytes = offset;
  let outcome: StreamOutcome | undefined;
  let failure: unknown;
  const reader = response.body?.getReader();
  try {
    while (reader) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        outcome = { kind: 'broken', bytes, cause: e };
        break;
      }
      if (chunk.done) break;
      try {
        await writer.write(chunk.value);
      } catch (e) {
        failure = storageFailure(e);
        break;
      }
      bytes += chunk.value.length;
      tracker.add(index, chunk.value.length);
      ctx.emit();
    }
  } finally {
    if (failure !== undefined || outcome) await reader?.cancel().catch(() => {});
    try {
      await writer.close();
    } catch (e) {
      failure ??= storageFailure(e);
    }
  }
  if (signal?.aborted) throw abortError(signal);
  if (failure !== undefined) throw failure;
  return outcome ?? { kind: 'done', bytes };
}
