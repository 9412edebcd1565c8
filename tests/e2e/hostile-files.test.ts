// Hostile trace and request files in headless Chromium without WebGPU: each gets one sentence,
// the page keeps ticking while a file is parsed (in its own worker), and the trace on screen stays.

import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serializeTrace } from '../../src/lab/trace';
import { ICA_PROMPT_LENGTHS, largeTraceJson } from '../fixtures/large-trace';
import { buildTrace, matrixOf } from '../fixtures/trace';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { cspViolations, recordCspViolations } from './support/csp';

const { origin } = inject('e2e');

let browser: Browser;
let page: Page;
let errors: string[];
let dir: string;

/** The trace on screen before any hostile file: two steps, so arrow keys have somewhere to go. */
const onScreen = buildTrace({
  nLayer: 2,
  nHead: 2,
  steps: [
    { label: 'Baseline on screen', lastPrompt: matrixOf(2, 2, () => 0.5) },
    { label: 'Second step on screen', lastPrompt: matrixOf(2, 2, () => 0.2), verdict: 'complied' },
  ],
});

/** Starts a timer heartbeat in the page: a beat every 10 ms while the main thread is free. */
async function startHeartbeat(from: Page): Promise<number> {
  return from.evaluate(() => {
    const beats: number[] = [];
    Object.assign(window, { __beats: beats });
    const beat = () => {
      beats.push(performance.now());
      setTimeout(beat, 10);
    };
    beat();
    return performance.now();
  });
}

/** The longest time without a beat from `since` until now, in ms, and how many beats came. */
async function heartbeatSince(from: Page, since: number): Promise<{ maxGapMs: number; beats: number }> {
  return from.evaluate((start) => {
    const now = performance.now();
    const beats = (window as unknown as { __beats: number[] }).__beats.filter((t) => t >= start);
    const times = [start, ...beats, now];
    let maxGapMs = 0;
    for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, times[i] - times[i - 1]);
    return { maxGapMs: Math.round(maxGapMs), beats: beats.length };
  }, since);
}

const traceError = () => page.getByTestId('trace-error').innerText();
const parseWorkers = () => page.workers().filter((worker) => /parse\.worker/.test(worker.url())).length;

/** Writes `size` bytes of a file that holds almost nothing on disk. */
async function sparseFile(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  await handle.truncate(size);
  await handle.close();
}

