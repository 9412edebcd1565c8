// The PoC report in headless Chromium: a report of a hostile synthetic trace and sweep opens from a
// file with no console error and no network request (it has no script and nothing to load), looks
// right on screen and in print (screenshots and a PDF under artifacts/screenshots/); then the app
// runs a tiny temperature sweep on the fixture model, shows the trade-off panel and its presenter
// slide, and downloads a report of it.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { renderReport } from '../../src/report';
import { hostileTrace, syntheticSweep } from '../fixtures/report';
import { collectPageErrors, launchChromium, SCREENSHOT_DIR, screenshot } from './support/browser';
import { ladderRunLink } from './support/context';

const { origin } = inject('e2e');

let browser: Browser;
let dir: string;

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
  dir = await mkdtemp(join(tmpdir(), 'slip-lab-report-'));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** Opens a report file in a page of its own; every request and console error is recorded. */
async function openReport(path: string, options: { width?: number } = {}): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1100, height: 900 } });
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(path).href);
  await page.waitForLoadState('load');
  return { page, errors, requests };
}

/** Pages of a PDF as Chromium writes them (one /Type /Page dictionary each). */
const pdfPages = (pdf: Buffer) => (pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g) ?? []).length;

describe('the PoC report file', () => {
  it('opens offline with no console error and no request, and prints in pages', async () => {
    for (const language of ['en', 'ja'] as const) {
      const path = join(dir, `report-${language}.html`);
      await writeFile(path, renderReport({ language, traces: [hostileTrace()], sweep: syntheticSweep('helped'), appVersion: '0.1.0', model: { sha256: 'ab'.repeat(32), fileBytes: 123456 } }));
      const { page, errors, requests } = await openReport(path);
      expect(errors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(path).href]);
      // The hostile text is shown, not run.
      expect(await page.evaluate(() => document.querySelectorAll('script, img, iframe, object, embed, link').length)).toBe(0);
      expect(await page.locator('body').innerText()).toContain('<script>alert("request")</script>');
      expect(await page.locator('svg').count()).toBe(2);
      await screenshot(page, `report-${language}`);

      await page.emulateMedia({ media: 'print' });
      await page.setViewportSize({ width: 760, height: 1000 });
      await screenshot(page, `report-${language}-print`);
      const pdf = await page.pdf({ path: `${SCREENSHOT_DIR}report-${language}.pdf`, format: 'A4', printBackground: true });
      // Sections start on new pages: the headline, method, tested, charts, sweep, steps and requests.
      expect(pdfPages(pdf)).toBe(7);
      expect(errors).toEqual([]);
      await page.context().close();

      // The PDF as a reader sees it: Chromium's own viewer, first page and the page list.
      const viewer = await browser.newPage({ viewport: { width: 900, height: 1200 } });
      await viewer.goto(pathToFileURL(`${SCREENSHOT_DIR}report-${language}.pdf`).href).catch(() => undefined);
      await viewer.waitForTimeout(3000);
      await screenshot(viewer, `report-${language}-pdf`, { fullPage: false });
      await viewer.close();
    }
  }, 120_000);
});

describe('the app', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
    page = await context.newPage();
    errors = collectPageErrors(page);
    await page.goto(ladderRunLink(origin));
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.getByTestId('run').waitFor({ timeout: 300_000 });
    await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });
  }, 600_000);

  it('runs a tiny sweep (cancel first), shows the trade-off and the presenter slide, and downloads a report', async () => {
    await page.getByTestId('sweep-temperatures').fill('1, 0.5, zero');
    expect(await page.getByTestId('sweep-problem').innerText()).toContain('Temperatures are numbers above 0');
    expect(await page.getByTestId('sweep-run').isDisabled()).toBe(true);
    await page.getByTestId('sweep-temperatures').fill('1, 0.5');
    await page.getByTestId('sweep-benign-count').fill('2');

    // Cancel: the sweep stops, no result, no error.
    await page.getByTestId('sweep-run').click();
    await page.getByTestId('sweep-progress').waitFor();
    await page.getByTestId('sweep-cancel').click();
    await page.getByTestId('sweep-run').waitFor({ timeout: 300_000 });
    expect(await page.getByTestId('sweep-error').count()).toBe(0);
    expect(await page.getByTestId('tradeoff-chart').count()).toBe(0);

    // The sweep: progress with the runs done and, after the first, the time left.
    await page.getByTestId('sweep-run').click();
    const seen = new Set<string>();
    const progress = page.getByTestId('sweep-progress');
    while (await page.getByTestId('tradeoff-chart').count() === 0) {
      const text = await progress.innerText({ timeout: 1000 }).catch(() => '');
      if (text) seen.add(text);
      await page.waitForTimeout(100);
    }
    expect([...seen].some((text) => /T = (1|0\.5): (attack|everyday prompts), \d+ of 6 runs/.test(text))).toBe(true);
    expect([...seen].some((text) => /about \d+ (s|min) left/.test(text))).toBe(true);
    expect(await page.getByTestId('tradeoff-point').count()).toBe(2);
    const panel = await page.getByTestId('panel-tradeoff').innerText();
    expect(panel).toMatch(/Recommended T = (1|0\.5)|No T meets the utility bounds/);
    expect(panel).toContain('2 temperatures · requests: 1 · everyday prompts: 2');
    await page.getByTestId('panel-tradeoff').screenshot({ path: `${SCREENSHOT_DIR}app-tradeoff.png` });
    await screenshot(page, 'app-tradeoff-page');

    // The presenter's "what it costs" slide, just before the summary.
    await page.getByTestId('present').click();
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    const title = await page.getByTestId('presenter-title').innerText();
    expect(title).toMatch(/attack succeeds|did not lower the attack success rate|cost too much/);
    expect(await page.locator('[data-testid=presenter] [data-testid=tradeoff-chart]').count()).toBe(1);
    await screenshot(page, 'app-presenter-costs', { fullPage: false });
    await page.keyboard.press('Escape');

    // Download report: the trace on screen and the sweep, redacted, no script.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-report').click()]);
    expect(download.suggestedFilename()).toMatch(/^slip-lab-report-qwen-vocab-\d{4}-\d{2}-\d{2}\.html$/);
    // Saved under its own name: a browser decides by the .html extension to render it as a page.
    const path = join(dir, download.suggestedFilename());
    await download.saveAs(path);
    const html = await readFile(path, 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('Explain how to pick a lock.');
    expect(html).toMatch(/GGUF file SHA-256<\/th><td><code>[0-9a-f]{64}<\/code>/);
    expect(html.match(/<svg /g)?.length).toBe(2);
    const opened = await openReport(path);
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([pathToFileURL(path).href]);
    await screenshot(opened.page, 'app-report');
    await opened.page.context().close();
    expect(errors).toEqual([]);
  }, 600_000);
});
