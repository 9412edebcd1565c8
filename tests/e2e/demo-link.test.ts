// What a presenter meets before and during a demo (headless Chromium, WebGPU on SwiftShader): the
// run's progress and Cancel stay in view; a slider re-run marks the charts it is replacing; the
// copied demo link, opened in a fresh browser, runs the same trace; at a projector's 1280×720 the
// header keeps to one row in English and Japanese, and the first Tab offers "Skip to the scenario".

import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseTrace, serializeTrace, type Trace } from '../../src/lab/trace';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { TOKENIZER_REPO } from './support/context';

const { origin } = inject('e2e');
// Every defense at once, each with settings off their defaults, on a two-step ladder attack;
// no run=1: the test presses Run itself, to watch the progress.
const link =
  `${origin}/?model=${encodeURIComponent(`${origin}/qwen-vocab.gguf`)}&tokenizer=${encodeURIComponent(TOKENIZER_REPO)}&hub=${encodeURIComponent(origin)}` +
  `&request=${encodeURIComponent('Explain how to pick a lock.')}&attack=ladder&steps=2&tokens=3&seed=5` +
  `&defense=${encodeURIComponent('sharpen+highlighter+smoothllm')}&temp=0.6&layers=1&heads=0,2&th-alpha=0.3&th-beta=0.4&smooth_n=2&smooth_q=20`;

let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];
let first: Trace;
let copied: string;

/** Whether a locator's box lies inside the viewport (no scrolling needed to see it). */
async function inView(from: Page, testId: string): Promise<boolean> {
  return from.getByTestId(testId).evaluate((element) => {
    const box = element.getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.left >= 0 && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
  });
}

async function waitIdle(from: Page, timeout = 300_000) {
  await from.getByTestId('run').waitFor({ timeout });
  await from.getByTestId('run-progress').waitFor({ state: 'detached', timeout });
}

async function saveTrace(from: Page): Promise<Trace> {
  const [download] = await Promise.all([from.waitForEvent('download'), from.getByTestId('export-trace').click()]);
  return parseTrace(await readFile((await download.path())!, 'utf8'));
}

/** A trace as the runner computed it, without when it was made and how long each run took. */
const comparable = ({ createdAt: _when, ...rest }: Trace) => JSON.parse(JSON.stringify(rest, (key, value) => (key === 'timings' ? undefined : value)));