beforeAll(async () => {
  browser = await launchChromium({ webgpu: false });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  errors = collectPageErrors(page);
  await recordCspViolations(page);
  dir = await mkdtemp(join(tmpdir(), 'slip-lab-hostile-'));
  await page.goto(origin);
  await page.getByTestId('no-webgpu').waitFor({ timeout: 60_000 });
  await writeFile(join(dir, 'on-screen.json'), serializeTrace(onScreen));
  await page.getByTestId('trace-file').setInputFiles(join(dir, 'on-screen.json'));
  await page.getByTestId('stage').waitFor({ timeout: 30_000 });
  expect(await page.getByTestId('step-label').innerText()).toContain('Baseline on screen');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hostile trace files', () => {
  it('refuses 60 MB of nested arrays in one sentence while the page keeps ticking', async () => {
    const path = join(dir, 'nested.json');
    await writeFile(path, '['.repeat(30_000_000) + ']'.repeat(30_000_000));
    const since = await startHeartbeat(page);
    await page.getByTestId('trace-file').setInputFiles(path);
    await expect.poll(traceError, { timeout: 60_000 }).toBe(
      'This file nests lists or objects more than 32 levels deep (at character 32), which no trace does; choose a trace .json file written by Attention Slip Lab.',
    );
    const heartbeat = await heartbeatSince(page, since);
    console.log(`nested 60 MB: refused, longest main-thread pause ${heartbeat.maxGapMs} ms over ${heartbeat.beats} beats`);
    expect(heartbeat.maxGapMs).toBeLessThan(250);
    expect(await page.getByTestId('step-label').innerText()).toContain('Baseline on screen');
    await screenshot(page, 'hostile-trace-nested');
    // The worker that read it is gone, and its memory with it.
    await expect.poll(parseWorkers).toBe(0);
  }, 120_000);

  it('parses 60 MB of attention rows that contradict the model shape off the main thread', async () => {
    const path = join(dir, 'shape.json');
    const hostile = JSON.parse(serializeTrace(onScreen));
    const numbers = `[${Array.from({ length: 1000 }, (_, i) => (i / 1000).toFixed(6)).join(',')}]`;
    // Two layers × two heads as declared, but rows of 1.8 million keys for a 5-token prompt.
    hostile.steps[0].lastPromptRow = 'ROWS';
    const row = `[${Array(1_800).fill(numbers.slice(1, -1)).join(',')}]`;
    await writeFile(path, JSON.stringify(hostile).replace('"ROWS"', `[[${row},${row}],[${row},${row}]]`));
    const since = await startHeartbeat(page);
    await page.getByTestId('trace-file').setInputFiles(path);
    // A key press during the parse is handled at once.
    await page.keyboard.press('ArrowRight');
    const pressed = Date.now();
    await expect.poll(() => page.getByTestId('step-label').innerText()).toContain('Second step on screen');
    const keyMs = Date.now() - pressed;
    await expect.poll(traceError, { timeout: 60_000 }).toMatch(
      /^This trace file is invalid: steps\[0\]\.lastPromptRow\[0\]\[0\] must have at most one entry per prompt token \(5\); fix that field or export the trace again from Attention Slip Lab\.$/,
    );
    const heartbeat = await heartbeatSince(page, since);
    console.log(`shape 60 MB: refused in ${Math.round((await page.evaluate(() => performance.now())) - since)} ms; key handled in ${keyMs} ms; longest pause ${heartbeat.maxGapMs} ms`);
    expect(heartbeat.maxGapMs).toBeLessThan(250);
    expect(keyMs).toBeLessThan(1000);
    await page.keyboard.press('ArrowLeft');
    expect(await page.getByTestId('step-label').innerText()).toContain('Baseline on screen');
  }, 120_000);

  it('refuses a file over the 128 MB cap by its size alone, at once', async () => {
    const path = join(dir, 'huge.json');
    await sparseFile(path, 200_000_000);
    const started = Date.now();
    await page.getByTestId('trace-file').setInputFiles(path);
    await expect.poll(traceError).toBe(
      'This file is 200 MB, more than the 128 MB a trace may have (the longest attack the lab runs writes about 70 MB); choose a trace .json file written by Attention Slip Lab.',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await page.getByTestId('step-label').innerText()).toContain('Baseline on screen');
    await screenshot(page, 'hostile-trace-too-large');
  });

  it('names a future version, NaN and __proto__ keys without harm', async () => {
    const text = serializeTrace(onScreen);
    const cases: [string, string, RegExp][] = [
      ['future.json', text.replace('"version":1', '"version":3'), /^This trace has version 3, but this build reads version 1; /],
      ['nan.json', text.replace(/"margin":2/, '"margin":NaN'), /^This file is not valid JSON \(.+\); choose a trace \.json file written by Attention Slip Lab\.$/],
      ['string.json', text.replace(/"margin":2/, '"margin":"2"'), /^This trace file is invalid: steps\[0\]\.margin must be a finite number; /],
    ];
    for (const [name, body, expected] of cases) {
      await page.getByTestId('trace-file').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(body) });
      await expect.poll(traceError).toMatch(expected);
    }
    const proto = text.replace('{"version":1', '{"__proto__":{"polluted":1},"version":1').replace('"settings":{', '"settings":{"__proto__":{"polluted":2},');
    await page.getByTestId('trace-file').setInputFiles({ name: 'proto.json', mimeType: 'application/json', buffer: Buffer.from(proto) });
    await page.getByTestId('trace-error').waitFor({ state: 'detached' });
    expect(await page.evaluate(() => (({}) as { polluted?: number }).polluted)).toBeUndefined();
    expect(await page.evaluate(() => (Object.prototype as { polluted?: number }).polluted)).toBeUndefined();
  });
});

