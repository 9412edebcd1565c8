// Parses one file the user chose (a trace or a requests file) off the main thread: the page keeps
// drawing while a large trace is read, parsed and validated. One worker per file (parse-client.ts).

import { parseRequestsBlob } from '../attacks/requests';
import { SlipLabError } from '../errors';
import { parseTraceFile } from '../lab/trace';
import { excerpt } from '../util/json-guard';
import { FileReadError, tracePieces, type ParseRequest, type ParseResponse } from './parse-protocol';

const post = (message: ParseResponse) => self.postMessage(message);

/** The file's text; a failed read (the file was moved, or permission was revoked) becomes a FileReadError. */
function readable(file: Blob): Pick<Blob, 'size' | 'text'> {
  return {
    size: file.size,
    text: () =>
      file.text().catch((error: unknown) => {
        throw new FileReadError(`The browser could not read the file (${(error as Error).message || 'no reason given'}); choose it again.`, { cause: error });
      }),
  };
}

self.onmessage = async (event: MessageEvent<ParseRequest>) => {
  const request = event.data;
  try {
    if (request.kind === 'trace') post({ ok: true, kind: 'trace', pieces: tracePieces(await parseTraceFile(readable(request.file))) });
    else post({ ok: true, kind: 'requests', value: await parseRequestsBlob(readable(request.file), request.fileName, request.language) });
  } catch (error) {
    // Our errors carry their sentence; anything else (a bug, the engine out of memory) gets one.
    const { name, message } =
      error instanceof SlipLabError
        ? error
        : new FileReadError(`The file could not be read (${excerpt(String((error as Error)?.message ?? error), 160)}); choose a file written by Attention Slip Lab, or reload the page.`);
    post({ ok: false, error: { name, message } });
  }
};
