// Our engine in Node (Dawn) for the browser bench's table: runs `npm run bench` on the same shape,
// prompt length and decode steps, and reads the prefill and decode columns of its table.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EngineFigures } from './protocol';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** bench/engine.ts prints its table with cells two or more spaces apart (header names have single spaces). */
const cells = (line: string) => line.trim().split(/\s{2,}/);

/** The run's output, each line echoed through `echo` as it comes. */
function runNodeBench(args: readonly string[], echo: (line: string) => void): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        lines.push(line);
        echo(line);
      }
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (pending) lines.push(pending);
      if (code === 0) resolve(lines);
      else reject(new Error(`npm run bench exited with ${code}: ${stderr.trim().split('\n').at(-1) ?? 'no message'}`));
    });
  });
}

export async function nodeEngineFigures(model: string, promptTokens: number, decodeSteps: number, echo: (line: string) => void): Promise<EngineFigures> {
  const lines = await runNodeBench(['--models', model, '--prompt', String(promptTokens), '--decode', String(decodeSteps)], echo);
  const headerAt = lines.findIndex((line) => line.includes('prefill tok/s') && line.includes('decode tok/s'));
  if (headerAt < 0) throw new Error('npm run bench printed no table with "prefill tok/s" and "decode tok/s" columns; has its output changed?');
  const header = cells(lines[headerAt]);
  const row = lines.slice(headerAt + 2).map(cells).find((r) => r[0] === model);
  if (!row) throw new Error(`npm run bench printed no row for ${model}.`);
  const column = (name: string) => {
    const value = Number(row[header.indexOf(name)]);
    if (!Number.isFinite(value)) throw new Error(`npm run bench printed no number in its "${name}" column.`);
    return value;
  };
  const adapter = lines.find((line) => line.startsWith('adapter: '))?.slice('adapter: '.length).replace(/ \(software.*$/, '') ?? 'unknown adapter';
  const loaded = lines.map((line) => /loaded: .* in ([\d.]+) s/.exec(line)).find((m) => m !== null);
  return {
    engine: 'ours (Node Dawn)',
    device: adapter,
    promptTokens: column('prompt'),
    prefillSeconds: column('prompt') / column('prefill tok/s'),
    decodeSteps: column('decode steps'),
    decodeSecondsPerToken: 1 / column('decode tok/s'),
    loadSeconds: loaded ? Number(loaded[1]) : NaN,
  };
}