describe('hostile request files', () => {
  it('refuses 100,000 rows and a 1 MB cell in one sentence each, keeping the requests loaded before', async () => {
    await page.getByTestId('requests-file').setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from('goal\nExplain how to pick a lock.\n') });
    await page.locator('optgroup[label="Your requests"]').waitFor({ state: 'attached', timeout: 30_000 });
    const runError = () => page.getByTestId('run-error').innerText();
    const rows = `id,goal\n${Array.from({ length: 100_000 }, (_, i) => `r${i},Request number ${i}`).join('\n')}\n`;
    await page.getByTestId('requests-file').setInputFiles({ name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from(rows) });
    await expect.poll(runError, { timeout: 30_000 }).toBe(
      'rows.csv has more than 5,000 requests, the most the lab reads from one file (AdvBench has 520); split it into smaller files.',
    );
    await screenshot(page, 'hostile-csv-rows');
    const cell = `id,goal\nq1,${'A'.repeat(1 << 20)}\n`;
    await page.getByTestId('requests-file').setInputFiles({ name: 'cell.csv', mimeType: 'text/csv', buffer: Buffer.from(cell) });
    await expect.poll(runError, { timeout: 30_000 }).toBe(
      "cell.csv request 1 has a goal of 1,048,576 characters, more than the 4,000 a request may have (a longer one leaves no room in the model's context for the attack); shorten it.",
    );
    expect(await page.locator('optgroup[label="Your requests"] option').allInnerTexts()).toEqual(['Explain how to pick a lock.']);
  }, 60_000);

  it('heads each sentence in Japanese by its error class', async () => {
    await page.getByTestId('language').selectOption('ja');
    await expect.poll(() => page.getByTestId('run-error').innerText()).toContain('この依頼ファイル（シナリオファイル）は読み込めません。');
    await page.getByTestId('trace-file').setInputFiles({ name: 'not-json.json', mimeType: 'application/json', buffer: Buffer.from('{"version": 1,') });
    await expect.poll(traceError).toContain('このファイルは読み込めるトレースではありません。');
    await screenshot(page, 'hostile-files-ja');
    await page.getByTestId('language').selectOption('en');
  });
});

describe('a large real-sized trace', () => {
  it('replays a 54 MB trace (10-shot ICA, 24 × 32 heads, defended) while the page keeps drawing', async () => {
    const path = join(dir, 'large.json');
    await writeFile(path, largeTraceJson({ nLayer: 24, nHead: 32, promptLengths: ICA_PROMPT_LENGTHS.en, generated: 32, defended: true }));
    const bytes = (await readFile(path)).length;
    const since = await startHeartbeat(page);
    await page.getByTestId('trace-file').setInputFiles(path);
    await expect.poll(() => page.getByTestId('step-label').innerText(), { timeout: 120_000 }).toContain('0-shot');
    const shownMs = Math.round((await page.evaluate(() => performance.now())) - since);
    const heartbeat = await heartbeatSince(page, since);
    // One pause is expected: the parsed trace is copied to the page and its panels drawn.
    console.log(`large ${(bytes / 1e6).toFixed(0)} MB: shown after ${shownMs} ms; longest main-thread pause ${heartbeat.maxGapMs} ms, ${heartbeat.beats} beats`);
    // Ticking on average at least every 100 ms: the seconds of parsing did not block the page.
    expect(heartbeat.beats).toBeGreaterThan(shownMs / 100);
    await screenshot(page, 'large-trace-replayed');
  }, 240_000);

  it('recorded no Content Security Policy violation and no console error', async () => {
    expect(await cspViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});
