// `gradient`: the mean cross-entropy of target tokens after a prompt, and its gradient with respect
// to every prompt position's input embedding, computed by the engine's WGSL backward pass, as one
// JSON object — the contract tests and acceptance checks rely on.

import { compactArray, checkAgainstModel, tokenList, withModel } from './forward';
import { UsageError, parseOptions, type CliCommand } from './command';
import { sharpeningOptions } from './options';

const USAGE = 'gradient --model <file.gguf> --tokens 1,5,9 --target 7,8 [--attn-temperature T [--layers a-b]]';

const HELP = `Usage: npm run --silent cli -- ${USAGE}

Runs prompt + target through the model on WebGPU, then the backward pass, and prints one JSON
object on stdout:

  {
    "loss": number,                 L = mean over the target of −log p(target_i | prompt, target_<i)
    "grad": [[f32 × nEmbd], …]      ∂L/∂e for each prompt position (one row per --tokens id): the
                                    gradient with respect to the looked-up embedding row, before
                                    any scale the architecture applies (Gemma's √nEmbd), what
                                    Hugging Face transformers calls inputs_embeds
  }

Options:
  --model <file.gguf>      GGUF model
  --tokens <ids>           the prompt: comma-separated token ids, e.g. 1,5,9
  --target <ids>           the target tokens that follow the prompt, e.g. 7,8
  --attn-temperature <T>   attention softmax temperature (see forward --help); every head of
                           every layer, or only --layers a-b (inclusive, 0-based)
  -h, --help               this text

Errors print one line on stderr and exit with status 1 (2 for wrong arguments).`;

interface GradientArgs {
  readonly model: string;
  readonly tokens: number[];
  readonly target: number[];
  readonly attentionTemperature?: number;
  readonly layers?: { readonly first: number; readonly last: number };
}

function parseGradientArgs(args: readonly string[]): GradientArgs | 'help' {
  const values = parseOptions(args, {
    model: { type: 'string' },
    tokens: { type: 'string' },
    target: { type: 'string' },
    'attn-temperature': { type: 'string' },
    layers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (!values.model) throw new UsageError('--model <file.gguf> is required.');
  const tokens = tokenList(values.tokens, '--tokens');
  const target = tokenList(values.target, '--target');
  return { model: values.model, tokens, target, ...sharpeningOptions(values) };
}

async function runGradient(args: GradientArgs): Promise<string> {
  const check = { tokens: [...args.tokens, ...args.target], layers: args.layers };
  return withModel(args.model, args, (config) => checkAgainstModel(check, config), async (model) => {
    const { loss, grad } = await model.gradient(args.tokens, args.target);
    const n = model.config.nEmbd;
    const rows = args.tokens.map((_, i) => compactArray(grad.subarray(i * n, (i + 1) * n)));
    return `${JSON.stringify({ loss, grad: rows })}\n`;
  });
}

export const gradientCommand: CliCommand = {
  name: 'gradient',
  summary: 'the target cross-entropy after a prompt and its gradient for the prompt embeddings, as JSON',
  usage: USAGE,
  help: HELP,
  async run(argv) {
    const args = parseGradientArgs(argv);
    return args === 'help' ? `${HELP}\n` : runGradient(args);
  },
};
