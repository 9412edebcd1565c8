// Node only: a tokenizer from a local directory (read straight from disk, never the network) or,
// when the argument is not a directory, from the Hub.

import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadHubTokenizer, tokenizerFromJson, TokenizerLoadError, type ChatTokenizer, type HubTokenizerOptions } from './tokenizer';

const FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/** Reads tokenizer.json + tokenizer_config.json from `dir`. */
export async function loadTokenizerFromDirectory(dir: string): Promise<ChatTokenizer> {
  const [json, config] = await Promise.all(
    FILES.map(async (name) => {
      const path = join(dir, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        throw new TokenizerLoadError(`Cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); a tokenizer directory needs ${FILES.join(' and ')}.`, {
          cause: e,
        });
      }
      try {
        return JSON.parse(text) as unknown;
      } catch (e) {
        throw new TokenizerLoadError(`${path} is not valid JSON (${(e as Error).message}).`, { cause: e });
      }
    }),
  );
  return tokenizerFromJson(json, config, dir);
}

/** Looks like a filesystem path rather than an `owner/name` repo id. */
function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('~') || spec.includes('\\') || spec.split('/').length > 2;
}

/** `spec` is a directory (local files) or a hub repo id (downloaded, cached by transformers.js). */
export async function loadTokenizer(spec: string, options: HubTokenizerOptions = {}): Promise<ChatTokenizer> {
  if (existsSync(spec) && statSync(spec).isDirectory()) return loadTokenizerFromDirectory(spec);
  if (looksLikePath(spec)) throw new TokenizerLoadError(`Tokenizer directory ${spec} does not exist; pass a folder with ${FILES.join(' and ')}, or a hub repo like Qwen/Qwen2.5-0.5B-Instruct.`);
  return loadHubTokenizer(spec, options);
}
