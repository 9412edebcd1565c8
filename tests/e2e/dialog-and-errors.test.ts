// Issue 14's smaller items: presenter mode is a modal dialog whose Tab order never reaches the page
// behind it; an error sentence carrying a long URL wraps inside its box; clicking a head in a live
// session computes its map at once; a verdict that disagrees with the first-token lean says why.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { ladderRunLink, TOKENIZER_REPO } from './support/context';

const { origin } = inject('e2e');
const deepLink = ladderRunLink(origin);

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
});

afterAll(async () => {
  await browser?.close();
});

/** Whether the focused element is inside presenter mode. */
const focusInPresenter = (page: Page) => page.evaluate(() => document.activeElement?.closest('[data-testid=presenter]') !== null);

describe('presenter mode is modal', () => {
  it('Tab and Shift+Tab cycle through its controls and never reach the page behind', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors = collectPageErrors(page);
    await page.goto(deepLink);
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });
    await page.getByTestId('present').click();
    await page.getByTestId('presenter').waitFor();
    const controls = await page.getByTestId('presenter').locator('button:visible, input:visible, [role=switch]:visible').count();
    expect(controls).toBeGreaterThan(0);
    // More presses than there are controls, both ways: focus must wrap around inside.
    const visited = new Set<string>();
    for (let i = 0; i < controls * 2 + 3; i++) {
      await page.keyboard.press('Tab');
      expect(await focusInPresenter(page), `after ${i + 1} Tab presses`).toBe(true);
      visited.add(await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80) ?? ''));
    }
    for (let i = 0; i < controls * 2 + 3; i++) {
      await page.keyboard.press('Shift+Tab');
      expect(await focusInPresenter(page), `after ${i + 1} Shift+Tab presses`).toBe(true);
    }
    // Every control was reachable.
    expect(visited.size).toBeGreaterThanOrEqual(controls);
    await page.keyboard.press('Escape');
    await page.getByTestId('presenter').waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
    await page.close();
  }, 320_000);
});

describe('the working view', () => {
  it('clicking a head computes its map at once, and a verdict at odds with the first-token lean is explained', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors = collectPageErrors(page);
    await page.goto(deepLink);
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });
    const grid = page.getByTestId('panel-grid');
    const matrix = page.getByTestId('panel-matrix');
    // Two heads in turn (one of them is not the head the run stored): each map appears without a further click.
    for (const [row, col] of [
      [0, 0],
      [1, 1],
    ]) {
      const cells = grid.locator('rect[role=gridcell]:not(.slip-cell-mean)');
      const nHead = Number(await grid.locator('g[role=grid]').getAttribute('aria-colcount')) - 1;
      await cells.nth(row * nHead + col).click();
      await matrix.locator('.slip-matrix').waitFor({ timeout: 120_000 });
      await expect.poll(() => matrix.innerText(), { timeout: 120_000 }).toContain(`L${row} · H${col}`);
      expect(await matrix.getByRole('button', { name: /Compute the map/ }).count()).toBe(0);
    }
    // The note appears exactly where the verdict and the sign of the lean disagree.
    const response = page.getByTestId('panel-response');
    const text = await response.innerText();
    const verdict = /Complied/.test(text) ? 'complied' : 'refused';
    const lean = Number(/First-token lean\s*([+−-][\d.]+)/.exec(text)?.[1].replace('−', '-'));
    expect(Number.isFinite(lean)).toBe(true);
    const disagree = (verdict === 'complied' && lean >= 0) || (verdict === 'refused' && lean < 0);
    expect(await response.getByTestId('margin-note').count()).toBe(disagree ? 1 : 0);
    expect(errors).toEqual([]);
    await page.close();
  }, 620_000);
});

describe('error boxes', () => {
  it('a failed download of a long URL shows its sentence wrapped inside the box', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const longUrl = `${origin}/models/${'verylongdirectoryname'.repeat(14)}/missing-model.gguf`;
    await page.goto(`${origin}/?model=${encodeURIComponent(longUrl)}&tokenizer=${encodeURIComponent(TOKENIZER_REPO)}&hub=${encodeURIComponent(origin)}`);
    const box = page.getByTestId('model-error');
    await box.waitFor({ timeout: 120_000 });
    expect(await box.innerText()).toContain('missing-model.gguf');
    const fits = await box.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, parent: el.parentElement!.clientWidth }));
    expect(fits.scroll).toBeLessThanOrEqual(fits.client + 1);
    expect(fits.client).toBeLessThanOrEqual(fits.parent + 1);
    await screenshot(page, 'error-long-url', { fullPage: false });
    await page.close();
  }, 150_000);
});
