// Presenter mode as an executive sees it (issue 14, items 1, 2, 4 and 12), on a replayed trace (no
// WebGPU needed) at a projector's 1280×720, 1366×768, 1920×1080 and a 4:3 1024×768, in English and
// Japanese. On every slide: nothing scrolls or is cut off, the counter and Exit are on screen, there
// is nothing to operate but Exit, no chat token, "Sink" or selected head leaks, and Japanese has no
// untranslated label. Every key press moves the counter; steps read "step k of N" everywhere; the
// timeline gains one point per press; the story ends with the answers side by side (compliant output
// hidden until R); speaker notes are hidden until N. Each slide's screenshot goes to artifacts/.

import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serializeTrace, type Trace } from '../../src/lab/trace';
import { STORY_MASSES, storyTrace } from '../fixtures/story-trace';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';

const { origin } = inject('e2e');

const sizes = [
  [1280, 720],
  [1366, 768],
  [1920, 1080],
  [1024, 768],
] as const;

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
});

/** Opens the app in `language`, replays `trace` and enters presenter mode. */
async function present(page: Page, trace: Trace, language: 'en' | 'ja'): Promise<Locator> {
  await page.goto(`${origin}/?lang=${language}`);
  await page.getByTestId('trace-file').setInputFiles({ name: 'story.json', mimeType: 'application/json', buffer: Buffer.from(serializeTrace(trace)) });
  await page.getByTestId('stage').waitFor({ timeout: 30_000 });
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('p');
  const presenter = page.getByTestId('presenter');
  await presenter.waitFor();
  return presenter;
}

/** What does not fit: elements cut off by the viewport, and boxes that scroll. */
async function overflow(presenter: Locator): Promise<string[]> {
  return presenter.evaluate((root) => {
    const problems: string[] = [];
    const name = (el: Element) => `${el.tagName.toLowerCase()}${el.getAttribute('data-testid') ? `[${el.getAttribute('data-testid')}]` : ''}.${[...el.classList].join('.')}`;
    if (root.scrollHeight > root.clientHeight + 1 || root.scrollWidth > root.clientWidth + 1) problems.push(`presenter content ${root.scrollWidth}×${root.scrollHeight} in ${root.clientWidth}×${root.clientHeight}`);
    for (const el of root.querySelectorAll('*')) {
      const style = getComputedStyle(el);
      if (/(auto|scroll)/.test(style.overflowY + style.overflowX) && (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1)) problems.push(`${name(el)} scrolls`);
      // An answer is cut to its box on purpose (it fades out); everything else must be inside the screen.
      if (el.closest('.slide-answer-text')) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || style.visibility === 'hidden') continue;
      if (box.bottom > innerHeight + 1 || box.right > innerWidth + 1 || box.left < -1 || box.top < -1)
        problems.push(`${name(el)} at ${Math.round(box.left)},${Math.round(box.top)}–${Math.round(box.right)},${Math.round(box.bottom)} in ${innerWidth}×${innerHeight}`);
    }
    return problems;
  });
}

/** Controls on the slide other than Exit, and leaks from the working view. */
async function leaks(presenter: Locator): Promise<string[]> {
  const found: string[] = [];
  const controls = await presenter.locator('button:visible, select:visible, input:visible, textarea:visible, [role=switch]:visible, [role=menu], [role=slider]').allInnerTexts();
  if (controls.length !== 1) found.push(`controls: ${JSON.stringify(controls)}`);
  if ((await presenter.locator('.slip-info, .slip-export, .slip-panel-tools').count()) > 0) found.push('an ⓘ button, export menu or panel toolbar');
  const text = await presenter.innerText();
  for (const pattern of [/<\|[^|>]*\|>/, /<\/?think>/, /<(start|end)_of_turn>/, /\bSink\b/i, /シンク/, /\bL\d+ · H\d+\b/, /Export|書き出し/, /ⓘ/])
    if (pattern.test(text)) found.push(`text matches ${pattern}`);
  return found;
}

/** Latin words left in a Japanese slide once the trace's own data and proper names are set aside. */
function untranslated(text: string, trace: Trace): string[] {
  let rest = text;
  const data = [trace.settings.model.id, trace.request.text, ...trace.steps.map((s) => s.label)];
  for (const value of data) rest = rest.split(value).join(' ');
  const allowed = new Set(['SmoothLLM', 'Token', 'Highlighter', 'GPU', 'Esc', 'R', 'N', 'T']);
  return [...rest.matchAll(/[A-Za-z][A-Za-z-]+/g)].map((m) => m[0]).filter((word) => !allowed.has(word));
}

const stepOf = (language: 'en' | 'ja', k: number, n: number) => (language === 'en' ? `Step ${k} of ${n}` : `ステップ ${k}／全 ${n}`);

