// Node only: a GGUF file on disk as a ByteSource (kept apart so the browser bundle never sees node:fs).

import { open } from 'node:fs/promises';
import { DownloadError } from '../errors';
import type { ByteSource } from './source';

export async function pathSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r').catch((e: Error) => {
    throw new DownloadError(`Cannot open ${path}: ${e.message}; check the path.`);
  });
  const stat = await handle.stat();
  return {
    label: path,
    size: async () => stat.size,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, stat.size - offset));
      const buf = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await handle.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    },
    close: () => handle.close(),
  };
}
