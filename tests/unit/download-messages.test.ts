// The sentences users read when a download fails, and the AbortError a cancel raises instead.

import { describe, expect, it } from 'vitest';
import {
  abortError,
  busyError,
  httpError,
  interruptedError,
  networkError,
  quotaError,
  sizeMismatchError,
  storageFailedError,
  storageUnavailableError,
  unstableServerError,
} from '../../src/download/messages';
import { formatBytes } from '../../src/util/format';
import { DownloadError } from '../../src/errors';

describe('download sentences', () => {
  const url = 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf';
  const all = [
    httpError('Qwen2.5-0.5B', url, 404),
    httpError('Qwen2.5-0.5B', url, 403),
    httpError('Qwen2.5-0.5B', url, 503),
    httpError('Qwen2.5-0.5B', url, 418),
    networkError('Qwen2.5-0.5B', url, new TypeError('Failed to fetch')),
    interruptedError('Qwen2.5-0.5B', 240e6, 676e6, new TypeError('network error.')),
    quotaError('Qwen2.5-0.5B', 400e6),
    sizeMismatchError('Qwen2.5-0.5B', 10, 9),
    unstableServerError('Qwen2.5-0.5B', 'the file changed (new ETag)'),
    busyError('Qwen2.5-0.5B'),
    storageUnavailableError(),
    storageFailedError('Qwen2.5-0.5B', new DOMException('It broke.', 'InvalidStateError')),
  ];

  it('are DownloadErrors of one sentence: what went wrong; what to do', () => {
    for (const error of all) {
      expect(error).toBeInstanceOf(DownloadError);
      expect(error.name).toBe('DownloadError');
      expect(error.message).toMatch(/^[A-Z][^;]*; [^;]+\.$/);
      expect(error.message).not.toMatch(/\.\./);
    }
  });

  it('say how much did not fit and where a download stopped', () => {
    expect(quotaError('Qwen2.5-0.5B', 400e6).message).toBe(
      'Not enough browser storage to keep Qwen2.5-0.5B (400 MB); clear the model cache or free disk space, then try again.',
    );
    expect(interruptedError('Qwen2.5-0.5B', 240e6, 676e6, new TypeError('network error')).message).toMatch(/after 240 MB of 676 MB \(network error\);/);
    expect(networkError('X', url, new TypeError('Failed to fetch')).message).toMatch(/huggingface\.co allows downloads/);
  });

  it('formats sizes in decimal units', () => {
    expect([0, 999, 1000, 1536000, 676e6, 1.321e9, 12.5e9].map(formatBytes)).toEqual(['0 bytes', '999 bytes', '1 kB', '1.5 MB', '676 MB', '1.3 GB', '12.5 GB']);
  });

  it('make cancellation an AbortError DOMException, keeping an abort reason that is one', () => {
    const controller = new AbortController();
    controller.abort();
    expect(abortError(controller.signal)).toBe(controller.signal.reason);
    const custom = new AbortController();
    custom.abort('user pressed stop');
    const error = abortError(custom.signal);
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('AbortError');
    expect(error).not.toBeInstanceOf(DownloadError);
  });
});
