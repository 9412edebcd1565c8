// What every CLI subcommand provides, and the error for arguments the user got wrong.

export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** One line: the synopsis, repeated after any usage error. */
  readonly usage: string;
  /** Full --help text. */
  readonly help: string;
  /** Runs with the arguments after the subcommand name; resolves to the text for stdout. */
  run(args: readonly string[]): Promise<string>;
}

/** Bad or missing command-line arguments: printed with the command's usage line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** node:util parseArgs failures carry a code starting with ERR_PARSE_ARGS. */
export function isParseArgsError(e: unknown): e is Error {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
