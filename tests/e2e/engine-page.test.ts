// The engine check page in headless Chromium on SwiftShader: loads, runs, matches Dawn in Node, survives bad files.

import { basename } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GpuContext, loadModel, type GenerateResult } from '../../src/engine';
import { nodePlatform } from '../../src/engine/platform-node';
import { pathSource } from '../../src/gguf/source-node';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { DEFAULT_NEW_TOKENS, DEFAULT_PROMPT, E2E_MODEL } from './support/context';

const { origin, modelPath } = inject('e2e');
const modelUrl = `${origin}/model.gguf`;
const pageFor = (model: string, run = true) => `${origin}/?page=engine&model=${encodeURIComponent(model)}${run ? '&run=1' : ''}`;

let browser: Browser;
/** The same prompt run by the engine in Node (Dawn): an independent run of the same kernels. */
let expected: GenerateResult;

beforeAll(async () => {
  const [launched, nodeResult] = await Promise.all([
    launchChromium({ webgpu: true }),
    (async () => {
      const ctx = await GpuContext.create(await nodePlatform());
      try {
        const model = await loadModel(ctx, await pathSource(modelPath));
        const result = await model.generate(DEFAULT_PROMPT, {
          maxNewTokens: DEFAULT_NEW_TOKENS,
          attention: { rows: 'last-and-generated' },
        });
        model.dispose();
        return result;
      } finally {
        ctx.destroy();
      }
    })(),
  ]);
  browser = launched;
  expected = nodeResult;
});

afterAll(async () => {
  await browser?.close();
});

async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = collectPageErrors(page);
  await page.goto(url);
  return { page, errors };
}

/** Waits for the run's generated ids, failing at once with the alert's text if an error shows instead. */
async function waitForResult(page: Page, timeout: number) {
  const alert = page.getByRole('alert');
  await page.getByTestId('generated-ids').or(alert).first().waitFor({ timeout });
  if (await alert.count()) throw new Error(`the page shows an error: ${await alert.innerText()}`);
}

const idsIn = async (page: Page) =>
  (await page.getByTestId('generated-ids').innerText())
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);

/** Mean over heads of the Node run's attention of the last prompt token, per layer. */
function expectedAttention(): number[][] {
  const rows = expected.attention!.rows;
  const { nLayer, nHead } = E2E_MODEL;
  const slot = rows.queries.indexOf(DEFAULT_PROMPT.length - 1);
  return Array.from({ length: nLayer }, (_, layer) =>
    DEFAULT_PROMPT.map((_, key) => {
      let sum = 0;
      for (let head = 0; head < nHead; head++) sum += rows.data[((layer * rows.queries.length + slot) * nHead + head) * rows.keys + key];
      return sum / nHead;
    }),
  );
}

describe('engine check page', () => {
  it('loads and runs ?model=…&run=1 and matches the engine in Node', async () => {
    const { page, errors } = await openPage(pageFor(modelUrl));
    await expect.poll(() => page.getByTestId('adapter').innerText(), { timeout: 30_000 }).toMatch(/swiftshader/i);
    await waitForResult(page, 90_000);

    expect(expected.generated).toHaveLength(DEFAULT_NEW_TOKENS);
    expect(await idsIn(page)).toEqual(expected.generated);
    expect((await page.getByTestId('generated-text').innerText()).length).toBeGreaterThan(0);
    const config = await page.getByTestId('model-config').innerText();
    expect(config).toMatch(/llama/);
    expect(config).toMatch(/Layers\s+2/);

    // One row per layer, one column per prompt position; each row is a probability distribution.
    const table = page.getByTestId('attention-table');
    await expect.poll(() => table.locator('thead th').count()).toBe(DEFAULT_PROMPT.length + 1);
    const values = await table
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => Number(cell.dataset.value))));
    expect(values).toHaveLength(E2E_MODEL.nLayer);
    const want = expectedAttention();
    values.forEach((row, layer) => {
      expect(row).toHaveLength(DEFAULT_PROMPT.length);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
      row.forEach((p, key) => expect(Math.abs(p - want[layer][key])).toBeLessThan(1e-4));
    });
    const shown = await table.locator('tbody td').first().innerText();
    expect(shown).toMatch(/^\d\.\d\d$/);

    await screenshot(page, 'engine-loaded');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows one error sentence for broken files and stays usable', async () => {
    const { page, errors } = await openPage(`${origin}/?page=engine`);
    const urlField = page.getByLabel('GGUF URL');
    const alert = page.getByRole('alert');
    await expect.poll(() => page.getByRole('button', { name: 'Load' }).isEnabled(), { timeout: 30_000 }).toBe(true);

    const cases: Array<[path: string, message: RegExp]> = [
      ['/noise.gguf', /is not a GGUF file/],
      ['/truncated.gguf', /is truncated: tensor .* download it again\.$/],
      // Mamba has no attention to study, so this app will never run it; the supported list may grow.
      ['/mamba.gguf', /^Architecture "mamba" is not supported; pick a model of one of these architectures: [a-z0-9, ]*llama[a-z0-9, ]*\.$/],
      ['/missing.gguf', /^Could not download .*missing\.gguf \(HTTP 404\)/],
    ];
    for (const [path, message] of cases) {
      await urlField.fill(`${origin}${path}`);
      await urlField.press('Enter'); // the form submits from the keyboard
      await expect.poll(() => alert.count(), { timeout: 30_000 }).toBe(1);
      const text = await alert.innerText();
      expect(text).toMatch(message);
      // One sentence: no sentence break inside, a full stop at the end.
      expect(text.trim()).toMatch(/\.$/);
      expect(text.split(/[.!?] +(?=[A-Z])/)).toHaveLength(1);
      if (path === '/truncated.gguf') await screenshot(page, 'engine-error');
    }

    // A good model afterwards: the error clears and the run still matches Node.
    await urlField.fill(modelUrl);
    await page.getByRole('button', { name: 'Load' }).click();
    await page.getByRole('button', { name: 'Run' }).waitFor({ timeout: 60_000 });
    expect(await alert.count()).toBe(0);
    await page.getByRole('button', { name: 'Run' }).click();
    await waitForResult(page, 60_000);
    expect(await idsIn(page)).toEqual(expected.generated);

    // And the same model from a local file (blobSource).
    await page.getByLabel('Open file…').setInputFiles(modelPath);
    await expect.poll(() => page.getByTestId('model-config').innerText(), { timeout: 60_000 }).toContain(basename(modelPath));
    await page.getByLabel('New tokens').fill('3');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => idsIn(page), { timeout: 60_000 }).toEqual(expected.generated.slice(0, 3));

    // The 404 is the only network failure we caused; anything else is a bug.
    expect(errors.filter((e) => !/missing\.gguf|status of 404/.test(e))).toEqual([]);
    await page.close();
  });
});
