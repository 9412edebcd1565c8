// The sentences a failed download shows: what went wrong and what to do, one sentence each,
// plus the AbortError that cancellation raises instead (cancelling is not a failure).

import { DownloadError } from '../errors';
import { formatBytes } from '../util/format';

const sizeSuffix = (bytes: number | undefined) => (bytes ? ` (${formatBytes(bytes)})` : '');

export function httpError(name: string, url: string, status: number): DownloadError {
  if (status === 404 || status === 410)
    return new DownloadError(`Could not download ${name}: the server has no file at ${url} (HTTP ${status}); check the model address, then try again.`);
  if (status === 401 || status === 403)
    return new DownloadError(
      `Could not download ${name}: the server refused access to ${url} (HTTP ${status}); the model may be gated or private, so use a public copy or mirror, then try again.`,
    );
  if (status === 429 || status >= 500)
    return new DownloadError(`Could not download ${name}: the server is busy or failing (HTTP ${status}); wait a minute, then try again.`);
  return new DownloadError(`Could not download ${name}: the server answered HTTP ${status} for ${url}; check the model address, then try again.`);
}

export function networkError(name: string, url: string, cause: unknown): DownloadError {
  return new DownloadError(
    `Could not reach the server for ${name} (${reasonOf(cause)}); check your connection and that ${new URL(url).host} allows downloads from this page, then try again.`,
    { cause },
  );
}

/** The connection broke mid-file; the stored part stays and the next attempt resumes from it. */
export function interruptedError(name: string, stored: number, total: number | undefined, cause: unknown): DownloadError {
  const where = total ? `${formatBytes(stored)} of ${formatBytes(total)}` : formatBytes(stored);
  return new DownloadError(
    `The download of ${name} broke off after ${where} (${reasonOf(cause)}); check your connection and try again, and it will continue from there.`,
    { cause },
  );
}

export function quotaError(name: string, bytes: number | undefined, cause?: unknown): DownloadError {
  return new DownloadError(
    `Not enough browser storage to keep ${name}${sizeSuffix(bytes)}; clear the model cache or free disk space, then try again.`,
    { cause },
  );
}

export function sizeMismatchError(name: string, stored: number, total: number): DownloadError {
  return new DownloadError(
    `The download of ${name} ended at ${stored} bytes although the server announced ${total}; try again, and clear the model cache if it happens again.`,
  );
}

export function unstableServerError(name: string, reason: string): DownloadError {
  return new DownloadError(`Could not download ${name}: ${reason} twice in a row; try again later or use another mirror.`);
}

export function busyError(name: string, cause?: unknown): DownloadError {
  return new DownloadError(
    `${name} is being written by another tab or window of this app; wait for that download to finish or close it, then try again.`,
    { cause },
  );
}

export function storageUnavailableError(): DownloadError {
  return new DownloadError(
    'This browser does not let the app store files here (private browsing, or an older browser); open the app in a normal window of a current browser to keep models for offline use.',
  );
}

/** `openModelSource`'s note when it streams because the browser cannot store files. */
export const STREAMING_NOTE =
  'This browser does not let the app store the model (private browsing, or an older browser), so it streams from the network and needs the connection every time.';

export function storageFailedError(name: string, cause: unknown): DownloadError {
  return new DownloadError(
    `The browser could not store ${name} (${reasonOf(cause)}); clear the model cache and try again, or use a normal (not private) window.`,
    { cause },
  );
}

/** Cancellation surfaces as a DOMException named AbortError, as fetch does. */
export function abortError(signal?: AbortSignal): DOMException {
  const reason: unknown = signal?.reason;
  if (reason instanceof DOMException && reason.name === 'AbortError') return reason;
  return new DOMException('The download was cancelled; the part already stored is kept and resumes next time.', 'AbortError');
}

export function isAbortError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}

export function isQuotaError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'QuotaExceededError';
}

/** An exception's message without a trailing period, for use inside a sentence. */
function reasonOf(cause: unknown): string {
  const text = cause instanceof Error ? cause.message || cause.name : String(cause);
  return text.replace(/[.\s]+$/, '') || 'unknown error';
}