describe.each(['en', 'ja'] as const)('presenter slides in %s', (language) => {
  const trace = storyTrace(language);
  const last = trace.steps.length - 1;

  it.each(sizes)('fit %i×%i, carry nothing to operate, reveal one step per key press and end with the answers', async (width, height) => {
    const page = await browser.newPage({ viewport: { width, height } });
    const errors = collectPageErrors(page);
    const presenter = await present(page, trace, language);
    const counter = page.getByTestId('presenter-slide');
    const total = Number((await counter.innerText()).split('/')[1]);
    // intro, steps 0–3, defended, payoff
    expect(total).toBe(1 + trace.steps.length + 1 + 1);
    const kinds: string[] = [];
    for (let slide = 1; slide <= total; slide++) {
      expect(await counter.innerText()).toBe(`${slide} / ${total}`);
      const kind = (await presenter.getAttribute('data-slide-kind'))!;
      kinds.push(kind);
      const where = `${language} ${width}×${height} slide ${slide} (${kind})`;
      expect(await overflow(presenter), where).toEqual([]);
      expect(await leaks(presenter), where).toEqual([]);
      if (language === 'ja') expect(untranslated(await presenter.innerText(), trace), where).toEqual([]);
      expect(await page.getByRole('button', { name: language === 'en' ? 'Exit' : '終了' }).isVisible(), where).toBe(true);

      // One step convention: step 0 is the plain request, "step k of N" with N the last step.
      if (kind === 'intro') expect(await page.getByTestId('presenter-context').innerText()).toContain(language === 'en' ? `then ${last} attack steps` : `攻撃 ${last} ステップ`);
      if (kind === 'step') {
        const k = kinds.filter((x) => x === 'step').length - 1;
        expect(await presenter.getByTestId('slide-timeline-tag').textContent(), where).toContain(stepOf(language, k, last));
        // The line grows one point per press.
        expect(await presenter.getByTestId('slide-point').count(), where).toBe(k + 1);
        if (k > 0) expect(await page.getByTestId('presenter-title').innerText(), where).toContain(stepOf(language, k, last));
        expect(await page.getByTestId('presenter-caption').innerText(), where).toContain(`${(STORY_MASSES[k] * 100).toFixed(1)}%`);
      }
      if (kind === 'payoff') {
        // The refused answer, the complied one (hidden until R) and the defended one, side by side.
        expect(await presenter.getByTestId('answer-plain').innerText()).toMatch(language === 'en' ? /Refused/ : /拒否/);
        const attacked = presenter.getByTestId('answer-attacked');
        expect(await attacked.getByTestId('answer-hidden').count()).toBe(1);
        expect(await presenter.getByTestId('answer-defended').innerText()).toMatch(language === 'en' ? /Refused/ : /拒否/);
      }
      await screenshot(page, `presenter-${language}-${width}x${height}-${String(slide).padStart(2, '0')}-${kind}`, { fullPage: false });

      if (slide < total) {
        // Every key a clicker sends moves the story, and the counter with it.
        const before = await counter.innerText();
        await page.keyboard.press(['ArrowRight', 'PageDown', 'Space'][slide % 3]);
        expect(await counter.innerText(), `${where}: the counter after a key press`).not.toBe(before);
      }
    }
    expect(kinds).toEqual(['intro', 'step', 'step', 'step', 'step', 'defended', 'payoff']);

    // R shows the complied answer, without chat tokens, and still inside the screen.
    await page.keyboard.press('r');
    const attacked = presenter.getByTestId('answer-attacked');
    expect(await attacked.getByTestId('answer-hidden').count()).toBe(0);
    expect(await attacked.innerText()).toContain(language === 'en' ? 'tension wrench' : 'テンションレンチ');
    expect(await overflow(presenter)).toEqual([]);
    expect(await leaks(presenter)).toEqual([]);
    await screenshot(page, `presenter-${language}-${width}x${height}-payoff-shown`, { fullPage: false });
    await page.keyboard.press('r');

    // Back goes back one slide per press too.
    const before = await page.getByTestId('presenter-slide').innerText();
    await page.keyboard.press('ArrowLeft');
    expect(await page.getByTestId('presenter-slide').innerText()).not.toBe(before);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('keeps the speaker notes hidden until N, and shows each slide\'s own numbers in them', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors = collectPageErrors(page);
    const presenter = await present(page, trace, language);
    const notes = page.getByTestId('speaker-notes');
    expect(await notes.isVisible()).toBe(false);
    await page.keyboard.press('n');
    expect(await notes.isVisible()).toBe(true);
    expect(await notes.innerText()).toContain(trace.settings.model.id);
    expect(await overflow(presenter)).toEqual([]);
    await screenshot(page, `presenter-${language}-notes-intro`, { fullPage: false });
    // The notes follow the slides: step 2 (the first compliance) names its numbers.
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    const text = await notes.innerText();
    expect(text).toContain(stepOf(language, 2, last));
    expect(text).toContain(`${(STORY_MASSES[2] * 100).toFixed(1)}%`);
    expect(text).toContain(`${(STORY_MASSES[0] * 100).toFixed(1)}%`);
    expect(await overflow(presenter)).toEqual([]);
    await screenshot(page, `presenter-${language}-notes-step2`, { fullPage: false });
    await page.keyboard.press('n');
    expect(await notes.isVisible()).toBe(false);

    // W: the notes in a window of their own (for the laptop's screen), following the slides.
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.keyboard.press('w')]);
    const windowNotes = popup.getByTestId('speaker-notes-window');
    await windowNotes.waitFor();
    expect(await windowNotes.innerText()).toContain(stepOf(language, 2, last));
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => windowNotes.innerText()).toContain(stepOf(language, 3, last));
    // A clicker's key that lands on the notes window moves the slides too.
    await popup.keyboard.press('ArrowLeft');
    await expect.poll(() => page.getByTestId('presenter-slide').innerText()).toBe('4 / 7');
    await screenshot(popup, `presenter-${language}-notes-window`, { fullPage: false });
    await Promise.all([popup.waitForEvent('close'), page.keyboard.press('w')]);
    expect(await notes.isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });
});
