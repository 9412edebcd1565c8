// The Trace file format (version 1): reading a file with one-sentence errors (size and depth checked
// before parsing), and serialising. The schema and types are in trace-schema.ts, re-exported here.

import { describeIssue } from '../util/describe-issue';
import { formatBytes } from '../util/format';
import { excerpt, firstTooDeep } from '../util/json-guard';
import { TRACE_MAX_BYTES, TRACE_MAX_DEPTH, TRACE_VERSION, TraceFormatError, traceSchema, type Trace } from './trace-schema';

export * from './trace-schema';

/** Refuses a trace file over TRACE_MAX_BYTES; call it with the file's size before reading it. */
export function checkTraceSize(bytes: number): void {
  if (bytes > TRACE_MAX_BYTES) {
    throw new TraceFormatError(
      `This file is ${formatBytes(bytes)}, more than the ${formatBytes(TRACE_MAX_BYTES)} a trace may have (the longest attack the lab runs writes about 70 MB); choose a trace .json file written by Attention Slip Lab.`,
    );
  }
}

/** Reads a trace file: its size is checked first, so an oversized file is never read into memory. */
export async function parseTraceFile(file: Pick<Blob, 'size' | 'text'>): Promise<Trace> {
  checkTraceSize(file.size);
  return parseTrace(await file.text());
}

/** A JSON value named for a sentence: short primitives verbatim, anything else by its kind. */
function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  return excerpt(JSON.stringify(value) ?? String(value));
}

/** Reads a Trace from JSON text, or throws a TraceFormatError naming the first problem. */
export function parseTrace(jsonText: string): Trace {
  // Characters, not bytes, but the same cap: the text may come from somewhere other than a file.
  checkTraceSize(jsonText.length);
  const deep = firstTooDeep(jsonText, TRACE_MAX_DEPTH);
  if (deep >= 0) {
    throw new TraceFormatError(
      `This file nests lists or objects more than ${TRACE_MAX_DEPTH} levels deep (at character ${deep}), which no trace does; choose a trace .json file written by Attention Slip Lab.`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(jsonText);
  } catch (error) {
    throw new TraceFormatError(
      `This file is not valid JSON (${excerpt((error as Error).message, 160)}); choose a trace .json file written by Attention Slip Lab.`,
      { cause: error },
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !('version' in data)) {
    throw new TraceFormatError(
      'This file is not an Attention Slip Lab trace (it is not a JSON object with a "version" field); choose a trace .json file written by the lab or the CLI.',
    );
  }
  const version = (data as { version: unknown }).version;
  if (version !== TRACE_VERSION) {
    throw new TraceFormatError(
      `This trace has version ${describeValue(version)}, but this build reads version ${TRACE_VERSION}; open it with the build that wrote it or export the trace again.`,
    );
  }
  const result = traceSchema.safeParse(data);
  if (!result.success) {
    throw new TraceFormatError(
      `This trace file is invalid: ${describeIssue(result.error.issues[0], data)}; fix that field or export the trace again from Attention Slip Lab.`,
    );
  }
  return result.data;
}

/**
 * The Trace as JSON text. It is validated first, so a trace that could not be read back (a NaN
 * margin, a span past the prompt) fails here, where the bug is, and not at replay.
 */
export function serializeTrace(trace: Trace, options: { pretty?: boolean } = {}): string {
  const result = traceSchema.safeParse(trace);
  if (!result.success) {
    throw new TraceFormatError(
      `Cannot save this trace because ${describeIssue(result.error.issues[0], trace)}; this is a bug in whatever built the trace, so report it with the settings used.`,
    );
  }
  return JSON.stringify(result.data, null, options.pretty ? 2 : undefined);
}

export { summaryRows, summaryCsv, summaryColumns, type SummaryRow } from './trace-csv';
