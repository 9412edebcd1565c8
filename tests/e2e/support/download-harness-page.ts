// Browser side of the download e2e test, bundled with src/download: the same operations run on the
// page's main thread or in a module worker (the engine's setting), and answer in plain JSON.

import {
  cachedSource,
  clearCache,
  deleteCached,
  downloadFiles,
  listCached,
  openModelSource,
  storageEstimate,
  type CacheEntry,
  type DownloadProgress,
  type DownloadRequest,
} from '../../../src/download';
import { DownloadError } from '../../../src/errors';

export type HarnessOp =
  /**
   * Downloads `files`; cancels once progress reports `abortAtBytes` done (pair it with the server's
   * `pauseAfter` at the same byte, so the cancel lands there whatever the machine's speed).
   */
  | { op: 'download'; files: DownloadRequest[]; abortAtBytes?: number }
  /** Starts the download and answers at once; `progress` tells how far it got, `outcome` how it ended. */
  | { op: 'start'; files: DownloadRequest[] }
  | { op: 'progress' }
  | { op: 'outcome' }
  | { op: 'open'; url: string }
  | { op: 'list' }
  | { op: 'delete'; url: string }
  | { op: 'clear' }
  | { op: 'estimate' }
  /** SHA-256 (hex) of the cached file for `url`. */
  | { op: 'hash'; url: string };

export interface HarnessError {
  name: string;
  message: string;
  isDownloadError: boolean;
  isDomException: boolean;
}

export interface DownloadOutcome {
  events: DownloadProgress[];
  files?: { url: string; bytes: number; fileName: string }[];
  error?: HarnessError;
  ms: number;
}

export interface OpenOutcome {
  cached: boolean;
  downloaded: boolean;
  note?: string;
  size: number;
  /** The first four bytes as text ("GGUF" for a model). */
  magic: string;
}

/** Errors lose their class through postMessage, so they travel as plain facts. */
function describeError(error: unknown): HarnessError {
  const e = error as Error;
  return {
    name: e?.name ?? 'unknown',
    message: e?.message ?? String(error),
    isDownloadError: error instanceof DownloadError,
    isDomException: error instanceof DOMException,
  };
}

let lastProgress: DownloadProgress | undefined;
let started: Promise<DownloadOutcome> | undefined;

async function download(files: DownloadRequest[], abortAtBytes = Infinity): Promise<DownloadOutcome> {
  const events: DownloadProgress[] = [];
  const controller = new AbortController();
  const started = performance.now();
  try {
    const cached = await downloadFiles(files, {
      signal: controller.signal,
      onProgress: (p) => {
        events.push(p);
        lastProgress = p;
        if (p.bytesDone >= abortAtBytes) controller.abort();
      },
    });
    return { events, files: cached.map((f) => ({ url: f.url, bytes: f.bytes, fileName: f.fileName })), ms: performance.now() - started };
  } catch (error) {
    return { events, error: describeError(error), ms: performance.now() - started };
  }
}

async function sha256(blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function runOp(request: HarnessOp): Promise<unknown> {
  switch (request.op) {
    case 'download':
      return download(request.files, request.abortAtBytes);
    case 'start':
      started = download(request.files);
      return true;
    case 'progress':
      return lastProgress ?? null;
    case 'outcome':
      return started ?? null;
    case 'open': {
      try {
        const opened = await openModelSource(request.url);
        const head = await opened.source.read(0, 4);
        const outcome: OpenOutcome = {
          cached: opened.cached,
          downloaded: opened.downloaded,
          note: opened.note,
          size: await opened.source.size(),
          magic: new TextDecoder().decode(head),
        };
        return outcome;
      } catch (error) {
        return { error: describeError(error) };
      }
    }
    case 'list':
      return listCached() satisfies Promise<CacheEntry[]>;
    case 'delete':
      return deleteCached(request.url);
    case 'clear':
      await clearCache();
      return true;
    case 'estimate':
      return storageEstimate();
    case 'hash': {
      const source = await cachedSource(request.url);
      if (!source) return null;
      return sha256(new Blob([(await source.read(0, await source.size())) as BlobPart]));
    }
  }
}

/** Which realm runs an operation. */
export type Realm = 'main' | 'worker';

export interface Harness {
  call(realm: Realm, request: HarnessOp): Promise<unknown>;
}

declare global {
  // eslint-disable-next-line no-var
  var harness: Harness | undefined;
}

const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

if (inWorker) {
  // Worker: answer { id, request } with { id, result }.
  globalThis.addEventListener('message', (event: Event) => {
    const { id, request } = (event as MessageEvent<{ id: number; request: HarnessOp }>).data;
    runOp(request).then(
      (result) => globalThis.postMessage({ id, result }),
      (error) => globalThis.postMessage({ id, result: { error: describeError(error) } }),
    );
  });
} else {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  const toWorker = (request: HarnessOp) => {
    if (!worker) {
      worker = new Worker(new URL(import.meta.url), { type: 'module' });
      worker.onmessage = (event: MessageEvent<{ id: number; result: unknown }>) => {
        pending.get(event.data.id)?.resolve(event.data.result);
        pending.delete(event.data.id);
      };
      // A worker that fails to load would otherwise leave every call hanging.
      worker.onerror = (event) => {
        for (const { reject } of pending.values()) reject(new Error(`The harness worker failed: ${event.message || 'it did not load'}.`));
        pending.clear();
      };
    }
    const id = nextId++;
    return new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker!.postMessage({ id, request });
    });
  };
  globalThis.harness = { call: (realm, request) => (realm === 'main' ? runOp(request) : toWorker(request)) };
}
