// `forward`: run token ids through a GGUF model on WebGPU and print logits, greedy tokens and
// (optionally) the prompt's attention maps as one JSON object — the contract tests rely on.

import type { GenerateResult, LoadedModel } from '../engine/api';
import { configFromGguf, type ModelConfig } from '../engine/config';
import { EngineInputError } from '../errors';
import { loadModel } from '../engine/model';
import { openGguf } from '../gguf/reader';
import { pathSource } from '../gguf/source-node';
import { UsageError, parseOptions, type CliCommand } from './command';
import { cliTemperatures, sharpeningOptions } from './options';
import { openNodeGpu } from './node-gpu';

const USAGE =
  'forward --model <file.gguf> --tokens 1,5,9 [--generate N] [--attn-temperature T [--layers a-b]] [--export-attention]';

const HELP = `Usage: npm run --silent cli -- ${USAGE}

Runs the prompt through the model on WebGPU (Dawn; SwiftShader on a CPU-only machine) and prints
one JSON object on stdout:

  {
    "prompt":    [ids],                  the --tokens
    "generated": [ids],                  greedy continuation, --generate of them
    "logits":    [[f32 × vocab], …],     one vector per generated step: the distribution each
                                         generated token was picked from. With --generate 0 (the
                                         default) there is exactly one vector: the next-token
                                         logits after the last prompt token.
    "attention": [layer][head][query][key]
                                         softmax probabilities over the prompt (query, key <
                                         prompt length; 0 where key > query). Only with
                                         --export-attention.
  }

Options:
  --model <file.gguf>      GGUF model (llama or qwen2; F32, F16, Q8_0 or Q4_0 weights)
  --tokens <ids>           comma-separated token ids, e.g. 1,5,9
  --generate <N>           greedy tokens to generate (default 0)
  --attn-temperature <T>   attention softmax temperature, softmax(q·k / (sqrt(d)·T)); T < 1
                           sharpens. Applies to every head of every layer, or only to
                           --layers a-b (inclusive, 0-based; "3" means 3-3)
  --export-attention       add the prompt's attention maps
  -h, --help               this text

Errors print one line on stderr and exit with status 1 (2 for wrong arguments).`;

interface ForwardArgs {
  readonly model: string;
  readonly tokens: number[];
  readonly generate: number;
  readonly attentionTemperature?: number;
  /** Inclusive layer range the temperature applies to; absent = all layers. */
  readonly layers?: { readonly first: number; readonly last: number };
  readonly exportAttention: boolean;
}

export function nonNegativeInteger(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${what} must be a non-negative integer, got "${text}".`);
  return Number(text.trim());
}

function parseForwardArgs(args: readonly string[]): ForwardArgs | 'help' {
  const values = parseOptions(args, {
    model: { type: 'string' },
    tokens: { type: 'string' },
    generate: { type: 'string' },
    'attn-temperature': { type: 'string' },
    layers: { type: 'string' },
    'export-attention': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (!values.model) throw new UsageError('--model <file.gguf> is required.');
  const tokens = tokenList(values.tokens, '--tokens');
  const generate = values.generate === undefined ? 0 : nonNegativeInteger(values.generate, '--generate');

  const { attentionTemperature, layers } = sharpeningOptions(values);
  return { model: values.model, tokens, generate, attentionTemperature, layers, exportAttention: values['export-attention'] ?? false };
}

/** Comma-separated token ids of a required option. */
export function tokenList(text: string | undefined, option: string): number[] {
  if (text === undefined) throw new UsageError(`${option} <ids> is required.`);
  if (text.trim() === '') throw new UsageError(`${option} needs at least one token id.`);
  return text.split(',').map((t) => nonNegativeInteger(t, `Each ${option} entry`));
}

/** Checks token ids and a layer range against the model's shape, so mistakes surface before the GPU starts. */
export function checkAgainstModel(args: { tokens: readonly number[]; layers?: { first: number; last: number } }, config: ModelConfig): void {
  const bad = args.tokens.find((t) => t >= config.vocabSize);
  if (bad !== undefined) throw new EngineInputError(`Token id ${bad} is outside this model's vocabulary of ${config.vocabSize}.`);
  if (args.layers && args.layers.last >= config.nLayer)
    throw new UsageError(`--layers ${args.layers.first}-${args.layers.last} is outside this model's layers 0-${config.nLayer - 1}.`);
}

/** The shortest decimal that reads back as the same float32 (≤ 9 significant digits instead of 17). */
function compactFloat(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  for (let digits = 6; digits < 9; digits++) {
    const shorter = Number(value.toPrecision(digits));
    if (Math.fround(shorter) === value) return shorter;
  }
  return Number(value.toPrecision(9));
}

export const compactArray = (values: Float32Array): number[] => Array.from(values, compactFloat);

/** attention[l][h][q][k] over the prompt from rows laid out (nLayer, nSlots, nHead, keys). */
function promptAttention(result: GenerateResult, config: ModelConfig): number[][][][] {
  const rows = result.attention!.rows;
  const P = result.prompt.length;
  const nSlots = rows.queries.length;
  const { nLayer, nHead } = config;
  const slotOfQuery = Array.from({ length: P }, (_, q) => {
    const slot = rows.queries.indexOf(q);
    if (slot < 0) throw new Error(`the engine exported no attention row for prompt position ${q}`);
    return slot;
  });
  return Array.from({ length: nLayer }, (_, l) =>
    Array.from({ length: nHead }, (_, h) =>
      slotOfQuery.map((slot) => {
        const start = ((l * nSlots + slot) * nHead + h) * rows.keys;
        return compactArray(rows.data.subarray(start, start + P));
      }),
    ),
  );
}

/**
 * Opens the model file, checks it (and `check` the arguments against its config) before starting
 * the GPU (a second or two on SwiftShader), loads it, applies the temperature, runs `work`, and
 * releases everything.
 */
export async function withModel<T>(
  path: string,
  sharpening: { attentionTemperature?: number; layers?: { first: number; last: number } },
  check: (config: ModelConfig) => void,
  work: (model: LoadedModel) => Promise<T>,
): Promise<T> {
  const source = await pathSource(path);
  let ctx;
  try {
    check(configFromGguf(await openGguf(source)));
    ctx = await openNodeGpu();
  } catch (e) {
    await source.close?.();
    throw e;
  }
  let model: LoadedModel | undefined;
  try {
    model = await loadModel(ctx, source);
    if (sharpening.attentionTemperature !== undefined)
      model.setAttentionTemperature(cliTemperatures(sharpening.attentionTemperature, sharpening.layers, model.config));
    return await work(model);
  } finally {
    model?.dispose();
    ctx.destroy();
  }
}

async function runForward(args: ForwardArgs): Promise<string> {
  return withModel(args.model, args, (config) => checkAgainstModel(args, config), async (model) => {
    const result = await model.generate(args.tokens, {
      maxNewTokens: args.generate,
      logits: 'generated',
      attention: args.exportAttention ? { rows: 'all-prompt' } : undefined,
    });
    const output: Record<string, unknown> = {
      prompt: result.prompt,
      generated: result.generated,
      logits: result.logits.map(compactArray),
    };
    if (args.exportAttention) output.attention = promptAttention(result, model.config);
    return `${JSON.stringify(output)}\n`;
  });
}

export const forwardCommand: CliCommand = {
  name: 'forward',
  summary: 'run token ids through a model; print logits, greedy tokens and attention as JSON',
  usage: USAGE,
  help: HELP,
  async run(argv) {
    const args = parseForwardArgs(argv);
    return args === 'help' ? `${HELP}\n` : runForward(args);
  },
};
