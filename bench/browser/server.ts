// The browser bench's HTTP server on 127.0.0.1: the bundled page from memory and the wasm and
// models from disk, every response cross-origin isolated so wllama gets SharedArrayBuffer and threads.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
};

/**
 * `crossOriginIsolated` needs both: COOP keeps other origins' windows out of the page's process,
 * COEP makes every subresource opt in (ours are all same-origin, so they do).
 */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cache-Control': 'no-store',
};

export interface BenchServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

export interface BenchRoutes {
  /** Response bodies held in memory, by URL path (the page and its bundle). */
  readonly memory: ReadonlyMap<string, string | Uint8Array>;
  /** Files on disk, by URL path (the wasm and the models), sent whole: the page fetches them whole. */
  readonly files: ReadonlyMap<string, string>;
}

async function handle(routes: BenchRoutes, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
  const type = (name: string) => MIME[extname(name === '/' ? 'index.html' : name)] ?? 'application/octet-stream';
  const body = routes.memory.get(path);
  if (body !== undefined) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    response.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': type(path), 'Content-Length': String(bytes.byteLength) });
    response.end(request.method === 'HEAD' ? undefined : bytes);
    return;
  }
  const file = routes.files.get(path);
  const info = file ? await stat(file) : undefined;
  if (!file || !info?.isFile()) {
    response.writeHead(404, { ...ISOLATION_HEADERS, 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
    return;
  }
  response.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': type(file), 'Content-Length': String(info.size) });
  if (request.method === 'HEAD') response.end();
  else createReadStream(file).pipe(response);
}

/** Listens on 127.0.0.1 at a free port. */
export async function serveBench(routes: BenchRoutes): Promise<BenchServer> {
  const server = createServer((request, response) => {
    handle(routes, request, response).catch((e: Error) => {
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain' });
      response.end(e.message);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
