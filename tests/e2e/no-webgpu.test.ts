// Chromium launched without --enable-unsafe-webgpu has no adapter: the page says so in one sentence.

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';

const { origin } = inject('e2e');
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
});

it('shows the no-WebGPU sentence and does not try to load', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const errors = collectPageErrors(page);
  await page.goto(`${origin}/?page=engine&model=${encodeURIComponent(`${origin}/model.gguf`)}&run=1`);
  const sentence = page.getByTestId('no-webgpu');
  await sentence.waitFor({ timeout: 30_000 });
  expect(await sentence.innerText()).toMatch(/^This browser exposes WebGPU but found no usable GPU adapter; .+\.$/);
  expect(await page.getByRole('heading', { level: 2, name: /unavailable/ }).count()).toBe(1);
  expect(await page.getByRole('button', { name: 'Load' }).isDisabled()).toBe(true);
  expect(await page.getByLabel('GGUF URL').inputValue()).toBe(`${origin}/model.gguf`);
  expect(await page.getByRole('alert').count()).toBe(0);
  await screenshot(page, 'no-webgpu');
  expect(errors).toEqual([]);
  await page.close();
});
