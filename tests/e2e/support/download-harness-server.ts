// Server for the download e2e test: a blank page with the bundled download harness, and files
// served with Range, ETag and If-Range like a CDN, plus the faults a meeting-room network has:
// throttling, a dropped connection, a stall, a server that ignores Range. Every request is logged.
// Tests that stop a download part-way use `pauseAfter` (the server holds the body at a byte the test
// chose), never a speed and a clock, so they behave the same on a fast machine and a slow one.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRange } from './static-server';

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  status: number;
  /** Body bytes written before the response ended or broke. */
  bytesSent: number;
}

export interface ServedFile {
  bytes: Uint8Array;
  etag: string;
}

export interface Behaviour {
  /** Answer Range requests with 206 (false: always 200 with the whole file). */
  honourRange: boolean;
  /** Body speed limit; undefined: as fast as possible. */
  bytesPerSecond: number | undefined;
  /** Destroy the connection after this many body bytes of the next file response (once). */
  dropAfter: number | undefined;
  /**
   * Hold the next file response after this many body bytes (once) until `release()` is called or
   * the client goes away: a stalled connection, and a point a test can act at without racing.
   */
  pauseAfter: number | undefined;
}

export interface HarnessServer {
  /** `http://127.0.0.1:<port>`; the page is `/`, files are `/files/<name>`. */
  readonly origin: string;
  readonly log: LoggedRequest[];
  readonly files: Map<string, ServedFile>;
  readonly behaviour: Behaviour;
  /** File requests only (the page and script are left out). */
  fileRequests(): LoggedRequest[];
  /** Lets a response held by `pauseAfter` go on. */
  release(): void;
  close(): Promise<void>;
}

const PAGE = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>download harness</title><script type="module" src="/harness.js"></script>';
const PIECE = 64 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function drainOrClose(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done).off('close', done);
      resolve();
    };
    response.on('drain', done).on('close', done);
  });
}

/** Resolves when `gate` opens or the response closes (the client cancelled or went away). */
function releasedOrClosed(response: ServerResponse, gate: Gate): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('close', done);
      gate.waiting.delete(done);
      resolve();
    };
    if (response.destroyed) return resolve();
    response.on('close', done);
    gate.waiting.add(done);
  });
}

interface Gate {
  waiting: Set<() => void>;
}

async function sendBody(response: ServerResponse, bytes: Uint8Array, entry: LoggedRequest, behaviour: Behaviour, gate: Gate) {
  const dropAt = behaviour.dropAfter;
  const pauseAt = behaviour.pauseAfter;
  behaviour.dropAfter = undefined;
  behaviour.pauseAfter = undefined;
  let paused = false;
  let sent = 0;
  while (sent < bytes.length && !response.destroyed) {
    // A pause comes before a drop at the same byte: the test lets the page take in every byte
    // sent, then releases, and the connection breaks with nothing in flight.
    if (pauseAt !== undefined && !paused && sent >= pauseAt) {
      paused = true;
      await releasedOrClosed(response, gate);
      continue;
    }
    const limit = dropAt === undefined ? bytes.length : Math.min(bytes.length, dropAt);
    if (sent >= limit) {
      response.socket?.destroy();
      return;
    }
    const stop = pauseAt !== undefined && !paused ? Math.min(limit, pauseAt) : limit;
    const piece = bytes.subarray(sent, Math.min(sent + PIECE, stop));
    const drained = response.write(piece);
    sent += piece.length;
    entry.bytesSent = sent;
    if (!drained) await drainOrClose(response);
    if (behaviour.bytesPerSecond) await sleep((piece.length / behaviour.bytesPerSecond) * 1000);
  }
  response.end();
}

function handleFile(request: IncomingMessage, response: ServerResponse, file: ServedFile | undefined, entry: LoggedRequest, behaviour: Behaviour, gate: Gate) {
  if (!file) {
    entry.status = 404;
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  const size = file.bytes.length;
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Cache-Control': 'no-store',
    ETag: file.etag,
    ...(behaviour.honourRange ? { 'Accept-Ranges': 'bytes' } : {}),
  };
  // If-Range with another validator means "the file changed: send all of it".
  const rangeApplies = behaviour.honourRange && entry.range !== undefined && (entry.ifRange === undefined || entry.ifRange === file.etag);
  const range = rangeApplies ? parseRange(entry.range!, size) : undefined;
  if (range === null) {
    entry.status = 416;
    response.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  headers['Content-Length'] = String(end - start + 1);
  entry.status = range ? 206 : 200;
  response.writeHead(entry.status, headers);
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  void sendBody(response, file.bytes.subarray(start, end + 1), entry, behaviour, gate);
}

/** Listens on 127.0.0.1 at a free port; `script` is the bundled harness served at /harness.js. */
export async function serveDownloadHarness(script: string): Promise<HarnessServer> {
  const log: LoggedRequest[] = [];
  const files = new Map<string, ServedFile>();
  const behaviour: Behaviour = { honourRange: true, bytesPerSecond: undefined, dropAfter: undefined, pauseAfter: undefined };
  const gate: Gate = { waiting: new Set() };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const header = (name: string) => request.headers[name] as string | undefined;
    const entry: LoggedRequest = { method: request.method ?? 'GET', path, range: header('range'), ifRange: header('if-range'), status: 200, bytesSent: 0 };
    log.push(entry);
    if (path === '/') response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
    else if (path === '/harness.js') response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' }).end(script);
    else if (path.startsWith('/files/')) handleFile(request, response, files.get(path.slice('/files/'.length)), entry, behaviour, gate);
    else {
      entry.status = 404;
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    files,
    behaviour,
    fileRequests: () => log.filter((r) => r.path.startsWith('/files/')),
    release: () => {
      for (const open of [...gate.waiting]) open();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const open of [...gate.waiting]) open();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
