// Content Security Policy in e2e tests: every violation a page (or, with the policy also sent as
// a header, one of its workers) reports is collected into window.__cspViolations for the test.

import type { BrowserContext, Page } from 'playwright-core';

export interface CspViolation {
  readonly where: 'page' | 'worker';
  readonly directive: string;
  readonly blocked: string;
  readonly source: string;
  readonly sample: string;
}

/** Workers report on this channel: the page cannot listen to a worker's own violation events. */
const CHANNEL = 'slip-lab-test-csp-violations';

/** Collects the violations of every page opened in `target` from now on. */
export async function recordCspViolations(target: BrowserContext | Page): Promise<void> {
  await target.addInitScript((channel: string) => {
    const list: unknown[] = [];
    Object.assign(window, { __cspViolations: list });
    document.addEventListener('securitypolicyviolation', (e) =>
      list.push({ where: 'page', directive: e.effectiveDirective, blocked: e.blockedURI, source: `${e.sourceFile}:${e.lineNumber}`, sample: e.sample }),
    );
    new BroadcastChannel(channel).onmessage = (event: MessageEvent) => list.push({ where: 'worker', ...event.data });
  }, CHANNEL);
}

export async function cspViolations(page: Page): Promise<CspViolation[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations?: CspViolation[] }).__cspViolations ?? []);
}

/** Prepended to each worker script: its violations go to the page's list. */
const WORKER_REPORTER =
  `self.addEventListener('securitypolicyviolation', (e) => new BroadcastChannel(${JSON.stringify(CHANNEL)}).postMessage(` +
  '{ directive: e.effectiveDirective, blocked: e.blockedURI, source: `${e.sourceFile}:${e.lineNumber}`, sample: e.sample }));\n';

/**
 * Sends `policy` as a Content-Security-Policy header with the app's page and scripts from `origin`,
 * as a deployment should: a <meta> policy governs the page only, never its workers. Worker scripts
 * get the reporter above. Use a context whose service workers are blocked, so every script passes here.
 */
export async function sendCspHeader(context: BrowserContext, origin: string, policy: string): Promise<void> {
  await context.route(
    (url) => url.origin === origin && (url.pathname === '/' || url.pathname.endsWith('.html') || url.pathname.endsWith('.js')),
    async (route) => {
      const response = await route.fetch();
      const headers: Record<string, string> = { ...response.headers(), 'content-security-policy': policy };
      delete headers['content-length'];
      const worker = /\.worker-[\w-]+\.js$/.test(new URL(route.request().url()).pathname);
      await route.fulfill(worker ? { response, headers, body: WORKER_REPORTER + (await response.text()) } : { response, headers });
    },
  );
}

/** The policy of the built page's <meta http-equiv="Content-Security-Policy">, and what precedes it in <head>. */
export async function metaPolicy(origin: string): Promise<{ policy: string; before: string }> {
  const html = await (await fetch(`${origin}/`)).text();
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html);
  if (!match) throw new Error(`The built index.html at ${origin}/ has no Content-Security-Policy meta tag.`);
  const policy = match[1].replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return { policy, before: html.slice(html.indexOf('<head>') + 6, match.index) };
}

/** `script-src 'self'; …` → Map { 'script-src' → ["'self'"] }. */
export function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...values]) => [name, values]),
  );
}
