// Bundles bench/browser/page.ts (our engine with its shaders, and @wllama/wllama) with Vite's
// library build, in memory, so the bench serves it without adding anything to the app.

import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = fileURLToPath(new URL('./page.ts', import.meta.url));

export interface PageBundle {
  /** The entry module's file name, e.g. `page.js`. */
  readonly entry: string;
  /** Every emitted file by name: the entry, any split chunks, any assets. */
  readonly files: ReadonlyMap<string, string | Uint8Array>;
}

export async function bundleBenchPage(): Promise<PageBundle> {
  const result = await build({
    // Not the app's config: no CSP (wllama needs WebAssembly), no service worker, no React.
    configFile: false,
    root,
    logLevel: 'silent',
    publicDir: false,
    build: {
      write: false,
      target: 'es2022',
      // Readable stack traces from the page; the bench does not care about size.
      minify: false,
      sourcemap: false,
      lib: { entry, formats: ['es'], fileName: 'page' },
    },
  });
  const files = new Map<string, string | Uint8Array>();
  let entryName: string | undefined;
  for (const output of Array.isArray(result) ? result : [result]) {
    if (!('output' in output)) continue;
    for (const item of output.output) {
      if (item.type === 'chunk') {
        files.set(item.fileName, item.code);
        if (item.isEntry) entryName = item.fileName;
      } else {
        files.set(item.fileName, typeof item.source === 'string' ? item.source : new Uint8Array(item.source));
      }
    }
  }
  if (!entryName) throw new Error('Vite produced no bench page bundle.');
  return { entry: entryName, files };
}
