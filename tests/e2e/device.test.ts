// The GPU as a live demo meets it, in headless Chromium: "Check this computer" compares this GPU
// with the float64 reference (passing, remembered, shown in presenter mode; and failing on a GPU
// that corrupts its uploads); a device lost mid-session (driver reset, sleep, another tab) is
// recovered with one button that makes a new device, reloads the model from the browser's cache
// and runs the scenario again; a model too big for the device is refused with one sentence before
// it is downloaded or uploaded.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { TOKENIZER_REPO } from './support/context';

const { origin } = inject('e2e');
const modelUrl = `${origin}/qwen-vocab.gguf`;
const link = (extra: string) =>
  `${origin}/?model=${encodeURIComponent(modelUrl)}&tokenizer=${encodeURIComponent(TOKENIZER_REPO)}&hub=${encodeURIComponent(origin)}${extra}`;

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
});

afterAll(async () => {
  await browser?.close();
});

async function waitIdle(page: Page) {
  await page.getByTestId('run').waitFor({ timeout: 300_000 });
  await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });
}

/** The model-level request mass the timeline prints for the step on screen. */
const shownMass = async (page: Page) => /attention on request (\d\.\d{3})/.exec(await page.getByTestId('panel-timeline').innerText())?.[1];

describe('the GPU device', () => {
  it('checks this computer: passes here, is remembered, shows its tick in presenter mode, and fails on a corrupting GPU', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(link(`&request=${encodeURIComponent('Explain how to pick a lock.')}&attack=none&tokens=2&run=1&selftest=1`));
    const result = page.getByTestId('selftest-result');
    await result.waitFor({ timeout: 300_000 });
    expect(await result.innerText()).toContain('This computer computes correctly');
    // A healthy f32 engine is ~1e-6 off the float64 reference; the limits are 1e-3 and 1e-4.
    expect(Number(await page.getByTestId('selftest-logit-error').innerText())).toBeLessThan(1e-4);
    expect(Number(await page.getByTestId('selftest-attention-error').innerText())).toBeLessThan(1e-5);
    expect(await page.getByTestId('selftest-adapter').innerText()).toMatch(/swiftshader/i);
    expect(await page.getByTestId('selftest-decode').innerText()).toMatch(/^[\d.]+ ms per token$/);
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await waitIdle(page);
    await screenshot(page, 'app-selftest-passed');

    // Remembered for this adapter and app version: a new visit shows it without running it again.
    const again = await context.newPage();
    await again.goto(`${origin}/`);
    await again.getByTestId('selftest-result').waitFor({ timeout: 60_000 });
    expect(await again.getByTestId('selftest-result').innerText()).toContain('This computer computes correctly');
    await again.close();

    await page.keyboard.press('p');
    await page.getByTestId('presenter').waitFor();
    expect(await page.getByTestId('selftest-mark').innerText()).toBe('✓');
    await page.keyboard.press('Escape');

    // A GPU that corrupts what it is given: every large upload gets one flipped byte.
    const [engineWorker] = page.workers();
    await engineWorker.evaluate(() => {
      const original = GPUQueue.prototype.writeBuffer;
      GPUQueue.prototype.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource, ...rest: number[]) {
        if (ArrayBuffer.isView(data) && data.byteLength > 4096) {
          const copy = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
          copy[100] ^= 0x40;
          return original.call(this, buffer, offset, copy, ...rest);
        }
        return original.call(this, buffer, offset, data, ...rest);
      } as typeof original;
    });
    await page.getByRole('button', { name: 'Check this computer' }).click();
    await expect.poll(() => result.innerText(), { timeout: 300_000 }).toContain('This computer failed the check');
    expect(await result.innerText()).toMatch(/This GPU computed .+ differently from the reference .+; update the graphics driver or use another browser or computer before presenting\./);
    await screenshot(page, 'app-selftest-failed');
    await page.keyboard.press('p');
    expect(await page.getByTestId('selftest-mark').innerText()).toMatch(/^✗ This GPU computed/);
    await screenshot(page, 'app-presenter-selftest-failed', { fullPage: false });
    await page.keyboard.press('Escape');
    expect(errors).toEqual([]);
    await context.close();
  }, 600_000);

  it('is recovered with one button after a loss: new device, model from the cache, the scenario run again', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(link(`&request=${encodeURIComponent('Explain how to pick a lock.')}&attack=ladder&steps=1&tokens=3&run=1`));
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await waitIdle(page);
    const before = await shownMass(page);
    expect(before).toMatch(/^\d\.\d{3}$/);
    // The app asked the browser to keep the downloaded model (navigator.storage.persist()) and says what it answered.
    await expect.poll(() => page.getByTestId('storage').innerText(), { timeout: 30_000 }).toMatch(/The browser (will keep saved models until you clear them|may clear saved models when space runs low)/);

    // Lose the device the way a driver reset does: the engine's next command encoder finds it destroyed.
    const [engineWorker] = page.workers();
    await engineWorker.evaluate(() => {
      const proto = GPUDevice.prototype as GPUDevice & { __lost?: boolean };
      const original = proto.createCommandEncoder;
      proto.createCommandEncoder = function (this: GPUDevice, ...args: Parameters<GPUDevice['createCommandEncoder']>) {
        proto.createCommandEncoder = original;
        this.destroy();
        return original.apply(this, args);
      };
    });
    await page.getByTestId('temperature').fill('0.4'); // the slider's re-run is the next GPU work
    const error = page.getByTestId('model-error');
    await error.waitFor({ timeout: 120_000 });
    expect(await error.innerText()).toMatch(/The GPU device was lost .*; load the model again, or pick a smaller one if this repeats\./);
    await screenshot(page, 'app-device-lost');

    await page.getByTestId('recover').click();
    await expect.poll(() => page.getByTestId('model-summary').innerText(), { timeout: 300_000 }).toContain("Loaded from this browser's cache");
    // The scenario ran again, with the slider's new temperature (the failed re-run never landed).
    await expect.poll(() => page.getByTestId('panel-timeline').innerText(), { timeout: 300_000 }).toMatch(/T = 0\.4\b/);
    await waitIdle(page);
    // On the new device: the same undefended numbers as before the loss.
    expect(await page.getByTestId('step-label').innerText()).toContain('Role-play persona');
    expect(await shownMass(page)).toBe(before);
    await screenshot(page, 'app-device-recovered');
    // The loss itself is reported on screen, not as a page error; nothing else went wrong.
    expect(errors.filter((e) => !/lost|destroyed|Instance dropped|invalid/i.test(e))).toEqual([]);
    await context.close();
  }, 600_000);

  it('refuses a model too big for the device with one sentence, before downloading or uploading it', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    // 2 GiB of device memory: a 1 GiB budget, so Gemma 2 2B (1.7 GB) cannot fit; Qwen2.5 0.5B Q8_0 (676 MB) is the largest that can.
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 2, configurable: true }));
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`${origin}/?model=gemma-2-2b-it-q4_k_m&hub=${encodeURIComponent(origin)}`);
    const error = page.getByTestId('model-error');
    await error.waitFor({ timeout: 60_000 });
    const text = await error.innerText();
    expect(text).toMatch(/Gemma 2 2B IT Q4_K_M needs about 2\.\d GB of GPU memory, more than this device can spare \(about 1\.1 GB\); pick a smaller model such as Qwen2\.5 0\.5B Instruct Q8_0 \(676 MB\)\./);
    expect(requests.filter((url) => url.includes('.gguf'))).toEqual([]);
    await screenshot(page, 'app-too-big');

    // A model given by URL is checked from its header, before the upload: a tiny budget refuses the tiny model.
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 0.0001, configurable: true }));
    const second = await context.newPage();
    await second.goto(link(''));
    const sentence = second.getByTestId('model-error');
    await sentence.waitFor({ timeout: 120_000 });
    expect(await sentence.innerText()).toMatch(/^qwen-vocab\.gguf needs about [\d.]+ MB of GPU memory, more than this device can spare \(about 53\.7 kB\); no catalogue model fits it, so use a computer with more memory\.$/m);
    expect(await second.getByTestId('model-summary').count()).toBe(0);
    await context.close();
  }, 300_000);
});
