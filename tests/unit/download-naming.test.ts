// Cache file names: stable per URL (or key), distinct across URLs, readable, and safe in any OPFS.

import { describe, expect, it } from 'vitest';
import { absoluteUrl, cacheFileName, cacheKey, dataNameOf, displayName, fnv1a64, safeBasename, sidecarName, urlBasename } from '../../src/download/naming';

const qwen = 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf';

describe('cache file names', () => {
  it('are a 16-hex-digit hash of the URL plus its file name', () => {
    const name = cacheFileName({ url: qwen });
    expect(name).toMatch(/^[0-9a-f]{16}-qwen2\.5-0\.5b-instruct-q8_0\.gguf$/);
    expect(cacheFileName({ url: qwen })).toBe(name);
  });

  it('differ for the same file name under different repos, revisions or queries', () => {
    const names = new Set([
      cacheFileName({ url: qwen }),
      cacheFileName({ url: qwen.replace('/main/', '/v2/') }),
      cacheFileName({ url: qwen.replace('Qwen/', 'mirror/') }),
      cacheFileName({ url: `${qwen}?download=true` }),
    ]);
    expect(names.size).toBe(4);
  });

  it('ignore the fragment, and follow the key when one is given', () => {
    expect(cacheFileName({ url: `${qwen}#top` })).toBe(cacheFileName({ url: qwen }));
    const signedA = { url: `${qwen}?token=a`, key: 'qwen2.5-0.5b-instruct-q8_0' };
    const signedB = { url: `${qwen}?token=b`, key: 'qwen2.5-0.5b-instruct-q8_0' };
    expect(cacheFileName(signedA)).toBe(cacheFileName(signedB));
    expect(cacheKey(signedA)).toBe('qwen2.5-0.5b-instruct-q8_0');
    expect(cacheKey({ url: `${qwen}#x` })).toBe(qwen);
  });

  it('reduce odd names to safe characters, without leading dots, at most 64 characters', () => {
    expect(safeBasename('../../etc/passwd')).toBe('etc_passwd');
    expect(safeBasename('мой файл (1).gguf')).toBe('1_.gguf');
    expect(safeBasename('.hidden')).toBe('hidden');
    expect(safeBasename('')).toBe('model');
    const long = safeBasename(`${'a'.repeat(100)}.gguf`);
    expect(long).toHaveLength(64);
    expect(long.endsWith('.gguf')).toBe(true);
    expect(safeBasename('x.meta.json')).toBe('x.meta.json_');
  });

  it('decode the URL path and fall back for URLs without a file name', () => {
    expect(urlBasename('https://h/a/My%20Model.gguf?x=1')).toBe('My Model.gguf');
    expect(urlBasename('https://h/')).toBe('');
    expect(cacheFileName({ url: 'https://h/' })).toMatch(/^[0-9a-f]{16}-model$/);
    expect(urlBasename('https://h/a/%E0%A4%A.gguf')).toBe('%E0%A4%A.gguf');
  });

  it('pair data files with sidecars both ways', () => {
    const name = cacheFileName({ url: qwen });
    expect(dataNameOf(sidecarName(name))).toBe(name);
    expect(dataNameOf(name)).toBeUndefined();
  });

  it('show the given name, else the file name', () => {
    expect(displayName({ url: qwen, name: 'Qwen2.5 0.5B' })).toBe('Qwen2.5 0.5B');
    expect(displayName({ url: qwen })).toBe('qwen2.5-0.5b-instruct-q8_0.gguf');
  });

  it('hash with the published FNV-1a 64 test vectors', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });

  it('make absolute URLs only from absolute input outside a page', () => {
    expect(absoluteUrl('https://h/x.gguf#f')).toBe('https://h/x.gguf');
    expect(() => absoluteUrl('/x.gguf')).toThrow();
  });
});
