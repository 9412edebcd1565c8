// The JSON sidecar stored next to each cached file: where it came from, how big it is, the
// validators that tell whether the server's copy changed, and whether the bytes are complete.

import { z } from '../util/zod';

export const SIDECAR_VERSION = 1;

const SidecarSchema = z.object({
  version: z.literal(SIDECAR_VERSION),
  key: z.string().min(1),
  url: z.string().min(1),
  name: z.string(),
  /** Whole size from Content-Range / Content-Length; null while unknown. */
  totalBytes: z.number().int().nonnegative().nullable(),
  etag: z.string().optional(),
  lastModified: z.string().optional(),
  complete: z.boolean(),
  /** ms since the epoch */
  startedAt: z.number(),
  savedAt: z.number(),
});

export type Sidecar = z.infer<typeof SidecarSchema>;

/**
 * The sidecar in `text`, or undefined when it is missing, not JSON, or not ours (another version,
 * missing fields): the caller then treats the data file as unknown and downloads it afresh.
 */
export function parseSidecar(text: string | undefined): Sidecar | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = SidecarSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export function serializeSidecar(sidecar: Sidecar): string {
  return JSON.stringify(SidecarSchema.parse(sidecar));
}
