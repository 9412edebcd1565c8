// The model download manager in headless Chromium, against a local server: progress to the total,
// resume after a cancel or a closed tab, a second open without the network, clear error
// sentences, and cache housekeeping; in the engine's module worker and on the main thread.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CacheEntry, DownloadProgress, StorageEstimate } from '../../src/download';
import { collectPageErrors, launchChromium } from './support/browser';
import { bundleDownloadHarness } from './support/download-harness-bundle';
import type { DownloadOutcome, HarnessOp, OpenOutcome, Realm } from './support/download-harness-page';
import { serveDownloadHarness, type HarnessServer } from './support/download-harness-server';
import { seededBytes } from '../fixtures/bytes';

const { modelPath } = inject('e2e');
const MB = 1 << 20;

let browser: Browser;
let server: HarnessServer;
let bigBytes: Uint8Array;
let modelBytes: Uint8Array;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  const [script, launched, model] = await Promise.all([bundleDownloadHarness(), launchChromium({ webgpu: false }), readFile(modelPath)]);
  browser = launched;
  server = await serveDownloadHarness(script);
  bigBytes = seededBytes(8 * MB, 11);
  modelBytes = new Uint8Array(model);
  server.files.set('big.bin', { bytes: bigBytes, etag: '"big-1"' });
  server.files.set('model.gguf', { bytes: modelBytes, etag: '"model-1"' });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh browser profile (its own OPFS) with the harness page loaded. */
async function openHarness(context?: BrowserContext): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  context ??= await browser.newContext();
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(() => globalThis.harness !== undefined);
  return { context, page, errors };
}

function call<T>(page: Page, realm: Realm, request: HarnessOp): Promise<T> {
  return page.evaluate(([r, q]) => globalThis.harness!.call(r, q), [realm, request] as const) as Promise<T>;
}

const fileUrl = (name: string) => `${server.origin}/files/${name}`;

function reset(behaviour: Partial<HarnessServer['behaviour']> = {}) {
  server.release();
  Object.assign(server.behaviour, { honourRange: true, bytesPerSecond: undefined, dropAfter: undefined, pauseAfter: undefined }, behaviour);
  server.log.length = 0;
}

function expectMonotonic(events: DownloadProgress[]) {
  for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
}

