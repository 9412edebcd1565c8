// The Content Security Policy of the built app: strict as declared, and enough for a whole scenario
// with the policy also on the workers (sent as a header, as a deployment should), so the tokenizer
// (transformers.js), its Jinja chat template and zod are shown to need neither eval nor WebAssembly.

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { collectPageErrors, launchChromium, screenshot } from './support/browser';
import { cspViolations, directives, metaPolicy, recordCspViolations, sendCspHeader } from './support/csp';
import { ladderRunLink } from './support/context';

const { origin } = inject('e2e');
const deepLink = ladderRunLink(origin);

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium({ webgpu: true });
});

afterAll(async () => {
  await browser?.close();
});

describe('Content Security Policy', () => {
  it('is declared in the built page before anything it governs, and is strict', async () => {
    const { policy, before } = await metaPolicy(origin);
    expect(before).not.toMatch(/<(script|link|style)/);
    const d = directives(policy);
    expect(Object.fromEntries(d)).toEqual({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'blob:'],
      'font-src': ["'self'"],
      'connect-src': ["'self'", 'https:', 'http://localhost:*', 'http://127.0.0.1:*'],
      'worker-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
    });
    expect(policy).not.toMatch(/unsafe|data:/);
  });

  it('runs a whole scenario with the policy on the page and on every worker, with no violation', async () => {
    const { policy } = await metaPolicy(origin);
    // Service workers blocked: every script then comes through the route that adds the header.
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, serviceWorkers: 'block' });
    await recordCspViolations(context);
    await sendCspHeader(context, origin, policy);
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(deepLink);
    await page.getByTestId('stage').waitFor({ timeout: 300_000 });
    await page.getByTestId('run').waitFor({ timeout: 300_000 });
    await page.getByTestId('run-progress').waitFor({ state: 'detached', timeout: 300_000 });
    // The tokenizer ran: the prompt's chat-template tokens are on the strip.
    expect(await page.locator('[data-testid=token-strip] [role=listitem]').count()).toBeGreaterThan(10);
    expect(await page.getByTestId('step-label').innerText()).toContain('Role-play persona');
    await screenshot(page, 'csp-scenario');
    expect(await cspViolations(page)).toEqual([]);
    expect(errors).toEqual([]);

    // Control: the engine worker really ran under the policy, and its violations would be seen.
    // (WebAssembly, not eval: DevTools' evaluate, which runs this, is exempt from the eval rule.)
    const engine = page.workers().find((worker) => /engine\.worker/.test(worker.url()));
    expect(engine).toBeDefined();
    const wasm = await engine!.evaluate(() =>
      WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])).then(
        () => 'allowed',
        () => 'blocked',
      ),
    );
    expect(wasm).toBe('blocked');
    await expect.poll(async () => (await cspViolations(page)).map((v) => `${v.where} ${v.directive} ${v.blocked}`)).toEqual(['worker script-src wasm-eval']);
    await context.close();
  }, 600_000);
});
