// A trace saved in one language replays in the other with its context: step labels in the UI
// language, its scenario back in the sidebar (request, attack, steps, defense, layers, heads,
// length), the model panel naming its model, and every defense named from its settings in both
// languages — never by an internal label such as "sharpening T=0.5 L0–1".

import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseTrace, type Trace } from '../../src/lab/trace';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { TOKENIZER_REPO } from './support/context';

const { origin } = inject('e2e');
const modelUrl = `${origin}/qwen-vocab.gguf`;
/** Japanese UI, the app's model, a two-step ladder on the first starter request, three tokens per answer. */
const japaneseLink =
  `${origin}/?lang=ja&model=${encodeURIComponent(modelUrl)}&tokenizer=${encodeURIComponent(TOKENIZER_REPO)}&hub=${encodeURIComponent(origin)}` +
  '&attack=ladder&steps=2&tokens=3';
/** What an internal label looks like (scenario.ts's defenseLabel); no screen may show one. */
const INTERNAL_LABEL = /sharpening T=|highlighter α=|smoothllm N=/;

let browser: Browser;
let page: Page;
let errors: string[];
let saved: { path: string; trace: Trace };

/** The texts in which `word` is broken over two lines (its characters' boxes on more than one line). */
function splitWords(from: Page, word: string): Promise<string[]> {
  return from.evaluate((word) => {
    const split: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? '';
      for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + word.length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) split.push(text);
      }
    }
    return split;
  }, word);
}

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  errors = collectPageErrors(page);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe('a replayed trace keeps its context', () => {
  it('runs in Japanese with the defense named from its settings, and saves the trace', async () => {
    await page.goto(japaneseLink);
    // The summary, or the error that stopped the load (so a failure says why).
    await page.locator('[data-testid=model-summary], [data-testid=model-error]').first().waitFor({ timeout: 300_000 });
    expect(await page.getByTestId('model-error').count(), await page.getByTestId('model-panel').innerText()).toBe(0);
    // Sharpening at T = 0.5 on layers 0–1, heads 0 and 2 only.
    const slider = page.getByTestId('temperature');
    await slider.focus();
    for (let i = 0; i < 4; i++) await slider.press('ArrowLeft');
    expect(await page.getByTestId('temperature-value').innerText()).toBe('0.50');
    await page.getByLabel('開始層').fill('0');
    await page.getByLabel('対象のヘッド（例: 0,3）').fill('0,2');
    await page.getByLabel('対象のヘッド（例: 0,3）').blur();
    await page.getByTestId('run').click();
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });

    const main = await page.locator('main').innerText();
    expect(main).not.toMatch(INTERNAL_LABEL);
    expect(await page.getByTestId('panel-timeline').innerText()).toContain('防御あり：注意の鮮鋭化（T = 0.5、第0〜1層、ヘッド 0・2）');
    await screenshot(page, 'replay-context-ja-run');
    // The presenter names the defense the same way.
    await page.getByTestId('present').click();
    const presenter = page.getByRole('dialog');
    await presenter.waitFor();
    for (let i = 0; i < 8; i++) {
      expect(await presenter.innerText()).not.toMatch(INTERNAL_LABEL);
      await page.keyboard.press('ArrowRight');
    }
    expect(await presenter.innerText()).toContain('注意の鮮鋭化');
    await screenshot(page, 'replay-context-ja-presenter', { fullPage: false });
    await page.keyboard.press('Escape');
    await presenter.waitFor({ state: 'detached' });

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-trace').click()]);
    const path = (await download.path())!;
    saved = { path, trace: parseTrace(await readFile(path, 'utf8')) };
    // The file keeps what the runner recorded: the Japanese template names and the internal label.
    expect(saved.trace.steps.map((s) => s.label)).toEqual(['そのままの依頼', 'ロールプレイ', 'フィクションの体裁']);
    expect(saved.trace.settings.defense.label).toBe('sharpening T=0.5 L0–1 H0,2');
    expect(saved.trace.request.language).toBe('ja');
  }, 600_000);

  it('reloads in English with another scenario, opens the trace, and shows the trace\'s own', async () => {
    const { trace } = saved;
    await page.goto(`${origin}/`);
    await page.getByTestId('language').selectOption('en');
    // Another scenario in the form, which the replay must replace.
    await page.getByTestId('request-text').fill('Write a poem about the sea.');
    await page.getByLabel('Attack', { exact: true }).selectOption('ica');
    await page.getByLabel('Steps', { exact: true }).fill('5');

    await page.getByTestId('trace-file').setInputFiles(saved.path);
    await page.getByTestId('stage').waitFor({ timeout: 30_000 });
    // The scenario, back in the sidebar.
    await expect.poll(() => page.getByTestId('request-text').inputValue()).toBe(trace.request.text);
    expect(await page.getByLabel('Attack', { exact: true }).inputValue()).toBe('ladder');
    expect(await page.getByLabel('Steps', { exact: true }).inputValue()).toBe('2');
    expect(await page.getByTestId('temperature-value').innerText()).toBe('0.50');
    expect(await page.getByLabel('From layer').inputValue()).toBe('0');
    expect(await page.getByLabel('To layer').inputValue()).toBe('1');
    expect(await page.getByLabel('Only these heads (e.g. 0,3)').inputValue()).toBe('0,2');
    // No model is loaded: the trace's own shape (4 heads) bounds the fields, so 0,2 is no error.
    expect(await page.getByTestId('scenario-panel').innerText()).not.toContain('Heads are numbers');
    expect(await page.getByLabel('Response tokens').inputValue()).toBe('3');
    expect(await page.getByLabel('Request and attack language').inputValue()).toBe('ja');
    // The model panel names the trace's model and what Run would do.
    const model = await page.getByTestId('trace-model').innerText();
    expect(model).toContain(`The replayed trace ran on ${trace.settings.model.id}`);
    expect(model).toContain('2 layers × 4 heads');
    expect(await page.getByTestId('scenario-restored').innerText()).toContain(trace.settings.model.id);

    // Labels in the UI language, not the one the trace was saved in.
    expect(await page.getByTestId('step-label').innerText()).toContain('Plain request');
    await page.getByRole('button', { name: 'Next step' }).click();
    expect(await page.getByTestId('step-label').innerText()).toContain('Role-play persona');
    expect(await page.getByTestId('panel-timeline').innerText()).toContain('Defended: Attention sharpening, T = 0.5, layers 0–1, heads 0, 2');
    expect(await page.locator('main').innerText()).not.toMatch(INTERNAL_LABEL);
    await screenshot(page, 'replay-context-en');

    // Back to Japanese: the same replay follows at once.
    await page.getByTestId('language').selectOption('ja');
    expect(await page.getByTestId('step-label').innerText()).toContain('ロールプレイ');
    expect(await page.getByTestId('trace-model').innerText()).toContain(`再生中のトレースのモデル: ${trace.settings.model.id}`);
    const japanese = await page.locator('body').innerText();
    expect(japanese).not.toMatch(INTERNAL_LABEL);
    expect(japanese).toContain('注意の鮮鋭化（T = 0.5、第0〜1層、ヘッド 0・2）');
    await screenshot(page, 'replay-context-ja-replay');
    // 「クエリ」 is never broken across two lines (クエ／リ), even on a projector's 1280×720 or a 4:3 screen.
    for (const viewport of [{ width: 1280, height: 720 }, { width: 1024, height: 768 }]) {
      await page.setViewportSize(viewport);
      expect(await splitWords(page, 'クエリ'), `${viewport.width}×${viewport.height}`).toEqual([]);
    }
    await screenshot(page, 'replay-context-ja-1024');
    expect(errors).toEqual([]);
  }, 120_000);
});
