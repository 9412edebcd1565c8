// A tiny static HTTP server for e2e tests: serves a folder plus named files, honouring Range requests.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
};

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Requests seen so far, as `METHOD path range?`, for debugging failures. */
  readonly log: readonly string[];
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** Folder served at `/` (`/` itself is `index.html`). */
  readonly root: string;
  /** Extra files by URL path, e.g. `{ '/model.gguf': '/abs/path.gguf' }`; they win over `root`. */
  readonly files?: Readonly<Record<string, string>>;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` (one range only) as an inclusive [start, end], or null if unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | null | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // malformed or multi-range: ignore, send everything
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : null;
}

async function handle(options: StaticServerOptions, request: IncomingMessage, response: ServerResponse) {
  const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
  let file = options.files?.[path];
  if (!file) {
    const relative = normalize(path === '/' ? '/index.html' : path);
    file = join(options.root, relative);
    if (!file.startsWith(options.root + sep)) file = undefined;
  }
  const info = file ? await stat(file).catch(() => undefined) : undefined;
  if (!file || !info?.isFile()) {
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
    return;
  }
  const headers: Record<string, string> = {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-store',
  };
  const rangeHeader = request.headers.range;
  const range = rangeHeader ? parseRange(rangeHeader, info.size) : undefined;
  if (range === null) {
    response.writeHead(416, { ...headers, 'Content-Range': `bytes */${info.size}` }).end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: info.size - 1 };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  response.writeHead(range ? 206 : 200, headers);
  if (request.method === 'HEAD' || info.size === 0) {
    response.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(response);
}

/** Listens on 127.0.0.1 at a free port. */
export async function serveStatic(options: StaticServerOptions): Promise<StaticServer> {
  const log: string[] = [];
  const root = normalize(options.root).replace(/[\\/]+$/, '');
  const server = createServer((request, response) => {
    log.push(`${request.method} ${request.url}${request.headers.range ? ` ${request.headers.range}` : ''}`);
    handle({ ...options, root }, request, response).catch((e: Error) => {
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain' });
      response.end(String(e.message));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
