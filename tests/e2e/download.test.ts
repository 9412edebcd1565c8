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
  Object.assign(server.behaviour, { honourRange: true, bytesPerSecond: undefined, dropAfter: undefined }, behaviour);
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
    // The right order of magnitude for an 8 MiB/s server (smoothing lags; the machine may be busy).
    expect(measured.bytesPerSecond).toBeGreaterThan(1 * MB);
    expect(measured.bytesPerSecond).toBeLessThan(16 * MB);

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
    reset({ bytesPerSecond: 4 * MB });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('big.bin');
    const cancelled = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }], abortAtFraction: 0.4 });
    expect(cancelled.error).toMatchObject({ name: 'AbortError', isDomException: true, isDownloadError: false });
    const [partial] = await call<CacheEntry[]>(page, 'worker', { op: 'list' });
    expect(partial).toMatchObject({ url, complete: false, totalBytes: bigBytes.length });
    // Everything that arrived before the cancel is kept.
    expect(partial.bytes).toBeGreaterThanOrEqual(0.4 * bigBytes.length);
    expect(partial.bytes).toBeLessThan(bigBytes.length);

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
    reset({ bytesPerSecond: 2 * MB });
    const first = await openHarness();
    const url = fileUrl('big.bin');
    await call(first.page, 'worker', { op: 'start', files: [{ url }] });
    let seen: DownloadProgress | null = null;
    while ((seen?.bytesDone ?? 0) < 3 * MB) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await call<DownloadProgress | null>(first.page, 'worker', { op: 'progress' });
    }
    await first.page.close(); // no cancel, no unload handler: the worker just dies

    reset();
    const second = await openHarness(first.context);
    const [partial] = await call<CacheEntry[]>(second.page, 'worker', { op: 'list' });
    // Flushed at least every second: at most ~1 s (2 MB at this speed) of data may be lost.
    expect(partial.bytes).toBeGreaterThanOrEqual(seen!.bytesDone - 2 * MB);
    const resumed = await call<DownloadOutcome>(second.page, 'worker', { op: 'download', files: [{ url }] });
    expect(resumed.error).toBeUndefined();
    expect(server.fileRequests()[0]).toMatchObject({ range: `bytes=${partial.bytes}-`, status: 206 });
    expect(await call(second.page, 'worker', { op: 'hash', url })).toBe(sha256(bigBytes));
    console.log(`worker: tab closed after ${seen!.bytesDone} bytes were reported; ${partial.bytes} were on disk and resumed from`);
    expect(second.errors).toEqual([]);
    await first.context.close();
  });

  it('resumes by itself when the connection drops, and starts over cleanly on a server that ignores Range', async () => {
    reset({ dropAfter: 3 * MB });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('big.bin');
    const dropped = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }] });
    expect(dropped.error).toBeUndefined();
    // The retry asks for the rest after what reached the disk (bytes in flight when the socket died are lost).
    const [broken, retry] = server.fileRequests();
    expect(server.fileRequests()).toHaveLength(2);
    expect(broken).toMatchObject({ range: undefined, status: 200 });
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(retry.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(3 * MB);
    expect(retry).toMatchObject({ status: 206, bytesSent: bigBytes.length - resumedAt });
    console.log(`worker: connection dropped after ${broken.bytesSent} bytes sent; resumed by itself from byte ${resumedAt}`);
    expect(await call(page, 'worker', { op: 'hash', url })).toBe(sha256(bigBytes));

    await call(page, 'worker', { op: 'delete', url });
    reset({ bytesPerSecond: 8 * MB });
    const cancelled = await call<DownloadOutcome>(page, 'worker', { op: 'download', files: [{ url }], abortAtFraction: 0.5 });
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
    reset({ bytesPerSecond: 4 * MB });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('big.bin');
    const cancelled = await call<DownloadOutcome>(page, 'main', { op: 'download', files: [{ url }], abortAtFraction: 0.3 });
    expect(cancelled.error).toMatchObject({ name: 'AbortError', isDomException: true });
    const [partial] = await call<CacheEntry[]>(page, 'main', { op: 'list' });
    expect(partial.bytes).toBeGreaterThanOrEqual(0.3 * bigBytes.length);

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
    // Throttled so that a progress event (≥ 100 ms apart) surely falls between 90 % and the end.
    reset({ bytesPerSecond: 24 * MB });
    const { context, page, errors } = await openHarness();
    const url = fileUrl('huge.bin');
    const cancelled = await call<DownloadOutcome>(page, 'main', { op: 'download', files: [{ url }], abortAtFraction: 0.9 });
    expect(cancelled.error?.name).toBe('AbortError');
    const [partial] = await call<CacheEntry[]>(page, 'main', { op: 'list' });
    expect(partial.bytes).toBeGreaterThan(64 * MB);
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
