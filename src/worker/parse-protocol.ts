// The tiny protocol of the file-parsing worker (parse.worker.ts): one file in, one parsed value or
// one error out. Apart from the engine worker's, because that one may be busy running a model or
// absent (no WebGPU) when the user opens a trace.

import type { EvalRequest } from '../attacks/requests';
import type { Language } from '../attacks/types';
import { SlipLabError } from '../errors';
import type { Trace, TraceRun } from '../lab/trace';
import type { WireError } from './protocol';

/** The browser could not read the chosen file, or the reader stopped before it answered. */
export class FileReadError extends SlipLabError {}

export type ParseRequest =
  | { readonly kind: 'trace'; readonly file: Blob }
  | { readonly kind: 'requests'; readonly file: Blob; readonly fileName: string; readonly language: Language };

export type ParseKind = ParseRequest['kind'];

/** What each kind of file parses to. */
export interface ParseValue {
  trace: Trace;
  requests: EvalRequest[];
}

/**
 * A validated trace as JSON text in pieces: the header, then each step and its defended run. The
 * page rebuilds it one piece per task, so a 70 MB trace never blocks it for long. Why text and not
 * the object: the page decodes a structured clone of nested number arrays about twice as slowly as
 * it parses their JSON (2.3 s against 1.2 s for a 54 MB trace), and all in one task.
 */
export interface TracePieces {
  readonly header: string;
  readonly steps: readonly { readonly step: string; readonly defended?: string }[];
}

export type ParseResponse =
  | { readonly ok: true; readonly kind: 'trace'; readonly pieces: TracePieces }
  | { readonly ok: true; readonly kind: 'requests'; readonly value: EvalRequest[] }
  | { readonly ok: false; readonly error: WireError };

export function tracePieces(trace: Trace): TracePieces {
  const { steps, ...header } = trace;
  return {
    header: JSON.stringify(header),
    steps: steps.map(({ defended, ...step }) => ({ step: JSON.stringify(step), ...(defended ? { defended: JSON.stringify(defended) } : {}) })),
  };
}

/** The trace again, one JSON.parse per task; `stopped` ends it early (a newer file was chosen). */
export async function traceFromPieces(pieces: TracePieces, stopped: () => boolean): Promise<Trace | undefined> {
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
  const trace = { ...(JSON.parse(pieces.header) as Omit<Trace, 'steps'>), steps: [] as Trace['steps'] };
  for (const piece of pieces.steps) {
    await nextTask();
    if (stopped()) return undefined;
    const step = JSON.parse(piece.step) as Trace['steps'][number];
    if (piece.defended !== undefined) {
      await nextTask();
      if (stopped()) return undefined;
      step.defended = JSON.parse(piece.defended) as TraceRun;
    }
    trace.steps.push(step);
  }
  return trace;
}
