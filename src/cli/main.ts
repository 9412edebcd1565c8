// CLI entry (`npm run --silent cli -- <command> …`): dispatches to a subcommand, prints its
// stdout text, turns any failure into one line on stderr, and exits even if Dawn keeps running.

import { SlipLabError } from '../errors';
import { UsageError, type CliCommand } from './command';
import { analyzeCommand } from './analyze';
import { evalCommand } from './eval';
import { forwardCommand } from './forward';
import { gradientCommand } from './gradient';

const COMMANDS: readonly CliCommand[] = [forwardCommand, gradientCommand, analyzeCommand, evalCommand];

const HELP = `Attention Slip Lab command line.

Usage: npm run --silent cli -- <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Run "npm run --silent cli -- <command> --help" for a command's options.`;

/** Exit status: 0 ok, 1 the run failed, 2 the arguments were wrong. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

function describeFailure(error: unknown, command: CliCommand | undefined): { line: string; code: number } {
  if (error instanceof UsageError) {
    const usage = command ? `npm run --silent cli -- ${command.usage}` : 'npm run --silent cli -- <command> [options] (try --help)';
    return { line: oneLine(`${error.message} Usage: ${usage}`), code: EXIT_USAGE };
  }
  if (error instanceof SlipLabError) return { line: oneLine(error.message), code: EXIT_FAILURE };
  const message = error instanceof Error ? error.message : String(error);
  return { line: oneLine(`Unexpected error: ${message || String(error)}; this is probably a bug in Attention Slip Lab, please report it.`), code: EXIT_FAILURE };
}

async function run(argv: readonly string[]): Promise<{ stdout: string; command?: CliCommand }> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') return { stdout: `${HELP}\n` };
  if (name === undefined) throw new UsageError('No command given.');
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`Unknown command "${name}"; the commands are: ${COMMANDS.map((c) => c.name).join(', ')}.`);
  try {
    return { stdout: await command.run(rest), command };
  } catch (e) {
    throw Object.assign(new CommandFailure(), { error: e, command });
  }
}

/** Carries which command failed, so a usage error can print that command's synopsis. */
class CommandFailure {
  error: unknown;
  command: CliCommand | undefined;
}

/** Writes, waits until the bytes reach the pipe or file, then exits: Dawn's threads would keep Node alive. */
function finish(stream: NodeJS.WriteStream, text: string, code: number): void {
  if (text.length === 0) process.exit(code);
  stream.write(text, () => process.exit(code));
}

try {
  const { stdout } = await run(process.argv.slice(2));
  finish(process.stdout, stdout, 0);
} catch (e) {
  const { error, command } = e instanceof CommandFailure ? e : { error: e, command: undefined };
  const { line, code } = describeFailure(error, command);
  finish(process.stderr, `${line}\n`, code);
}
