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

/**
 * A `fetch` that answers range requests from a ByteSource, so @huggingface/gguf can parse
 * headers of Blobs and local paths through the same code path as URLs.
 */
export function fetchFromSource(source: ByteSource): typeof fetch {
  return (async (_input: unknown, init?: RequestInit) => {
    const size = await source.size();
    const range = new Headers(init?.headers).get('Range');
    const m = range?.match(/bytes=(\d+)-(\d*)/);
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]) + 1, size) : size;
    const bytes = start < size ? await source.read(start, end - start) : new Uint8Array(0);
    return new Response(bytes as BodyInit, {
      status: m ? 206 : 200,
      headers: { 'Content-Range': `bytes ${start}-${end - 1}/${size}`, 'Content-Length': String(bytes.length) },
    });
  }) as typeof fetch;
}
