// Bundles the download harness page (with src/download and zod) into one ES module, in memory,
// with Vite's library build, so the e2e test can serve it without adding it to the app.

import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = fileURLToPath(new URL('./download-harness-page.ts', import.meta.url));

export async function bundleDownloadHarness(): Promise<string> {
  const result = await build({
    configFile: false,
    root,
    logLevel: 'silent',
    publicDir: false,
    build: {
      write: false,
      // Keep class names: the harness reports error names as the app would see them.
      minify: false,
      sourcemap: false,
      lib: { entry, formats: ['es'], fileName: 'harness' },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  for (const output of outputs) {
    if (!('output' in output)) continue;
    const chunks = output.output.filter((item) => item.type === 'chunk');
    if (chunks.length === 1) return chunks[0].code;
    if (chunks.length > 1) throw new Error(`The download harness bundled into ${chunks.length} chunks; expected one.`);
  }
  throw new Error('Vite produced no download harness bundle.');
}
