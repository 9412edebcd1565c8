// Vite build of the browser app: React, shaders/*.wgsl bundled as text (import.meta.glob '?raw'),
// the engine worker as an ES module, and a service worker that keeps the app shell offline.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

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
      const scenarios = ['requests.json', 'requests.csv', 'templates.json', 'ica-demos.json'].map((f) => `scenarios/${f}`);
      const precache = ['index.html', 'favicon.svg', ...scenarios, ...files];
      const version = createHash('sha256').update(precache.join('\n')).digest('hex').slice(0, 12);
      const template = readFileSync(new URL('./src/offline/sw-template.js', import.meta.url), 'utf8');
      const source = template.replace("'__VERSION__'", JSON.stringify(version)).replace('__PRECACHE__', JSON.stringify(precache));
      writeFileSync(join(options.dir ?? 'dist', 'sw.js'), source);
    },
  };
}

export default defineConfig({
  plugins: [react(), offlineShell()],
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
