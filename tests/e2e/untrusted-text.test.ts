// User text is never markup: a request typed or linked, a requests CSV cell and every text field
// of a replayed trace hold <img onerror> and <script> payloads, in a browser without WebGPU under
// the app's Content Security Policy. Nothing runs, no <img src=x> appears, the text reads
// literally, and the panels' SVG, PNG and CSV exports carry it as escaped text.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { csvParseRows } from 'd3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serializeTrace } from '../../src/lab/trace';
import { buildTrace, matrixOf } from '../fixtures/trace';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { cspViolations, recordCspViolations } from './support/csp';

const { origin } = inject('e2e');

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = '<script>window.__xss=2</script>';
/** Without spaces, which the token strip draws as visible marks. */
const SVG_ONLOAD = '<svg/onload=window.__xss=3>';
const PAYLOAD = `${IMG} ${SCRIPT}`;

let browser: Browser;
let page: Page;
let errors: string[];
let dir: string;
/** Requests the page made for `/x`: an <img src=x> would fetch it. */
const fetchedX: string[] = [];

/** A trace whose labels, prompt, tokens, response, request, defense label and model id all carry the payloads. */
function hostileTrace(): string {
  const tokenTexts = ['<s>', SVG_ONLOAD, IMG, SCRIPT, ' how'];
  const request = tokenTexts.slice(1).join('');
  const spans = [
    { kind: 'sink' as const, start: 0, end: 1, text: '<s>' },
    { kind: 'request' as const, start: 1, end: 5, text: request },
  ];
  const row = [0.5, 0.2, 0.1, 0.1, 0.1];
  const run = (mass: number) => ({
    lastPrompt: matrixOf(2, 2, () => mass),
    lastPromptRow: matrixOf(2, 2, () => 0).map((layer) => layer.map(() => row)),
    map: { layer: 0, head: 0, data: matrixOf(5, 5, (q, k) => (k <= q ? 1 / (q + 1) : 0)) },
    response: `I'm sorry ${PAYLOAD}`,
    generatedTokens: [7, 8],
    generatedTexts: [SVG_ONLOAD, SCRIPT],
  });
  const trace = buildTrace({
    nLayer: 2,
    nHead: 2,
    tokenTexts,
    spans,
    defenseLabel: `sharpening ${SCRIPT}`,
    steps: [
      { label: `Plain ${PAYLOAD}`, ...run(0.5), defended: run(0.6) },
      { label: `Framed ${SVG_ONLOAD}`, ...run(0.3), defended: run(0.55) },
    ],
  });
  trace.settings.model.id = `model ${PAYLOAD}`;
  trace.request.id = `id-${SVG_ONLOAD}`;
  return serializeTrace(trace);
}

