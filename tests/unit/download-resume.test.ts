// Resume decisions: which request continues a partial file, and what each answer means for it.

import { describe, expect, it } from 'vitest';
import { decideResponse, parseContentRange, planRequest, type PartialState, type RequestPlan } from '../../src/download/resume';
import { parseSidecar, serializeSidecar, type Sidecar } from '../../src/download/sidecar';

const partial: PartialState = { have: 4000, totalBytes: 10000, etag: '"abc"', lastModified: 'Tue, 01 Jul 2025 10:00:00 GMT' };
const resumePlan = planRequest(partial, { ifRange: true }) as Extract<RequestPlan, { kind: 'fetch' }>;

describe('planRequest', () => {
  it('fetches everything when nothing is stored', () => {
    expect(planRequest(undefined, { ifRange: true })).toEqual({ kind: 'fetch', from: 0, headers: {} });
    expect(planRequest({ have: 0 }, { ifRange: true })).toEqual({ kind: 'fetch', from: 0, headers: {} });
  });

  it('continues after the stored bytes, guarded by the strong ETag', () => {
    expect(resumePlan).toEqual({ kind: 'fetch', from: 4000, headers: { Range: 'bytes=4000-', 'If-Range': '"abc"' } });
  });

  it('guards with Last-Modified when the ETag is weak, and not at all when told not to', () => {
    expect(planRequest({ ...partial, etag: 'W/"abc"' }, { ifRange: true })).toMatchObject({
      headers: { Range: 'bytes=4000-', 'If-Range': partial.lastModified },
    });
    expect(planRequest(partial, { ifRange: false })).toEqual({ kind: 'fetch', from: 4000, headers: { Range: 'bytes=4000-' } });
    expect(planRequest({ have: 4000 }, { ifRange: true })).toEqual({ kind: 'fetch', from: 4000, headers: { Range: 'bytes=4000-' } });
  });

  it('needs no request when the stored bytes are the whole file, and starts over when they are more', () => {
    expect(planRequest({ have: 10000, totalBytes: 10000 }, { ifRange: true })).toEqual({ kind: 'complete', totalBytes: 10000 });
    expect(planRequest({ have: 12000, totalBytes: 10000 }, { ifRange: true })).toEqual({ kind: 'fetch', from: 0, headers: {} });
  });
});

describe('decideResponse', () => {
  it('appends a 206 that continues exactly where the stored bytes end', () => {
    expect(decideResponse(resumePlan, partial, { status: 206, contentRange: 'bytes 4000-9999/10000', etag: '"abc"' })).toEqual({
      kind: 'write',
      offset: 4000,
      totalBytes: 10000,
      restarted: false,
      validators: { etag: '"abc"', lastModified: undefined },
    });
  });

  it('starts over with the body of a 200 (Range ignored, or If-Range saw a new file)', () => {
    expect(decideResponse(resumePlan, partial, { status: 200, contentLength: '10000' })).toMatchObject({
      kind: 'write',
      offset: 0,
      totalBytes: 10000,
      restarted: true,
    });
  });

  it('does not take a compressed Content-Length for the file size', () => {
    expect(decideResponse(resumePlan, partial, { status: 200, contentLength: '300', contentEncoding: 'gzip' })).toMatchObject({ totalBytes: undefined });
  });

  it('refetches when the server file changed under a 206', () => {
    expect(decideResponse(resumePlan, partial, { status: 206, contentRange: 'bytes 4000-11999/12000' })).toMatchObject({ kind: 'refetch', reason: expect.stringMatching(/size/) });
    expect(decideResponse(resumePlan, partial, { status: 206, contentRange: 'bytes 4000-9999/10000', etag: '"new"' })).toMatchObject({ kind: 'refetch', reason: expect.stringMatching(/ETag/) });
    const noEtag = { ...partial, etag: undefined };
    expect(
      decideResponse(resumePlan, noEtag, { status: 206, contentRange: 'bytes 4000-9999/10000', lastModified: 'Wed, 02 Jul 2025 10:00:00 GMT' }),
    ).toMatchObject({ kind: 'refetch', reason: expect.stringMatching(/Last-Modified/) });
  });

  it('refetches when a 206 starts elsewhere or has no readable Content-Range', () => {
    expect(decideResponse(resumePlan, partial, { status: 206, contentRange: 'bytes 0-9999/10000' })).toMatchObject({ kind: 'refetch' });
    expect(decideResponse(resumePlan, partial, { status: 206 })).toMatchObject({ kind: 'refetch' });
  });

  it('treats a 416 as complete only when the server size equals the stored bytes', () => {
    const atEnd = planRequest({ have: 10000 }, { ifRange: false }) as Extract<RequestPlan, { kind: 'fetch' }>;
    expect(decideResponse(atEnd, { have: 10000 }, { status: 416, contentRange: 'bytes */10000' })).toEqual({ kind: 'complete', totalBytes: 10000 });
    expect(decideResponse(atEnd, { have: 10000 }, { status: 416, contentRange: 'bytes */8000' })).toMatchObject({ kind: 'refetch' });
  });

  it('reports other statuses as HTTP errors', () => {
    for (const status of [403, 404, 500]) expect(decideResponse(resumePlan, partial, { status })).toEqual({ kind: 'http-error', status });
  });

  it('parses Content-Range forms', () => {
    expect(parseContentRange('bytes 0-0/676000000')).toEqual({ start: 0, end: 0, total: 676000000 });
    expect(parseContentRange('bytes 5-9/*')).toEqual({ start: 5, end: 9, total: undefined });
    expect(parseContentRange('bytes */42')).toEqual({ start: undefined, end: undefined, total: 42 });
    expect(parseContentRange('items 0-1/2')).toBeUndefined();
    expect(parseContentRange(null)).toBeUndefined();
  });
});

describe('sidecar', () => {
  const sidecar: Sidecar = {
    version: 1,
    key: 'https://h/m.gguf',
    url: 'https://h/m.gguf',
    name: 'm.gguf',
    totalBytes: 10000,
    etag: '"abc"',
    complete: false,
    startedAt: 1,
    savedAt: 2,
  };

  it('round-trips through JSON', () => {
    expect(parseSidecar(serializeSidecar(sidecar))).toEqual(sidecar);
  });

  it('reads anything broken or foreign as no sidecar (the file is then fetched afresh)', () => {
    expect(parseSidecar(undefined)).toBeUndefined();
    expect(parseSidecar('{"version":1,')).toBeUndefined();
    expect(parseSidecar(JSON.stringify({ ...sidecar, version: 2 }))).toBeUndefined();
    expect(parseSidecar(JSON.stringify({ ...sidecar, totalBytes: -1 }))).toBeUndefined();
    expect(parseSidecar(JSON.stringify({ ...sidecar, key: undefined }))).toBeUndefined();
  });
});
