// Vite build of the browser app: React, shaders/*.wgsl bundled as text (import.meta.glob '?raw'),
// the workers as ES modules, a strict Content Security Policy in index.html, and a service worker
// that keeps the app shell offline.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * The production build's Content Security Policy, one directive a line.
 * - script-src 'self': the bundle's own files only; no inline script, no eval, no WebAssembly
 *   (the engine is WebGPU, transformers.js is used for tokenizers only, which need neither, and
 *   zod runs jitless: src/util/zod.ts).
 * - style-src 'self': the bundle's CSS files. React writes its style props through the CSSOM,
 *   which CSP does not govern, and the SVG export writes presentation attributes, not `style`.
 * - connect-src: the app's own files, any https origin (the Hugging Face Hub, its CDN and any model
 *   URL a user pastes) and http mirrors on this machine (localhost, 127.0.0.1), as the tests use.
 * - worker-src 'self': the engine and file-parsing workers and the service worker (sw.js).
 * - img-src blob:: the PNG export draws the chart's SVG through an object URL.
 * A <meta> policy covers the page only: the workers get one only from their script's HTTP
 * response, so a deployment should send the same policy as a header (tests/e2e/csp.test.ts does).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "font-src 'self'",
  "connect-src 'self' https: http://localhost:* http://127.0.0.1:*",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Writes the policy into the built index.html as the first element of <head> (a meta policy
 * governs only what follows it). Build only: the dev server injects inline scripts for hot
 * reload, which the strict policy would refuse, so `npm run dev` runs without it.
 */
function contentSecurityPolicy(): Plugin {
  return {
    name: 'slip-lab-content-security-policy',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' }],
  };
}

/** Files the offline shell must not hold: source maps, and ONNX Runtime's 27 MB wasm that a tokenizer never loads. */
const NOT_OFFLINE = /\.(map|wasm)$/;

/**
 * Writes `sw.js` from src/offline/sw-template.js with the build's file list and a version derived
 * from it, so every build installs a fresh shell cache. It runs after the bundle is written: only
 * then is the file list final (Vite drops empty CSS-only chunks after user plugins' generateBundle).
 */
function offlineShell(): Plugin {
  return {
    name: 'slip-lab-offline-shell',
    apply: 'build',
    writeBundle(options, bundle) {
      const files = Object.keys(bundle).filter((name) => !NOT_OFFLINE.test(name) && name !== 'index.html');
      const scenarios = ['requests.json', 'requests.csv', 'templates.json', 'ica-demos.json', 'benign.csv'].map((f) => `scenarios/${f}`);
      const precache = ['index.html', 'favicon.svg', ...scenarios, ...files];
      const version = createHash('sha256').update(precache.join('\n')).digest('hex').slice(0, 12);
      const template = readFileSync(new URL('./src/offline/sw-template.js', import.meta.url), 'utf8');
      const source = template.replace("'__VERSION__'", JSON.stringify(version)).replace('__PRECACHE__', JSON.stringify(precache));
      writeFileSync(join(options.dir ?? 'dist', 'sw.js'), source);
    },
  };
}

export default defineConfig({
  plugins: [react(), contentSecurityPolicy(), offlineShell()],
  // WebGPU browsers all run ES2022; no legacy transforms needed.
  // Class names survive minification: errors cross the worker boundary by `name` (NotGgufError,
  // DownloadError…), which picks how the UI words them.
  build: { target: 'es2022', sourcemap: true, rolldownOptions: { output: { keepNames: true } } },
  // ES module workers can split chunks, so the engine worker loads transformers.js only when a
  // tokenizer is needed (an IIFE worker would inline every dynamic import).
  worker: { format: 'es', rolldownOptions: { output: { keepNames: true } } },
  // Shaders live in /shaders at the project root, outside src/: let the dev server read them.
  server: { fs: { allow: ['.'] } },
});
