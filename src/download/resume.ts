// Resume decisions, free of I/O: which request continues a partial file, and what the server's
// answer means for the bytes already stored (append, start over, already complete, or an error).

/** What we know about a partial file before asking the server for the rest. */
export interface PartialState {
  /** Bytes already stored. */
  readonly have: number;
  readonly totalBytes?: number;
  readonly etag?: string;
  readonly lastModified?: string;
}

export type RequestPlan =
  /** The stored bytes are the whole file (the sidecar was not yet marked complete). */
  | { readonly kind: 'complete'; readonly totalBytes: number }
  /** Fetch from byte `from` (0: the whole file, discarding what is stored). */
  | { readonly kind: 'fetch'; readonly from: number; readonly headers: Readonly<Record<string, string>> };

/**
 * Continues after `have` bytes with `Range: bytes=<have>-`. `If-Range` (a strong ETag, else
 * Last-Modified) makes a server whose file changed answer 200 with the new file instead of a
 * mismatched tail. It is not a CORS-safelisted header, so cross-origin requests would need a
 * preflight that some CDNs refuse; callers pass `ifRange: false` there and rely on
 * `decideResponse` comparing the answer's ETag and size with the stored ones instead.
 */
export function planRequest(state: PartialState | undefined, options: { ifRange: boolean }): RequestPlan {
  if (!state || state.have === 0) return { kind: 'fetch', from: 0, headers: {} };
  const { have, totalBytes } = state;
  if (totalBytes !== undefined && have === totalBytes) return { kind: 'complete', totalBytes };
  if (totalBytes !== undefined && have > totalBytes) return { kind: 'fetch', from: 0, headers: {} };
  const headers: Record<string, string> = { Range: `bytes=${have}-` };
  const validator = state.etag && !isWeakEtag(state.etag) ? state.etag : state.lastModified;
  if (options.ifRange && validator) headers['If-Range'] = validator;
  return { kind: 'fetch', from: have, headers };
}

/** The parts of a response that decide what to do with its body. */
export interface ResponseFacts {
  readonly status: number;
  readonly contentRange?: string | null;
  readonly contentLength?: string | null;
  readonly contentEncoding?: string | null;
  readonly etag?: string | null;
  readonly lastModified?: string | null;
}

export interface Validators {
  readonly etag?: string;
  readonly lastModified?: string;
}

export type ResponseDecision =
  /** Stream the body into the file at `offset` (bytes before it are kept). */
  | {
      readonly kind: 'write';
      readonly offset: number;
      readonly totalBytes: number | undefined;
      /** Stored bytes were discarded (the server sent the whole file). */
      readonly restarted: boolean;
      readonly validators: Validators;
    }
  /** Discard the body and the stored bytes, then ask again without a Range. */
  | { readonly kind: 'refetch'; readonly reason: string }
  /** Nothing left to fetch: the stored bytes are the whole file. */
  | { readonly kind: 'complete'; readonly totalBytes: number }
  | { readonly kind: 'http-error'; readonly status: number };

// Content-Range: `bytes a-b/total` (total may be `*`), or `bytes *` + `/total` on a 416.
export function parseContentRange(
  header: string | null | undefined,
): { start?: number; end?: number; total?: number } | undefined {
  const m = header ? /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(header) : null;
  if (!m) return undefined;
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    end: m[2] === undefined ? undefined : Number(m[2]),
    total: m[3] === '*' ? undefined : Number(m[3]),
  };
}

export function isWeakEtag(etag: string): boolean {
  return etag.startsWith('W/');
}

function validatorsOf(facts: ResponseFacts): Validators {
  return { etag: facts.etag ?? undefined, lastModified: facts.lastModified ?? undefined };
}

/** Content-Length counts encoded bytes when the body is compressed, so it is not the file size then. */
function plainLength(facts: ResponseFacts): number | undefined {
  const encoding = facts.contentEncoding?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return undefined;
  const length = facts.contentLength == null ? NaN : Number(facts.contentLength);
  return Number.isInteger(length) && length >= 0 ? length : undefined;
}

/**
 * What the answer to `plan` means. A 206 must continue exactly where the stored bytes end and
 * describe the same file (size, ETag, Last-Modified); anything else starts over, because a tail
 * of a different file would corrupt the model silently. A 200 carries the whole file: servers
 * that ignore Range, or whose file changed (If-Range), answer that way.
 */
export function decideResponse(
  plan: Extract<RequestPlan, { kind: 'fetch' }>,
  state: PartialState | undefined,
  facts: ResponseFacts,
): ResponseDecision {
  const validators = validatorsOf(facts);
  if (facts.status === 200) {
    return { kind: 'write', offset: 0, totalBytes: plainLength(facts), restarted: plan.from > 0, validators };
  }
  if (facts.status === 206) {
    const range = parseContentRange(facts.contentRange);
    if (!range || range.start === undefined) return { kind: 'refetch', reason: 'the server sent an unreadable Content-Range' };
    if (range.start !== plan.from) return { kind: 'refetch', reason: `the server resumed at byte ${range.start}, not ${plan.from}` };
    if (plan.from > 0 && state) {
      if (state.totalBytes !== undefined && range.total !== undefined && range.total !== state.totalBytes)
        return { kind: 'refetch', reason: `the file changed size (${state.totalBytes} → ${range.total} bytes)` };
      if (state.etag && validators.etag && validators.etag !== state.etag) return { kind: 'refetch', reason: 'the file changed (new ETag)' };
      if (!state.etag && state.lastModified && validators.lastModified && validators.lastModified !== state.lastModified)
        return { kind: 'refetch', reason: 'the file changed (new Last-Modified)' };
    }
    return { kind: 'write', offset: plan.from, totalBytes: range.total ?? state?.totalBytes, restarted: false, validators };
  }
  if (facts.status === 416) {
    // Asked past the end: complete if the server's size is exactly what we hold.
    const total = parseContentRange(facts.contentRange)?.total;
    if (total !== undefined && total === plan.from && (state?.totalBytes === undefined || state.totalBytes === total))
      return { kind: 'complete', totalBytes: total };
    return { kind: 'refetch', reason: 'the stored part does not fit the file on the server' };
  }
  return { kind: 'http-error', status: facts.status };
}

/** The response's headers as `ResponseFacts`. */
export function responseFacts(response: Response): ResponseFacts {
  const h = response.headers;
  return {
    status: response.status,
    contentRange: h.get('Content-Range'),
    contentLength: h.get('Content-Length'),
    contentEncoding: h.get('Content-Encoding'),
    etag: h.get('ETag'),
    lastModified: h.get('Last-Modified'),
  };
}
