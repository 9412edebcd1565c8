// Random-access byte sources for GGUF files: HTTP range requests, Blob/File, and a Node path.

import { DownloadError } from '../errors';

export interface ByteSource {
  /** Human-readable origin, used in error messages. */
  readonly label: string;
  /** Total size in bytes. */
  size(): Promise<number>;
  /** Bytes [offset, offset + length); may return fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export function blobSource(blob: Blob, label = (blob as File).name ?? 'file'): ByteSource {
  return {
    label,
    size: async () => blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

export function urlSource(url: string, fetchImpl: typeof fetch = fetch): ByteSource {
  let knownSize: number | undefined;
  const fail = (what: string) =>
    new DownloadError(`Could not download ${url} (${what}); check the address and your connection, then try again.`);
  return {
    label: url,
    async size() {
      if (knownSize !== undefined) return knownSize;
      let response: Response;
      try {
        response = await fetchImpl(url, { headers: { Range: 'bytes=0-0' } });
      } catch (e) {
        throw fail(String((e as Error).message ?? e));
      }
      if (!response.ok) throw fail(`HTTP ${response.status}`);
      const range = response.headers.get('Content-Range');
      const total = range?.match(/\/(\d+)$/)?.[1];
      if (total) knownSize = Number(total);
      else if (response.status === 200 && response.headers.get('Content-Length'))
        knownSize = Number(response.headers.get('Content-Length'));
      else throw fail('the server reports no size');
      await response.body?.cancel();
      return knownSize;
    },
    async read(offset, length) {
      let response: Response;
      try {
        response = await fetchImpl(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      } catch (e) {
        throw fail(String((e as Error).message ?? e));
      }
      if (!response.ok) throw fail(`HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      // A server that ignores Range sends the whole file.
      return response.status === 206 ? bytes : bytes.subarray(offset, offset + length);
    },
  };
}
