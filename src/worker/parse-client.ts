// The page's side of the file-parsing worker: one module worker per file, ended as soon as it
// answers, so a large parse's memory goes with it and a newer file can stop an older one's parse.

import { checkRequestsSize } from '../attacks/requests';
import { checkTraceSize } from '../lab/trace';
import { WorkerError } from './client';
import { FileReadError, traceFromPieces, type ParseKind, type ParseRequest, type ParseResponse, type ParseValue } from './parse-protocol';

export interface ParseCall<T> {
  readonly result: Promise<T>;
  /** Stops the parse; `result` rejects with an AbortError. */
  cancel(): void;
}

/**
 * Parses `request.file` in a fresh worker. The size cap is checked here first, so a file over it
 * is refused at once, without starting a worker or reading a byte.
 */
export function parseInWorker<K extends ParseKind>(request: Extract<ParseRequest, { kind: K }>): ParseCall<ParseValue[K]> {
  try {
    const checked: ParseRequest = request;
    if (checked.kind === 'trace') checkTraceSize(checked.file.size);
    else checkRequestsSize(checked.file.size, checked.fileName);
  } catch (error) {
    return { result: Promise.reject(error as Error), cancel: () => undefined };
  }
  const worker = new Worker(new URL('./parse.worker.ts', import.meta.url), { type: 'module', name: `slip-lab-parse-${request.kind}` });
  let stopped = false;
  let fail: (error: Error) => void = () => undefined;
  const result = new Promise<ParseValue[K]>((resolve, reject) => {
    fail = (error) => {
      stopped = true;
      worker.terminate();
      reject(error);
    };
    worker.onmessage = (event: MessageEvent<ParseResponse>) => {
      worker.terminate();
      const response = event.data;
      if (!response.ok) reject(new WorkerError(response.error));
      else if (response.kind === 'requests') resolve(response.value as ParseValue[K]);
      else
        traceFromPieces(response.pieces, () => stopped).then((trace) => {
          if (trace) resolve(trace as ParseValue[K]);
        }, reject);
    };
    worker.onerror = (event) => {
      // Handled here: the error becomes the sentence below, not an uncaught error in the console.
      event.preventDefault();
      fail(new FileReadError(`The file reader stopped (${event.message || 'no reason given'}); reload the page and choose the file again.`));
    };
    worker.onmessageerror = () => fail(new FileReadError('The file was read but could not be handed to the page; reload the page and choose the file again.'));
  });
  worker.postMessage(request);
  return { result, cancel: () => fail(new DOMException('A newer file replaced this one.', 'AbortError')) };
}