describe('in the engine worker', () => {
  it('downloads two files with progress to the total, then opens the model offline without a request', async () => {
    reset({ bytesPerSecond: 8 * MB });
    const { context, page, errors } = await openHarness();
    const total = bigBytes.length + modelBytes.length;
    const outcome = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url: fileUrl('model.gguf') }, { url: fileUrl('big.bin') }] });
    expect(outcome.error).toBeUndefined();
    const { events } = outcome;
    expect(events[0]).toMatchObject({ bytesDone: 0, bytesTotal: total, filesDone: 0, filesTotal: 2 });
    expect(events.at(-1)).toMatchObject({ bytesDone: total, bytesTotal: total, filesDone: 2, secondsLeft: 0 });
    expectMonotonic(events);
    // Throttled to ~10 events a second (plus one per finished file and the first).
    expect(events.length).toBeLessThanOrEqual((outcome.ms / 1000) * 10 + 4);
    expect(events.length).toBeGreaterThan(3);
    const measured = events.filter((e) => e.bytesPerSecond > 0).at(-1)!;
    // The reported speed is the speed the page saw, measured in this run (the server caps it at
    // 8 MiB/s; a busy machine may be slower): within a factor of three of bytes ÷ elapsed time.
    // The smoothing itself is checked against a fake clock in tests/unit/download-progress.test.ts.
    const average = total / (outcome.ms / 1000);
    expect(measured.bytesPerSecond / average).toBeGreaterThan(1 / 3);
    expect(measured.bytesPerSecond / average).toBeLessThan(3);

    expect(await call(page, 'worker', { op: 'hash', url: fileUrl('big.bin') })).toBe(sha256(bigBytes));
    expect(await call(page, 'worker', { op: 'hash', url: fileUrl('model.gguf') })).toBe(sha256(modelBytes));
    const listed = await call<CacheEntry[]>(page, 'main', { op: 'list' });
    expect(listed.map((e) => [e.url, e.bytes, e.complete]).sort()).toEqual([
      [fileUrl('big.bin'), bigBytes.length, true],
      [fileUrl('model.gguf'), modelBytes.length, true],
    ]);

    // A second visit, then the network goes (an offline meeting room): straight from the cache.
    // (The page itself loads before going offline: serving the app shell offline is the app's job.)
    server.log.length = 0;
    const second = await openHarness(context);
    await call(second.page, 'worker', { op: 'list' }); // the worker's script loads while online
    await context.setOffline(true);
    const opened = await call<OpenOutcome>(second.page, 'worker', { op: 'open', url: fileUrl('model.gguf') });
    expect(opened).toEqual({ cached: true, downloaded: false, size: modelBytes.length, magic: 'GGUF' });
    expect(server.fileRequests()).toEqual([]);
    expect([...errors, ...second.errors]).toEqual([]);
    await context.close();
  });

  it('resumes a cancelled download with a Range request from the saved length', async () => {
    // The server stalls at 40 %, and the page cancels once its progress shows that byte.
    const at = Math.round(0.4 * bigBytes.length);
    reset({ pauseAfter: at });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('big.bin');
    const cancelled = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }], abortAtBytes: at });
    expect(cancelled.error).toMatchObject({ name: 'AbortError', isDomException: true, isDownloadError: false });
    const [partial] = await call<CacheEntry[]>(page, 'worker', { op: 'list' });
    // Everything that arrived before the cancel is kept, to the byte.
    expect(partial).toMatchObject({ url, complete: false, totalBytes: bigBytes.length, bytes: at });

    reset();
    const resumed = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }] });
    expect(resumed.error).toBeUndefined();
    expect(server.fileRequests()).toMatchObject([{ range: `bytes=${partial.bytes}-`, ifRange: '"big-1"', status: 206 }]);
    expect(server.fileRequests()[0].bytesSent).toBe(bigBytes.length - partial.bytes);
    expect(resumed.events[0].bytesDone).toBe(partial.bytes);
    expect(resumed.events.at(-1)!.bytesDone).toBe(bigBytes.length);
    expect(await call(page, 'worker', { op: 'hash', url })).toBe(sha256(bigBytes));
    console.log(`worker: cancelled at ${partial.bytes} of ${bigBytes.length} bytes; resumed with Range bytes=${partial.bytes}-`);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('keeps what arrived before the tab was closed mid-download, and resumes from it', async () => {
    // 24 MiB, stalled at 20 MiB: the worker flushes at least every 8 MiB (and every second while
    // bytes flow), so a tab closed without warning keeps at least 12 MiB.
    const long = seededBytes(24 * MB, 17);
    server.files.set('long.bin', { bytes: long, etag: '"long-1"' });
    const at = 20 * MB;
    reset({ pauseAfter: at });
    const first = await openHarness();
    const url = fileUrl('long.bin');
    await call(first.page, 'worker', { op: 'start', files: [{ url }] });
    // The stall holds the download at `at`; progress reaches it (the page reports while stalled).
    await expect
      .poll(async () => (await call<DownloadProgress | null>(first.page, 'worker', { op: 'progress' }))?.bytesDone, { timeout: 60_000 })
      .toBe(at);
    await first.page.close(); // no cancel, no unload handler: the worker just dies

    reset();
    const second = await openHarness(first.context);
    const [partial] = await call<CacheEntry[]>(second.page, 'worker', { op: 'list' });
    expect(partial.bytes).toBeGreaterThanOrEqual(at - 8 * MB);
    expect(partial.bytes).toBeLessThanOrEqual(at);
    const resumed = await call<DownloadOutcome>(second.page, 'worker', { op: 'download', files: [{ url }] });
    expect(resumed.error).toBeUndefined();
    expect(server.fileRequests()[0]).toMatchObject({ range: `bytes=${partial.bytes}-`, status: 206 });
    expect(await call(second.page, 'worker', { op: 'hash', url })).toBe(sha256(long));
    console.log(`worker: tab closed after ${at} bytes were reported; ${partial.bytes} were on disk and resumed from`);
    server.files.delete('long.bin');
    expect(second.errors).toEqual([]);
    await first.context.close();
  });

  it('resumes by itself when the connection drops, and starts over cleanly on a server that ignores Range', async () => {
    // The server stalls at 3 MiB; once the page has taken in all of it, the connection breaks.
    // (Breaking it with bytes still in flight would race the page: a reset discards them.)
    const at = 3 * MB;
    reset({ pauseAfter: at, dropAfter: at });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('big.bin');
    await call(page, 'worker', { op: 'start', files: [{ url }] });
    await expect.poll(async () => (await call<DownloadProgress | null>(page, 'worker', { op: 'progress' }))?.bytesDone, { timeout: 60_000 }).toBe(at);
    server.release();
    const dropped = await call<DownloadOutcome>(page, 'worker', { op: 'outcome' });
    expect(dropped.error).toBeUndefined();
    // The retry asks for the rest after what reached the disk: all of it.
    const [broken, retry] = server.fileRequests();
    expect(server.fileRequests()).toHaveLength(2);
    expect(broken).toMatchObject({ range: undefined, status: 200, bytesSent: at });
    expect(retry).toMatchObject({ range: `bytes=${at}-`, status: 206, bytesSent: bigBytes.length - at });
    console.log(`worker: connection dropped after ${broken.bytesSent} bytes sent; resumed by itself from byte ${at}`);
    expect(await call(page, 'worker', { op: 'hash', url })).toBe(sha256(bigBytes));

    await call(page, 'worker', { op: 'delete', url });
    const half = bigBytes.length / 2;
    reset({ pauseAfter: half });
    const cancelled = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }], abortAtBytes: half });
    expect(cancelled.error?.name).toBe('AbortError');
    reset({ honourRange: false });
    const restarted = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }] });
    expect(restarted.error).toBeUndefined();
    expect(server.fileRequests()).toMatchObject([{ range: expect.stringMatching(/^bytes=\d+-$/), status: 200, bytesSent: bigBytes.length }]);
    expect(await call(page, 'worker', { op: 'hash', url })).toBe(sha256(bigBytes));
    expect(errors).toEqual([]);
    await context.close();
  });

  it('says in one sentence that a file does not exist', async () => {
    reset();
    const { context, page } = await openHarness();
    const url = fileUrl('missing.gguf');
    const outcome = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url, name: 'Qwen2.5 0.5B' }] });
    expect(outcome.error).toEqual({
      name: 'DownloadError',
      isDownloadError: true,
      isDomException: false,
      message: `Could not download Qwen2.5 0.5B: the server has no file at ${url} (HTTP 404); check the model address, then try again.`,
    });
    expect(await call(page, 'worker', { op: 'list' })).toEqual([]);
    await context.close();
  });

  it('clears the cache: the list empties and storage shrinks', async () => {
    reset();
    const { context, page, errors } = await openHarness();
    await call(page, 'worker', { op: 'download', files: [{ url: fileUrl('big.bin') }, { url: fileUrl('model.gguf') }] });
    const before = await call<StorageEstimate>(page, 'main', { op: 'estimate' });
    expect(before.ours).toBeGreaterThanOrEqual(bigBytes.length + modelBytes.length);
    expect(before.usage).toBeGreaterThanOrEqual(before.ours);
    await call(page, 'main', { op: 'clear' });
    const after = await call<StorageEstimate>(page, 'main', { op: 'estimate' });
    expect(await call(page, 'worker', { op: 'list' })).toEqual([]);
    expect(after.ours).toBe(0);
    expect(before.usage! - after.usage!).toBeGreaterThanOrEqual(bigBytes.length + modelBytes.length);
    console.log(`clearCache: usage ${before.usage} → ${after.usage} bytes (ours ${before.ours} → ${after.ours})`);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('on the main thread', () => {
  it('downloads, cancels, resumes from the saved length and opens from the cache', async () => {
    const at = Math.round(0.3 * bigBytes.length);
    reset({ pauseAfter: at });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('big.bin');
    const cancelled = await call<DownloadOutcome>(page, 'main', { op: 'download', files: [{ url }], abortAtBytes: at });
    expect(cancelled.error).toMatchObject({ name: 'AbortError', isDomException: true });
    const [partial] = await call<CacheEntry[]>(page, 'main', { op: 'list' });
    // An abort closes the writable stream, which commits every byte written.
    expect(partial.bytes).toBe(at);

    reset();
    const resumed = await call<DownloadOutcome>(page, 'main', { op: 'download', files: [{ url }] });
    expect(resumed.error).toBeUndefined();
    expect(server.fileRequests()).toMatchObject([{ range: `bytes=${partial.bytes}-`, status: 206 }]);
    expect(await call(page, 'main', { op: 'hash', url })).toBe(sha256(bigBytes));
    console.log(`main thread: cancelled at ${partial.bytes} bytes; resumed with Range bytes=${partial.bytes}-`);

    server.log.length = 0;
    expect(await call<OpenOutcome>(page, 'main', { op: 'open', url })).toMatchObject({ cached: true, downloaded: false, size: bigBytes.length });
    expect(server.fileRequests()).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('stays byte-exact across a writable-stream checkpoint (past 64 MiB) and a resume after it', async () => {
    const huge = seededBytes(72 * MB, 23);
    server.files.set('huge.bin', { bytes: huge, etag: '"huge-1"' });
    // Stalled and cancelled at 68 MiB: past the first checkpoint (64 MiB), before the end.
    const at = 68 * MB;
    reset({ pauseAfter: at });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('huge.bin');
    const cancelled = await call<DownloadOutcome>(page, 'main', { op: 'download', files: [{ url }], abortAtBytes: at });
    expect(cancelled.error?.name).toBe('AbortError');
    const [partial] = await call<CacheEntry[]>(page, 'main', { op: 'list' });
    expect(partial.bytes).toBe(at);
    reset();
    const resumed = await call<DownloadOutcome>(page, 'main', { op: 'download', files: [{ url }] });
    expect(resumed.error).toBeUndefined();
    expect(server.fileRequests()).toMatchObject([{ range: `bytes=${partial.bytes}-`, status: 206 }]);
    expect(await call(page, 'main', { op: 'hash', url })).toBe(sha256(huge));
    console.log(`main thread, 72 MiB: cancelled at ${partial.bytes} bytes (${(cancelled.ms / 1000).toFixed(1)} s), resumed in ${(resumed.ms / 1000).toFixed(1)} s`);
    expect(errors).toEqual([]);
    server.files.delete('huge.bin');
    await context.close();
  });

  it('streams from the network, and says why, where the browser offers no file storage', async () => {
    reset();
    const context = await browser.newContext();
    await context.addInitScript(() => {
      // As in Firefox's private windows: no OPFS for this page.
      Object.defineProperty(StorageManager.prototype, 'getDirectory', { value: undefined });
    });
    const { page, errors } = await openHarness(context);
    const opened = await call<OpenOutcome>(page, 'main', { op: 'open', url: fileUrl('model.gguf') });
    expect(opened).toMatchObject({ cached: false, downloaded: false, size: modelBytes.length, magic: 'GGUF' });
    expect(opened.note).toMatch(/^This browser does not let the app store the model .+, so it streams from the network/);
    expect(server.fileRequests().every((r) => r.range !== undefined)).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  });
});
