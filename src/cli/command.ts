// What every CLI subcommand provides, the error for arguments the user got wrong, and option parsing.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

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

/**
 * A command's options (`--name value`, no positionals), parsed strictly by node:util; an unknown
 * option or a missing value becomes a UsageError.
 */
export function parseOptions<const O extends ParseArgsOptionsConfig>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], strict: true, allowPositionals: false, options }).values;
  } catch (e) {
    if (isParseArgsError(e)) throw new UsageError(e.message.split('\n')[0]);
    throw e;
  }
}

/** node:util parseArgs failures carry a code starting with ERR_PARSE_ARGS. */
function isParseArgsError(e: unknown): e is Error {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