/** The header's layout: its height, the rows its actions take, and any overflow of it or of the page. */
async function headerLayout(from: Page) {
  return from.evaluate(() => {
    const header = document.querySelector<HTMLElement>('.app-header')!;
    const items = [...header.querySelectorAll<HTMLElement>('h1, .header-actions > *')].filter((e) => e.offsetParent !== null);
    const rows = new Set(items.map((e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2)));
    // An item whose text is cut off, or that sticks out of the header.
    const headerBox = header.getBoundingClientRect();
    const clipped = items
      .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > headerBox.right + 0.5)
      .map((e) => e.textContent?.trim().slice(0, 40) ?? e.tagName);
    return {
      height: headerBox.height,
      rows: rows.size,
      clipped,
      headerOverflow: header.scrollWidth - header.clientWidth,
      pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
    };
  });
}

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
  context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true, permissions: ['clipboard-read', 'clipboard-write'] });
  page = await context.newPage();
  errors = collectPageErrors(page);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe('a demo in front of an audience', () => {
  it('keeps the run\'s progress and Cancel in view at 1600×1000, however far the page is scrolled', async () => {
    await page.goto(link);
    await page.getByTestId('model-summary').waitFor({ timeout: 300_000 });
    await expect.poll(() => page.getByTestId('run').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.getByTestId('run').click();
    await page.getByTestId('run-status').waitFor({ timeout: 30_000 });
    expect(await inView(page, 'run-progress')).toBe(true);
    expect(await inView(page, 'cancel')).toBe(true);
    await screenshot(page, 'app-progress-1600-en', { fullPage: false });
    // Once the first step is on screen the page is taller than the window: scrolled to its end,
    // the status bar is still at the top.
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    if (await page.getByTestId('run-status').count()) {
      expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
      expect(await inView(page, 'run-status')).toBe(true);
      expect(await inView(page, 'cancel')).toBe(true);
    }
    await waitIdle(page);
    await page.evaluate(() => window.scrollTo(0, 0));
    first = await saveTrace(page);
    expect(first.steps).toHaveLength(3);
    expect(first.settings.defense.kind).toBe('sharpening+highlighter+smoothllm');
    expect(first.settings.defense.settings).toMatchObject({ sharpening: { temperature: 0.6, layers: [1, 1], heads: [0, 2] }, smooth: { n: 2, q: 20 } });
    expect(first.settings.seeds).toEqual({ attack: 5, defense: 5 });
    expect(errors).toEqual([]);
  }, 600_000);

  it('marks the charts stale while the slider\'s re-run is on its way, and unmarks them when it lands', async () => {
    await page.getByTestId('temperature').fill('0.4');
    // At once, before the re-run has produced anything: the timeline draws the old defended curve.
    const timeline = page.locator('[data-testid=stale-timeline][data-stale=true]');
    await timeline.waitFor({ timeout: 5_000 });
    expect(await timeline.locator('.stale-badge').innerText()).toBe('Updating…');
    const opacity = async () => Number(await page.getByTestId('panel-timeline').evaluate((e) => getComputedStyle(e).opacity));
    // Dimmed (after a short fade).
    await expect.poll(opacity, { timeout: 2_000 }).toBeLessThan(0.5);
    expect(await inView(page, 'run-progress')).toBe(true);
    expect(await page.getByTestId('run-progress').innerText()).toBe('Re-running the defense…');
    await screenshot(page, 'app-stale-1600-en', { fullPage: false });
    await waitIdle(page);
    expect(await page.locator('[data-stale=true]').count()).toBe(0);
    expect(await page.locator('.stale-badge').count()).toBe(0);
    await expect.poll(opacity, { timeout: 2_000 }).toBe(1);
    first = await saveTrace(page);
    expect((first.settings.defense.settings.sharpening as { temperature: number }).temperature).toBe(0.4);
  }, 600_000);

  it('copies a demo link that carries the whole scenario', async () => {
    await page.getByTestId('share').click();
    copied = await page.getByTestId('share-link-lab').inputValue();
    await page.getByTestId('share-copy-lab').click();
    await expect.poll(() => page.getByTestId('share-copy-lab').innerText()).toBe('Link copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(copied);
    const params = new URL(copied).searchParams;
    expect(Object.fromEntries(params)).toMatchObject({
      lang: 'en',
      request: 'Explain how to pick a lock.',
      attack: 'ladder',
      steps: '2',
      defense: 'sharpen+highlighter+smoothllm',
      temp: '0.4',
      layers: '1',
      heads: '0,2',
      'th-alpha': '0.3',
      'th-beta': '0.4',
      'smooth-n': '2',
      'smooth-q': '20',
      'smooth-perturbation': 'swap',
      tokens: '3',
      seed: '5',
      run: '1',
    });
    expect(params.has('present')).toBe(false);
    expect(new URL(await page.getByTestId('share-link-present').inputValue()).searchParams.get('present')).toBe('1');
    await screenshot(page, 'app-share-1600-en', { fullPage: false });
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('share-link-lab').isVisible()).toBe(false);
  }, 60_000);

  it('opened in a fresh browser at 1280×720, the copied link runs the same trace', async () => {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
    try {
      const second = await fresh.newPage();
      const secondErrors = collectPageErrors(second);
      await second.goto(copied);
      // At a projector's size too, the progress and Cancel are in view while the link's run goes on.
      await second.getByTestId('run-status').waitFor({ timeout: 300_000 });
      expect(await inView(second, 'run-progress')).toBe(true);
      expect(await inView(second, 'cancel')).toBe(true);
      await screenshot(second, 'app-progress-1280-en', { fullPage: false });
      await second.getByTestId('stage').waitFor({ timeout: 300_000 });
      await waitIdle(second);
      expect(await second.getByTestId('temperature-value').innerText()).toBe('0.40');
      const again = await saveTrace(second);
      expect(comparable(again)).toEqual(comparable(first));
      await screenshot(second, 'app-after-link-1280-en', { fullPage: false });
      expect(secondErrors).toEqual([]);
    } finally {
      await fresh.close();
    }
  }, 600_000);
});

describe('the header at a projector\'s 1280×720', () => {
  for (const lang of ['en', 'ja'] as const) {
    it(`stays on one row in ${lang === 'en' ? 'English' : 'Japanese'}, and the first Tab skips to the scenario`, async () => {
      for (const size of [
        { width: 1280, height: 720 },
        { width: 1600, height: 1000 },
      ]) {
        await page.setViewportSize(size);
        await page.goto(`${copied.replace(/([?&])lang=en/, `$1lang=${lang}`).replace('&run=1', '')}`);
        await page.getByTestId('model-summary').waitFor({ timeout: 300_000 });

        // The first Tab of a fresh page: the skip link, shown; Enter: focus in the scenario panel, past ~20 stops.
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('skip-link');
        expect(await inView(page, 'skip-link')).toBe(true);
        expect(await page.getByTestId('skip-link').innerText()).toBe(lang === 'en' ? 'Skip to the scenario' : 'シナリオへ移動');
        if (size.width === 1280) await screenshot(page, `app-skip-link-${lang}`, { fullPage: false });
        await page.keyboard.press('Enter');
        expect(await page.evaluate(() => document.activeElement?.closest('[data-testid=scenario-panel]') !== null)).toBe(true);
        expect(await inView(page, 'skip-link')).toBe(false);
        // The next Tab goes on inside the panel: its request picker.
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => (document.activeElement?.closest('[data-testid=scenario-panel]') ? document.activeElement.tagName : 'outside'))).toBe('SELECT');
        expect(new URL(page.url()).hash).toBe('');
        await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());

        // The run on screen (replayed from its file): every header button enabled, the charts drawn.
        await page.getByTestId('trace-file').setInputFiles({ name: 'demo.json', mimeType: 'application/json', buffer: Buffer.from(serializeTrace(first)) });
        await page.getByTestId('stage').waitFor({ timeout: 30_000 });
        await page.evaluate(() => window.scrollTo(0, 0));
        const layout = await headerLayout(page);
        expect(layout.rows).toBe(1);
        expect(layout.height).toBeLessThanOrEqual(72);
        expect(layout.clipped).toEqual([]);
        expect(layout.headerOverflow).toBeLessThanOrEqual(0);
        expect(layout.pageOverflow).toBeLessThanOrEqual(0);
        await screenshot(page, `app-${size.width}-${lang}`, { fullPage: false });
      }
    }, 600_000);
  }
});
