// Button text stays legible in every state (issue 14, item 3): for every visible button of the app
// after a run, and of presenter mode, the text contrast is at least 4.5:1 (WCAG AA) as drawn at
// rest, under the pointer, with keyboard focus, pressed (aria-pressed) and disabled. Measured from
// computed styles: the text colour against the button's background composited over its ancestors'.

import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { ladderRunLink } from './support/context';

const { origin } = inject('e2e');
const deepLink = ladderRunLink(origin);

let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  errors = collectPageErrors(page);
  await page.goto(deepLink);
  await page.getByTestId('stage').waitFor({ timeout: 300_000 });
  await page.getByTestId('run').waitFor({ timeout: 300_000 });
  await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });
}, 320_000);

afterAll(async () => {
  await browser?.close();
});

/** Contrast of the element's text against what is behind it, once transitions have settled. */
async function contrastOf(button: Locator): Promise<number> {
  let last = -1;
  for (let i = 0; i < 20; i++) {
    const ratio = await button.evaluate((element) => {
      type Rgba = [number, number, number, number];
      const parse = (css: string): Rgba => {
        const m = css.match(/rgba?\(([^)]+)\)/);
        if (!m) return [0, 0, 0, 0];
        const parts = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
        return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
      };
      const over = (top: Rgba, bottom: Rgba): Rgba => {
        const a = top[3] + bottom[3] * (1 - top[3]);
        if (a === 0) return [0, 0, 0, 0];
        const mix = (i: number) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
        return [mix(0), mix(1), mix(2), a];
      };
      // The background: this element's, then each ancestor's beneath it, down to an opaque one.
      const layers: Rgba[] = [];
      for (let node: Element | null = element; node; node = node.parentElement) {
        const style = getComputedStyle(node);
        const layer = parse(style.backgroundColor);
        const opacity = Number(style.opacity);
        layers.push([layer[0], layer[1], layer[2], layer[3] * opacity]);
        if (layer[3] === 1 && opacity === 1) break;
      }
      let background: Rgba = [255, 255, 255, 1];
      for (const layer of layers.reverse()) background = over(layer, background);
      const style = getComputedStyle(element);
      const text = over(parse(style.color), background);
      const luminance = ([r, g, b]: Rgba) => {
        const channel = (v: number) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
      };
      const [light, dark] = [luminance(text), luminance(background)].sort((a, b) => b - a);
      return (light + 0.05) / (dark + 0.05);
    });
    if (Math.abs(ratio - last) < 1e-3) return ratio;
    last = ratio;
    await page.waitForTimeout(100);
  }
  return last;
}

interface Finding {
  readonly button: string;
  readonly state: string;
  readonly ratio: number;
}

/** Every visible button inside `scope` at rest, focused and under the pointer. */
async function audit(scope: Locator, atLeast: number): Promise<Finding[]> {
  const findings: Finding[] = [];
  const buttons = scope.locator('button:visible');
  const count = await buttons.count();
  expect(count).toBeGreaterThanOrEqual(atLeast);
  for (let i = 0; i < count; i++) {
    const button = buttons.nth(i);
    const name = `${(await button.innerText()).trim().slice(0, 30) || (await button.getAttribute('aria-label')) || '(no text)'}`;
    const disabled = await button.isDisabled();
    const pressed = (await button.getAttribute('aria-pressed')) === 'true' || (await button.getAttribute('aria-expanded')) === 'true';
    const rest = disabled ? 'disabled' : pressed ? 'pressed' : 'rest';
    findings.push({ button: name, state: rest, ratio: await contrastOf(button) });
    if (disabled) continue;
    await button.focus();
    findings.push({ button: name, state: `${rest}, focused`, ratio: await contrastOf(button) });
    await button.hover();
    findings.push({ button: name, state: `${rest}, under the pointer`, ratio: await contrastOf(button) });
    await page.mouse.move(0, 0);
  }
  return findings;
}

const illegible = (findings: Finding[]) => findings.filter((f) => !(f.ratio >= 4.5)).map((f) => `${f.button} (${f.state}): ${f.ratio.toFixed(2)}:1`);

describe('button contrast', () => {
  it('every button of the working view is legible at rest, focused, under the pointer, pressed and disabled', async () => {
    const findings = await audit(page.locator('body'), 6);
    // The states the issue names are all among them: pressed toggles and disabled buttons.
    expect(findings.some((f) => f.state.startsWith('pressed'))).toBe(true);
    expect(findings.some((f) => f.state === 'disabled')).toBe(true);
    expect(illegible(findings)).toEqual([]);
    await page.getByTestId('run').hover();
    await screenshot(page, 'contrast-run-hovered', { fullPage: false });
    expect(errors).toEqual([]);
  }, 300_000);

  it('a disabled button looks disabled (dashed border, not-allowed pointer) and stays legible', async () => {
    // After a one-step run the stage's step buttons at either end are disabled, for one.
    const disabled = page.locator('button:disabled:visible');
    const count = await disabled.count();
    expect(count).toBeGreaterThan(0);
    for (let i = 0; i < count; i++) {
      const button = disabled.nth(i);
      const style = await button.evaluate((b) => ({ border: getComputedStyle(b).borderTopStyle, cursor: getComputedStyle(b).cursor }));
      expect(style).toEqual({ border: 'dashed', cursor: 'not-allowed' });
      expect(await contrastOf(button)).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('every button of presenter mode is legible in every state', async () => {
    await page.getByTestId('present').click();
    const presenter = page.getByTestId('presenter');
    await presenter.waitFor();
    expect(illegible(await audit(presenter, 1))).toEqual([]);
    await page.keyboard.press('Escape');
    await presenter.waitFor({ state: 'detached' });
  }, 120_000);
});
