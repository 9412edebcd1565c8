// Test support: the command line as a user runs it, in a child process (tsx, or npm run cli).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');

/** Lines Dawn / the Vulkan loader write straight to fd 2 while probing adapters. */
const NATIVE_NOISE = ['error: XDG_RUNTIME_DIR', 'Warning: Vulkan', ' - While', '    at '];

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  /** Non-empty stderr lines, without the native noise above. */
  readonly stderrLines: string[];
}

/**
 * Starts the CLI with `args`. It gets its own process group (tsx runs the CLI in a child process,
 * so a kill must reach both: `process.kill(-child.pid, …)`).
 */
export function startCli(args: readonly string[], viaNpm = false, env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; done: Promise<CliRun> } {
  const [command, argv] = viaNpm ? ['npm', ['run', '--silent', 'cli', '--', ...args]] : [TSX, ['src/cli/main.ts', ...args]];
  const child = spawn(command, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderrLines: stderr.split('\n').filter((line) => line.trim() !== '' && !NATIVE_NOISE.some((p) => line.startsWith(p))) }),
    );
  });
  return { child, done };
}

/** Runs the CLI to the end (in `env`, by default this process's environment). */
export function runCli(args: readonly string[], viaNpm = false, env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return startCli(args, viaNpm, env).done;
}