/** Nothing ran and no payload became an element. */
async function expectNoMarkup(from: Page): Promise<void> {
  expect(await from.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  const injected = await from.evaluate(() => ({
    images: [...document.querySelectorAll('img')].filter((img) => img.getAttribute('src') === 'x').length,
    scripts: [...document.querySelectorAll('script')].filter((script) => script.textContent?.includes('__xss')).length,
    handlers: document.querySelectorAll('[onerror], [onload]').length,
  }));
  expect(injected).toEqual({ images: 0, scripts: 0, handlers: 0 });
  expect(fetchedX).toEqual([]);
}

beforeAll(async () => {
  browser = await launchChromium({ webgpu: false });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  errors = collectPageErrors(page);
  await recordCspViolations(page);
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/x') fetchedX.push(request.url());
  });
  dir = await mkdtemp(join(tmpdir(), 'slip-lab-xss-'));
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('user text in the app', () => {
  it('shows a request from a link, typed or from a CSV cell as text', async () => {
    await page.goto(`${origin}/?request=${encodeURIComponent(PAYLOAD)}`);
    await page.getByTestId('no-webgpu').waitFor({ timeout: 60_000 });
    const request = page.getByTestId('request-text');
    expect(await request.inputValue()).toBe(PAYLOAD);
    await request.fill(`${SVG_ONLOAD} typed ${IMG}`);
    expect(await request.inputValue()).toBe(`${SVG_ONLOAD} typed ${IMG}`);
    const cell = (text: string) => `"${text.replace(/"/g, '""')}"`;
    await page.getByTestId('requests-file').setInputFiles({
      name: 'xss.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`id,category,goal,target\n${cell(`q-${SVG_ONLOAD}`)},${cell(SCRIPT)},${cell(PAYLOAD)},${cell(IMG)}\n`),
    });
    await page.locator('optgroup[label="Your requests"]').waitFor({ state: 'attached', timeout: 30_000 });
    expect(await request.inputValue()).toBe(PAYLOAD);
    expect(await page.locator('optgroup[label="Your requests"] option').allInnerTexts()).toEqual([PAYLOAD]);
    await expectNoMarkup(page);
  });

  it('replays a trace whose every text field is markup, and shows it literally', async () => {
    const path = join(dir, 'xss-trace.json');
    await writeFile(path, hostileTrace());
    await page.getByTestId('trace-file').setInputFiles(path);
    await page.getByTestId('stage').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('step-label').innerText()).toContain(`Plain ${PAYLOAD}`);
    expect(await page.getByTestId('panel-response').innerText()).toContain(`I'm sorry ${PAYLOAD}`);
    const strip = await page.getByTestId('token-strip').innerText();
    expect(strip).toContain(SVG_ONLOAD);
    expect(strip).toContain('onerror="window.__xss=1">');
    expect(strip).toContain('<script>window.__xss=2</script>');
    // Arrow keys step through the trace unless a text field has the focus (the request box has it).
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('ArrowRight');
    expect(await page.getByTestId('step-label').innerText()).toContain(`Framed ${SVG_ONLOAD}`);
    await page.getByTestId('show-defended').click();
    await screenshot(page, 'xss-trace-replayed');
    // The presenter's first slide names the model and the request.
    await page.keyboard.press('p');
    await page.getByTestId('presenter').waitFor();
    expect(await page.getByTestId('presenter-context').innerText()).toContain(`model ${PAYLOAD}`);
    await screenshot(page, 'xss-presenter', { fullPage: false });
    await page.keyboard.press('Escape');
    await page.getByTestId('presenter').waitFor({ state: 'detached' });
    await expectNoMarkup(page);
  });

  it('exports every panel as SVG, PNG and CSV with the markup as escaped text', async () => {
    const exported: string[] = [];
    for (const name of ['timeline', 'tokens', 'grid', 'matrix', 'response']) {
      const panel = page.getByTestId(`panel-${name}`);
      for (const format of ['SVG image', 'PNG image (2×)', 'CSV data']) {
        const menu = panel.getByRole('button', { name: /^Export/ });
        await menu.click();
        const item = panel.getByRole('menuitem', { name: new RegExp(`as ${format.replace(/[()×]/g, '.')}$`) });
        if ((await item.count()) === 0) {
          await page.keyboard.press('Escape');
          continue;
        }
        const [download] = await Promise.all([page.waitForEvent('download'), item.click()]);
        const bytes = await readFile((await download.path())!);
        exported.push(`${name} ${download.suggestedFilename()}`);
        const text = bytes.toString('utf8');
        if (format.startsWith('PNG')) {
          expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
        } else if (format.startsWith('SVG')) {
          // Escaped by the serializer: no such tag, no handler attribute, and well-formed XML.
          expect(text).not.toMatch(/<(img|script|svg\/)/i);
          const parsed = await page.evaluate((svg) => {
            const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
            return {
              wellFormed: doc.querySelector('parsererror') === null,
              active: doc.querySelectorAll('img, script, foreignObject, iframe, [onerror], [onload]').length,
              text: doc.documentElement.textContent ?? '',
            };
          }, text);
          expect(parsed).toMatchObject({ wellFormed: true, active: 0 });
          if (name === 'tokens') expect(parsed.text).toContain(SVG_ONLOAD);
          if (name === 'timeline') expect(parsed.text).toContain('<script>window.__xss=2</script>');
          // Opened on its own, as a reader of the slides might, the file is a document: nothing runs.
          const file = join(dir, download.suggestedFilename());
          await download.saveAs(file);
          const opened = await browser.newPage({ viewport: { width: 1100, height: 500 } });
          await opened.goto(pathToFileURL(file).href);
          expect(await opened.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
          if (name === 'timeline' || name === 'tokens') await screenshot(opened, `xss-export-${name}-svg`, { fullPage: false });
          await opened.close();
        } else {
          const cells = csvParseRows(text.replace(/^\uFEFF/, '')).flat();
          if (name === 'tokens') expect(cells).toContain(SVG_ONLOAD);
          if (name === 'timeline') expect(cells.some((cell) => cell.includes(PAYLOAD))).toBe(true);
          // The response's CSV lists its generated tokens.
          if (name === 'response') expect(cells).toContain(SVG_ONLOAD);
        }
      }
    }
    // Every panel exports something; the PNG export drew its SVG through an <img> of a blob: URL.
    expect(new Set(exported.map((e) => e.split(' ')[0]))).toEqual(new Set(['timeline', 'tokens', 'grid', 'matrix', 'response']));
    expect(await page.locator('.slip-export-error').count()).toBe(0);
    await expectNoMarkup(page);
  }, 120_000);

  it('recorded no Content Security Policy violation and no console error', async () => {
    expect(await cspViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});
