// Words for numbers and errors the user reads: byte sizes, and any thrown value as a name and one sentence.

/** Decimal units, as download sizes are usually shown: 1 536 000 → "1.5 MB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes} bytes`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}

/** An error for the user: its class name (which picks a translated headline) and its one sentence. */
export interface ErrorFacts {
  readonly name: string;
  readonly message: string;
}

/** Any thrown value as `ErrorFacts`; something that is not an Error with a message still gets a sentence. */
export function errorFacts(error: unknown): ErrorFacts {
  if (error instanceof Error && error.message) return { name: error.name, message: error.message };
  return { name: 'Error', message: `Something went wrong (${String(error)}); reload the page and try again.` };
}
