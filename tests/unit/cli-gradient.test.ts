// The `gradient` CLI as a user runs it (a child process): the loss and ∂L/∂e of every prompt
// position match the float64 reference's backward — on Gemma 2, whose √nEmbd embedding scale the
// gradient must not include, at T = 1 and with --attn-temperature on some layers; bad input gives
// one stderr line and a non-zero exit.

import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGguf } from '../../src/gguf/reader';
import { pathSource } from '../../src/gguf/source-node';
import { referenceGradient } from '../../src/reference/backward';
import { loadReferenceModel, type ReferenceModel } from '../../src/reference/forward';
import { presets, randomModel } from '../fixtures/models';
import { randomTokens } from '../support/model';
import { runCli, type CliRun } from '../support/cli';

const spec = { ...presets.tinyGemma2, weightType: 'Q8_0' } as const;
const prompt = randomTokens(9, spec.vocabSize, 21);
const target = randomTokens(3, spec.vocabSize, 22);
let modelPath: string;
let reference: ReferenceModel;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-gradient-'));
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

interface GradientJson {
  loss: number;
  grad: number[][];
}

function parseSuccess(run: CliRun): GradientJson {
  expect(run.stderrLines, 'stderr of a successful run').toEqual([]);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as GradientJson;
}

/** ‖got − want‖ / ‖want‖ over every prompt position. */
function relativeNormError(got: number[][], want: Float64Array[]): number {
  let diff = 0;
  let ref = 0;
  want.forEach((row, i) => row.forEach((v, j) => ((diff += (got[i][j] - v) ** 2), (ref += v * v))));
  return Math.sqrt(diff / ref);
}

function expectFailure(run: CliRun, code: number, pattern: RegExp) {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  expect(run.stderrLines).toHaveLength(1);
  expect(run.stderrLines[0]).toMatch(pattern);
}

describe('cli gradient', () => {
  it('prints the loss and one gradient row per prompt token, as the reference computes them (npm run cli)', async () => {
    const got = parseSuccess(await runCli(['gradient', '--model', modelPath, '--tokens', prompt.join(','), '--target', target.join(',')], true));
    const want = referenceGradient(reference, prompt, target);
    expect(got.grad).toHaveLength(prompt.length);
    got.grad.forEach((row) => expect(row).toHaveLength(spec.nEmbd));
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-4 * want.loss);
    expect(relativeNormError(got.grad, want.grad)).toBeLessThan(1e-3);
  });

  it('--attn-temperature on layers 1-2 changes the gradient to the sharpened reference', async () => {
    const got = parseSuccess(
      await runCli(['gradient', '--model', modelPath, '--tokens', prompt.join(','), '--target', target.join(','), '--attn-temperature', '0.5', '--layers', '1-2']),
    );
    const { nLayer, nHead } = reference.config;
    const temperature = new Float64Array(nLayer * nHead).fill(1).fill(0.5, nHead);
    const sharpened = referenceGradient(reference, prompt, target, { attentionTemperature: temperature });
    const plain = referenceGradient(reference, prompt, target);
    expect(relativeNormError(got.grad, sharpened.grad)).toBeLessThan(1e-3);
    expect(relativeNormError(got.grad, plain.grad)).toBeGreaterThan(1e-2);
  });

  it('bad input: one sentence on stderr each', async () => {
    const base = ['gradient', '--model', modelPath, '--tokens', prompt.join(',')];
    expectFailure(await runCli(base), 2, /--target <ids> is required/);
    expectFailure(await runCli([...base, '--target', '']), 2, /--target needs at least one token id/);
    expectFailure(await runCli([...base, '--target', `${spec.vocabSize}`]), 1, /outside this model's vocabulary/);
    const long = randomTokens(spec.contextLength + 4, spec.vocabSize, 5).join(',');
    expectFailure(await runCli(['gradient', '--model', modelPath, '--tokens', long, '--target', '5']), 1, /too long for a gradient; keep prompt \+ target within \d+ tokens/);
  });
});
