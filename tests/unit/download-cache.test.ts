// The download manager end to end in Node: an in-memory store and a fake HTTP server with Range,
// If-Range, ETags, dropped connections and failures; what a user would notice in each case.

import { describe, expect, it } from 'vitest';
import { ModelCache, memoryStore, openModelSourceWith, type DownloadProgress, type DownloadRequest } from '../../src/download';
import { DownloadError } from '../../src/errors';
import { seededBytes } from '../fixtures/bytes';

const URL_A = 'https://hub.test/org/repo/resolve/main/model-a.gguf';
const URL_B = 'https://hub.test/org/repo/resolve/main/model-b.gguf';

interface Logged {
  url: string;
  range: string | null;
  ifRange: string | null;
  status: number;
}

interface FakeFile {
  bytes: Uint8Array;
  etag?: string;
  /** Fail the request with this status. */
  status?: number;
}

/** A fake server: Range and If-Range like a CDN, bodies in 16 kB chunks, optional faults. */
function fakeServer(files: Record<string, FakeFile>) {
  const log: Logged[] = [];
  const behaviour = {
    honourRange: true,
    /** Break the next body after this many bytes (once). */
    dropAfter: undefined as number | undefined,
    /** Reject fetch itself, as when offline. */
    offline: false,
  };
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    const signal = init?.signal ?? undefined;
    const entry: Logged = { url, range: headers.get('Range'), ifRange: headers.get('If-Range'), status: 0 };
    log.push(entry);
    if (behaviour.offline) throw new TypeError('Failed to fetch');
    signal?.throwIfAborted();
    const file = files[url];
    if (!file || file.status) {
      entry.status = file?.status ?? 404;
      return new Response('no', { status: entry.status });
    }
    const { bytes, etag } = file;
    const m = /^bytes=(\d+)-(\d*)$/.exec(entry.range ?? '');
    const ifRangeOk = !entry.ifRange || entry.ifRange === etag;
    let start = 0;
    let end = bytes.length - 1;
    let status = 200;
    if (m && behaviour.honourRange && ifRangeOk) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), end) : end;
      if (start >= bytes.length) {
        entry.status = 416;
        return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${bytes.length}` } });
      }
      status = 206;
    }
    entry.status = status;
    const responseHeaders: Record<string, string> = { 'Content-Length': String(end - start + 1) };
    if (status === 206) responseHeaders['Content-Range'] = `bytes ${start}-${end}/${bytes.length}`;
    if (etag) responseHeaders.ETag = etag;
    let position = start;
    let dropAt = behaviour.dropAfter === undefined ? Infinity : start + behaviour.dropAfter;
    behaviour.dropAfter = undefined;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (signal?.aborted) return controller.error(signal.reason);
        if (position >= dropAt) {
          dropAt = Infinity;
          return controller.error(new TypeError('network error'));
        }
        if (position > end) return controller.close();
        const next = Math.min(position + 16384, end + 1, dropAt);
        controller.enqueue(bytes.slice(position, next));
        position = next;
      },
    });
    return new Response(body, { status, headers: responseHeaders });
  }) as typeof fetch;
  return { fetch: fetchImpl, log, behaviour, files };
}

function setup(files: Record<string, FakeFile>, options: { capacity?: number; ifRange?: 'always' | 'never' } = {}) {
  const server = fakeServer(files);
  const store = memoryStore({ capacity: options.capacity });
  const cache = new ModelCache(store, { fetch: server.fetch, ifRange: options.ifRange ?? 'always', retryDelayMs: 0, now: fakeClock() });
  return { server, store, cache };
}

/** Advances 60 ms per reading, so that every other progress poll emits however fast the bytes come. */
function fakeClock(): () => number {
  let ms = 0;
  return () => (ms += 60);
}

/** Byte equality as one boolean (a deep `toEqual` over 300 000 elements takes seconds). */
async function sameBytes(blob: Blob, expected: Uint8Array): Promise<boolean> {
  return Buffer.from(await blob.arrayBuffer()).equals(Buffer.from(expected));
}

/** Downloads `requests`, aborting once `abortAt` bytes are done; resolves with the events and outcome. */
async function download(cache: ModelCache, requests: DownloadRequest[], abortAt = Infinity) {
  const events: DownloadProgress[] = [];
  const controller = new AbortController();
  try {
    const files = await cache.downloadFiles(requests, {
      signal: controller.signal,
      onProgress: (p) => {
        events.push(p);
        if (p.bytesDone >= abortAt) controller.abort();
      },
    });
    return { events, files, error: undefined };
  } catch (error) {
    return { events, files: undefined, error };
  }
}

const a = seededBytes(300_000, 1);
const b = seededBytes(120_000, 2);

describe('ModelCache downloads', () => {
  it('downloads two files with one progress stream that reaches the total', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a, etag: '"a1"' }, [URL_B]: { bytes: b, etag: '"b1"' } });
    const { events, files, error } = await download(cache, [{ url: URL_A, name: 'Model A' }, { url: URL_B }]);
    expect(error).toBeUndefined();
    // Probes told the total before any body streamed.
    expect(server.log.slice(0, 2).map((r) => r.range)).toEqual(['bytes=0-0', 'bytes=0-0']);
    expect(events[0]).toMatchObject({ bytesDone: 0, bytesTotal: a.length + b.length, filesDone: 0, filesTotal: 2 });
    expect(events.at(-1)).toMatchObject({ bytesDone: a.length + b.length, bytesTotal: a.length + b.length, filesDone: 2, secondsLeft: 0, file: URL_B });
    for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
    expect(files!.map((f) => [f.name, f.bytes, f.complete])).toEqual([
      ['Model A', a.length, true],
      ['model-b.gguf', b.length, true],
    ]);
    expect(await sameBytes(files![0].blob, a)).toBe(true);
    expect(await sameBytes(files![1].blob, b)).toBe(true);
  });

  it('serves a cached file again without any request', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a, etag: '"a1"' } });
    await download(cache, [{ url: URL_A }]);
    server.log.length = 0;
    server.behaviour.offline = true;
    expect(await cache.isCached(URL_A)).toBe(true);
    const source = (await cache.cachedSource(URL_A))!;
    expect(await source.size()).toBe(a.length);
    expect(await source.read(1000, 8)).toEqual(a.slice(1000, 1008));
    const again = await download(cache, [{ url: URL_A }]);
    expect(again.error).toBeUndefined();
    expect(again.events.at(-1)).toMatchObject({ bytesDone: a.length, bytesTotal: a.length, filesDone: 1 });
    expect(server.log).toEqual([]);
  });

  it('keeps an aborted part and resumes it with Range and If-Range', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a, etag: '"a1"' } });
    const aborted = await download(cache, [{ url: URL_A }], 100_000);
    expect(aborted.error).toBeInstanceOf(DOMException);
    expect((aborted.error as DOMException).name).toBe('AbortError');
    expect(aborted.error).not.toBeInstanceOf(DownloadError);
    const [entry] = await cache.listCached();
    expect(entry).toMatchObject({ url: URL_A, complete: false, totalBytes: a.length });
    expect(entry.bytes).toBeGreaterThanOrEqual(100_000);
    expect(entry.bytes).toBeLessThan(a.length);
    expect(await cache.isCached(URL_A)).toBe(false);
    expect(await cache.cachedSource(URL_A)).toBeUndefined();

    server.log.length = 0;
    const resumed = await download(cache, [{ url: URL_A }]);
    expect(resumed.error).toBeUndefined();
    expect(server.log).toEqual([{ url: URL_A, range: `bytes=${entry.bytes}-`, ifRange: '"a1"', status: 206 }]);
    expect(resumed.events[0].bytesDone).toBe(entry.bytes);
    expect(resumed.events.at(-1)!.bytesDone).toBe(a.length);
    expect(await sameBytes(resumed.files![0].blob, a)).toBe(true);
  });

  it('starts over cleanly when the server ignores Range', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a, etag: '"a1"' } });
    await download(cache, [{ url: URL_A }], 150_000);
    server.behaviour.honourRange = false;
    server.log.length = 0;
    const resumed = await download(cache, [{ url: URL_A }]);
    expect(server.log).toMatchObject([{ range: expect.stringMatching(/^bytes=\d+-$/), status: 200 }]);
    expect(await sameBytes(resumed.files![0].blob, a)).toBe(true);
  });

  it('starts over when the file changed on the server (If-Range, or ETag/size checks without it)', async () => {
    for (const ifRange of ['always', 'never'] as const) {
      const { cache, server } = setup({ [URL_A]: { bytes: a, etag: '"a1"' } }, { ifRange });
      await download(cache, [{ url: URL_A }], 100_000);
      const changed = seededBytes(a.length, 99);
      server.files[URL_A] = { bytes: changed, etag: '"a2"' };
      server.log.length = 0;
      const resumed = await download(cache, [{ url: URL_A }]);
      expect(resumed.error).toBeUndefined();
      expect(await sameBytes(resumed.files![0].blob, changed)).toBe(true);
      // With If-Range the server itself sends the new file; without it the changed ETag of the 206
      // is noticed and the whole file asked for again.
      const resumedRange = expect.stringMatching(/^bytes=\d+-$/);
      expect(server.log).toMatchObject(
        ifRange === 'always'
          ? [{ range: resumedRange, ifRange: '"a1"', status: 200 }]
          : [{ range: resumedRange, ifRange: null, status: 206 }, { range: null, status: 200 }],
      );

      // A new size without validators is caught too.
      const grown = seededBytes(a.length + 5000, 7);
      await cache.deleteCached(URL_A);
      server.files[URL_A] = { bytes: changed };
      await download(cache, [{ url: URL_A }], 100_000);
      server.files[URL_A] = { bytes: grown };
      const again = await download(cache, [{ url: URL_A }]);
      expect(await sameBytes(again.files![0].blob, grown)).toBe(true);
    }
  });

  it('resumes by itself when the connection drops mid-file', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a, etag: '"a1"' } });
    server.behaviour.dropAfter = 70_000;
    const { files, error } = await download(cache, [{ url: URL_A }]);
    expect(error).toBeUndefined();
    expect(server.log.map((r) => r.range)).toEqual([null, 'bytes=70000-']);
    expect(await sameBytes(files![0].blob, a)).toBe(true);
  });

  it('resumes a complete-looking entry whose data file is short, and ignores a broken sidecar', async () => {
    const { cache, server, store } = setup({ [URL_A]: { bytes: a, etag: '"a1"' } });
    const [file] = (await download(cache, [{ url: URL_A }])).files!;
    store.files.set(file.fileName, a.slice(0, 50_000));
    expect(await cache.isCached(URL_A)).toBe(false);
    server.log.length = 0;
    await download(cache, [{ url: URL_A }]);
    expect(server.log.map((r) => r.range)).toEqual(['bytes=50000-']);
    expect(await cache.isCached(URL_A)).toBe(true);

    store.files.set(`${file.fileName}.meta.json`, new TextEncoder().encode('{ not json'));
    server.log.length = 0;
    const fresh = await download(cache, [{ url: URL_A }]);
    expect(server.log.map((r) => r.range)).toEqual([null]);
    expect(await sameBytes(fresh.files![0].blob, a)).toBe(true);
  });
});

describe('ModelCache failures', () => {
  const sentence = /^[^;]+; [^;]+\.$/;

  it('turns 404 and 403 into one sentence saying what to do', async () => {
    const { cache } = setup({ [URL_B]: { bytes: b, status: 403 } });
    const missing = await download(cache, [{ url: URL_A, name: 'Qwen2.5 0.5B' }]);
    expect(missing.error).toBeInstanceOf(DownloadError);
    expect((missing.error as Error).message).toBe(
      `Could not download Qwen2.5 0.5B: the server has no file at ${URL_A} (HTTP 404); check the model address, then try again.`,
    );
    const gated = await download(cache, [{ url: URL_B }]);
    expect((gated.error as Error).message).toMatch(/refused access .* \(HTTP 403\); the model may be gated/);
    expect((gated.error as Error).message).toMatch(sentence);
    expect(await cache.listCached()).toEqual([]);
  });

  it('reports an unreachable server as a DownloadError', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a } });
    server.behaviour.offline = true;
    const { error } = await download(cache, [{ url: URL_A }]);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toMatch(/^Could not reach the server for model-a\.gguf \(Failed to fetch\); check your connection/);
  });

  it('says there is not enough storage, before downloading when the quota shows it', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a } }, { capacity: 200_000 });
    const { error } = await download(cache, [{ url: URL_A, name: 'Qwen2.5-0.5B' }]);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toBe(
      'Not enough browser storage to keep Qwen2.5-0.5B (300 kB); clear the model cache or free disk space, then try again.',
    );
    expect(server.log.every((r) => r.range === null)).toBe(true);
  });

  it('says there is not enough storage when a write hits the quota', async () => {
    const server = fakeServer({ [URL_A]: { bytes: a } });
    const store = { ...memoryStore({ capacity: 200_000 }), estimate: async () => ({}) };
    const cache = new ModelCache(store, { fetch: server.fetch, retryDelayMs: 0, now: fakeClock() });
    const { error } = await download(cache, [{ url: URL_A, name: 'Qwen2.5-0.5B' }]);
    expect((error as Error).message).toMatch(/^Not enough browser storage to keep Qwen2\.5-0\.5B \(300 kB\); clear the model cache/);
    expect((await cache.listCached())[0]).toMatchObject({ complete: false });
  });

  it('keeps the part and reports the server unreachable when an automatic resume cannot connect', async () => {
    const server = fakeServer({ [URL_A]: { bytes: a } });
    let calls = 0;
    // The first body breaks after 40 kB; the automatic resume then finds no network.
    const flaky = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (calls++ > 0) server.behaviour.offline = true;
      server.behaviour.dropAfter = 40_000;
      return server.fetch(input, init);
    }) as typeof fetch;
    const cache = new ModelCache(memoryStore(), { fetch: flaky, retryDelayMs: 0, now: fakeClock() });
    const { error } = await download(cache, [{ url: URL_A }]);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toMatch(/^Could not reach the server/);
    expect((await cache.listCached())[0]).toMatchObject({ bytes: 40_000, complete: false });
  });

  it('names the stopping point when a body ends early and retries are used up', async () => {
    const server = fakeServer({ [URL_A]: { bytes: a } });
    const cache = new ModelCache(memoryStore(), { fetch: server.fetch, retries: 0, now: fakeClock() });
    server.behaviour.dropAfter = 150_000;
    const { error } = await download(cache, [{ url: URL_A, name: 'Model A' }]);
    expect((error as Error).message).toBe(
      'The download of Model A broke off after 150 kB of 300 kB (network error); check your connection and try again, and it will continue from there.',
    );
  });
});

describe('ModelCache housekeeping', () => {
  it('lists, deletes, clears and measures what it stores', async () => {
    const { cache, store } = setup({ [URL_A]: { bytes: a, etag: '"a1"' }, [URL_B]: { bytes: b } });
    await download(cache, [{ url: URL_A }, { url: URL_B }]);
    const listed = await cache.listCached();
    expect(listed.map((e) => [e.url, e.bytes, e.complete]).sort()).toEqual([
      [URL_A, a.length, true],
      [URL_B, b.length, true],
    ]);
    const before = await cache.storageEstimate();
    expect(before.ours).toBeGreaterThan(a.length + b.length); // sidecars too
    expect(await cache.deleteCached(URL_B)).toBe(true);
    expect(await cache.deleteCached(URL_B)).toBe(false);
    expect((await cache.listCached()).map((e) => e.url)).toEqual([URL_A]);
    await cache.clearCache();
    expect(await cache.listCached()).toEqual([]);
    expect((await cache.storageEstimate()).ours).toBe(0);
    expect(store.files.size).toBe(0);
    expect(await cache.requestPersistence()).toBe(true);
  });

  it('stops a running download when its entry is deleted', async () => {
    const { cache } = setup({ [URL_A]: { bytes: a } });
    let deleting: Promise<boolean> | undefined;
    const result = cache.downloadFiles([{ url: URL_A }], {
      onProgress: (p) => {
        if (p.bytesDone > 50_000) deleting ??= cache.deleteCached(URL_A);
      },
    });
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
    expect(await deleting).toBe(true);
    expect(await cache.listCached()).toEqual([]);
  });
});

describe('openModelSource', () => {
  it('downloads once, then opens from the cache', async () => {
    const { cache, server } = setup({ [URL_A]: { bytes: a } });
    const first = await openModelSourceWith(cache, URL_A);
    expect(first).toMatchObject({ cached: false, downloaded: true });
    expect(first.note).toBeUndefined();
    server.log.length = 0;
    const second = await openModelSourceWith(cache, URL_A);
    expect(second).toMatchObject({ cached: true, downloaded: false });
    expect(await second.source.read(0, 4)).toEqual(a.slice(0, 4));
    expect(server.log).toEqual([]);
  });

  it('streams from the network, and says so, where the browser cannot store files', async () => {
    const server = fakeServer({ [URL_A]: { bytes: a } });
    const opened = await openModelSourceWith(undefined, URL_A, {}, server.fetch);
    expect(opened).toMatchObject({ cached: false, downloaded: false });
    expect(opened.note).toMatch(/streams from the network/);
    expect(await opened.source.size()).toBe(a.length);
    expect(await opened.source.read(10, 3)).toEqual(a.slice(10, 13));
  });
});
