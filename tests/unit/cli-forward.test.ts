// The `forward` CLI as a user runs it (a child process): JSON logits, greedy tokens and attention
// maps match the float64 reference; bad input gives one stderr line and a non-zero exit.

import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGguf } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';
import { loadReferenceModel, referenceForward, type ReferenceModel } from '../../src/reference/forward';
import { presets, randomModel } from '../fixtures/models';
import { argmax, randomTokens, relativeError } from '../support/model';
import { runCli, type CliRun } from '../support/cli';


interface ForwardJson {
  prompt: number[];
  generated: number[];
  logits: number[][];
  attention?: number[][][][];
}

function parseSuccess(run: CliRun): ForwardJson {
  expect(run.stderrLines, 'stderr of a successful run').toEqual([]);
  expect(run.code).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as ForwardJson;
}

/** Largest |cli − reference| over attention[l][h][q][k] for q, k < prompt length. */
function attentionError(got: number[][][][], want: Float64Array[][][], promptLength: number): number {
  expect(got).toHaveLength(want.length);
  let worst = 0;
  want.forEach((layer, l) => {
    expect(got[l]).toHaveLength(layer.length);
    layer.forEach((head, h) => {
      expect(got[l][h]).toHaveLength(promptLength);
      for (let q = 0; q < promptLength; q++) {
        expect(got[l][h][q]).toHaveLength(promptLength);
        for (let k = 0; k < promptLength; k++) worst = Math.max(worst, Math.abs(got[l][h][q][k] - head[q][k]));
      }
    });
  });
  return worst;
}

const spec = { ...presets.tinyQwen2, weightType: 'Q8_0' } as const;
const prompt = randomTokens(7, spec.vocabSize, 11);
let modelPath: string;
let reference: ReferenceModel;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-forward-'));
  // A private copy: the shared fixture cache may be cleared by another run meanwhile.
  modelPath = join(scratch, 'model.gguf');
  await copyFile(await randomModel(spec), modelPath);
  const source = await pathSource(modelPath);
  try {
    reference = await loadReferenceModel(await openGguf(source));
  } finally {
    await source.close?.();
  }
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('cli forward', () => {
  let plain: ForwardJson;

  it('prints the next-token logits and the prompt attention of the reference (npm run cli)', async () => {
    plain = parseSuccess(await runCli(['forward', '--model', modelPath, '--tokens', prompt.join(','), '--export-attention'], true));
    const want = referenceForward(reference, prompt);
    expect(plain.prompt).toEqual(prompt);
    expect(plain.generated).toEqual([]);
    expect(plain.logits).toHaveLength(1);
    expect(plain.logits[0]).toHaveLength(spec.vocabSize);
    expect(relativeError(plain.logits[0], want.logits[prompt.length - 1])).toBeLessThanOrEqual(1e-4);
    expect(attentionError(plain.attention!, want.attention, prompt.length)).toBeLessThanOrEqual(1e-5);
  });

  it('applies --attn-temperature to the --layers range only', async () => {
    const sharp = parseSuccess(
      await runCli(['forward', '--model', modelPath, '--tokens', prompt.join(','), '--export-attention', '--attn-temperature', '0.5', '--layers', '1-1']),
    );
    const temperature = new Float64Array(spec.nLayer * spec.nHead).fill(1);
    temperature.fill(0.5, 1 * spec.nHead, 2 * spec.nHead);
    const want = referenceForward(reference, prompt, { attentionTemperature: temperature });
    expect(relativeError(sharp.logits[0], want.logits[prompt.length - 1])).toBeLessThanOrEqual(1e-4);
    expect(attentionError(sharp.attention!, want.attention, prompt.length)).toBeLessThanOrEqual(1e-5);
    // The flag did something: layer 1 sharpened, layer 0 untouched.
    const change = (l: number) => Math.max(...sharp.attention![l].flat(2).map((p, i) => Math.abs(p - plain.attention![l].flat(2)[i])));
    expect(change(1)).toBeGreaterThan(1e-2);
    expect(change(0)).toBeLessThanOrEqual(1e-6);
  });

  it('--generate 4 picks the reference argmax at every step', async () => {
    const run = parseSuccess(await runCli(['forward', '--model', modelPath, '--tokens', prompt.join(','), '--generate', '4', '--export-attention']));
    expect(run.generated).toHaveLength(4);
    expect(run.logits).toHaveLength(4);
    // Teacher-forced reference over prompt + generated: position P-1+i predicts generated[i].
    const want = referenceForward(reference, [...prompt, ...run.generated]);
    run.generated.forEach((token, i) => {
      const refLogits = want.logits[prompt.length - 1 + i];
      expect(token, `generated token ${i}`).toBe(argmax(refLogits));
      expect(relativeError(run.logits[i], refLogits), `logits of step ${i}`).toBeLessThanOrEqual(1e-4);
    });
    expect(attentionError(run.attention!, want.attention, prompt.length)).toBeLessThanOrEqual(1e-5);
  });

  describe('bad input: non-zero exit, nothing on stdout, one line on stderr', () => {
    const expectOneLineFailure = (run: CliRun, pattern: RegExp) => {
      expect(run.code).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(run.stdout).toBe('');
      expect(run.stderrLines).toHaveLength(1);
      expect(run.stderrLines[0]).toMatch(pattern);
    };

    it('a file that is not GGUF', async () => {
      const path = join(scratch, 'random.gguf');
      const bytes = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
      await writeFile(path, bytes);
      expectOneLineFailure(await runCli(['forward', '--model', path, '--tokens', '1,2']), /not a GGUF file/);
    });

    it('a truncated GGUF', async () => {
      const whole = await readFile(modelPath);
      const path = join(scratch, 'half.gguf');
      await writeFile(path, whole.subarray(0, whole.length >> 1));
      expectOneLineFailure(await runCli(['forward', '--model', path, '--tokens', '1,2']), /truncated|cut short/);
    });

    it('a token id outside the vocabulary', async () => {
      expectOneLineFailure(await runCli(['forward', '--model', modelPath, '--tokens', `1,${spec.vocabSize}`]), /outside/);
    });

    it('a missing --model', async () => {
      expectOneLineFailure(await runCli(['forward', '--tokens', '1,2']), /--model.*Usage:/);
    });

    it('an unknown flag', async () => {
      expectOneLineFailure(await runCli(['forward', '--model', modelPath, '--tokens', '1', '--temperature', '2']), /--temperature.*Usage:/);
    });
  });
});
