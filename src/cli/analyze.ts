// `analyze`: render a request through the model's chat template, run it greedily on WebGPU, and
// print the prompt's spans, the attention mass on the request, the response and its verdict.

import { massFromRows, modelMean, perLayerMean, sinkAdjusted, toNested, type LayerHeadValues } from '../analysis/mass';
import { judgeResponse, findRefusalPhrase } from '../analysis/judge';
import { refusalMargin } from '../analysis/margin';
import { rangesOfKind, spanLength } from '../analysis/spans';
import type { GenerateResult, LoadedModel } from '../engine/api';
import { configFromGguf, type ModelConfig } from '../engine/config';
import { EngineInputError } from '../errors';
import { loadModel } from '../engine/model';
import { openGguf } from '../gguf/reader';
import { pathSource } from '../gguf/source-node';
import { openerTokenIds } from '../tokenizer/openers';
import { buildPrompt, type BuiltPrompt, type PromptSegment } from '../tokenizer/prompt';
import { loadTokenizer } from '../tokenizer/source-node';
import { checkTokenizerFitsModel, DEFAULT_HUB, type ChatTokenizer } from '../tokenizer/tokenizer';
import { UsageError, parseOptions, type CliCommand } from './command';
import { cliTemperatures, sharpeningOptions } from './options';
import { openNodeGpu } from './node-gpu';

const USAGE =
  'analyze --model <file.gguf> --tokenizer <repo|dir> --request "..." [--system "..."] [--hub URL] [--attn-temperature T [--layers a-b]] [--max-new-tokens N] [--json]';

const HELP = `Usage: npm run --silent cli -- ${USAGE}

Renders the request (and optional system prompt) through the model's own chat template, runs the
model greedily on WebGPU (Dawn; SwiftShader on a CPU-only machine) and reports how much attention
the last prompt token — the query that predicts the first response token — pays to the request.

With --json, one JSON object on stdout:

  {
    "tokens":   [ids],                    the rendered prompt's token ids
    "spans":    [{ "kind", "start", "end", "text" }, …]
                                          half-open token ranges: sink (token 0), system,
                                          template (chat-format tokens), request. A token that
                                          straddles two segments belongs to both.
    "requestMass": {
      "lastPrompt":             [layer][head]  Σ over request keys of P[l][h][last prompt][k]
      "lastPromptSinkAdjusted": [layer][head]  the same divided by 1 − (mass on the sink)
      "perLayer":               [layer]        lastPrompt, mean over heads
      "model":                  number         mean over layers
      "perQuery":               [slot]         model mean for the last prompt token, then each
                                               query that predicted a generated token
    },
    "generated": [ids],                   greedy tokens (the stop token included, if reached)
    "response": "…",                      the generated text, special tokens removed
    "verdict":  "refused" | "complied",   refusal-phrase judge
    "refusalPhrase": "…" | null,
    "margin":   number                    log p(refusal first token) − log p(affirmation first
                                          token) at the last prompt token (> 0 leans to refusing)
  }

Without --json, a short readable summary.

Options:
  --model <file.gguf>      GGUF model (llama, qwen2, qwen3, gemma2 or gemma3)
  --tokenizer <repo|dir>   the model's tokenizer: a hub repo (e.g. Qwen/Qwen2.5-0.5B-Instruct) or a
                           directory with tokenizer.json and tokenizer_config.json (read locally)
  --request <text>         the request whose attention mass is measured
  --system <text>          optional system prompt
  --hub <URL>              hub base URL for repo tokenizers (default ${DEFAULT_HUB})
  --attn-temperature <T>   attention softmax temperature; T < 1 sharpens. Every layer, or only
                           --layers a-b (inclusive, 0-based)
  --max-new-tokens <N>     greedy tokens to generate (default 32)
  --json                   print JSON instead of the summary
  -h, --help               this text

Errors print one line on stderr and exit with status 1 (2 for wrong arguments).`;

const DEFAULT_MAX_NEW_TOKENS = 32;

interface AnalyzeArgs {
  readonly model: string;
  readonly tokenizer: string;
  readonly request: string;
  readonly system?: string;
  readonly hub?: string;
  readonly attentionTemperature?: number;
  readonly layers?: { readonly first: number; readonly last: number };
  readonly maxNewTokens: number;
  readonly json: boolean;
}

function parseAnalyzeArgs(args: readonly string[]): AnalyzeArgs | 'help' {
  const values = parseOptions(args, {
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    request: { type: 'string' },
    system: { type: 'string' },
    hub: { type: 'string' },
    'attn-temperature': { type: 'string' },
    layers: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (!values.model) throw new UsageError('--model <file.gguf> is required.');
  if (!values.tokenizer) throw new UsageError('--tokenizer <repo|dir> is required.');
  if (values.request === undefined || values.request.trim() === '') throw new UsageError('--request "<text>" is required and may not be empty.');
  if (values.hub !== undefined && !/^https?:\/\/\S+$/.test(values.hub)) throw new UsageError(`--hub must be an http(s) URL, got "${values.hub}".`);

  let maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
  if (values['max-new-tokens'] !== undefined) {
    const text = values['max-new-tokens'].trim();
    if (!/^\d+$/.test(text)) throw new UsageError(`--max-new-tokens must be a non-negative integer, got "${values['max-new-tokens']}".`);
    maxNewTokens = Number(text);
  }
  const { attentionTemperature, layers } = sharpeningOptions(values);
  return {
    model: values.model,
    tokenizer: values.tokenizer,
    request: values.request,
    system: values.system,
    hub: values.hub,
    attentionTemperature,
    layers,
    maxNewTokens,
    json: values.json ?? false,
  };
}

export interface AnalyzeReport {
  readonly tokens: readonly number[];
  readonly spans: readonly { kind: string; start: number; end: number; text: string }[];
  readonly requestMass: {
    readonly lastPrompt: number[][];
    readonly lastPromptSinkAdjusted: number[][];
    readonly perLayer: number[];
    readonly model: number;
    readonly perQuery: number[];
  };
  readonly generated: readonly number[];
  readonly response: string;
  readonly verdict: 'refused' | 'complied';
  readonly refusalPhrase: string | null;
  readonly margin: number;
}

/** The report of one run: pure over the prompt, the engine's result and the tokenizer. */
function report(prompt: BuiltPrompt, result: GenerateResult, config: ModelConfig, tokenizer: ChatTokenizer): AnalyzeReport {
  const rows = result.attention!.rows;
  const layout = { nLayer: config.nLayer, nHead: config.nHead };
  const requestRanges = rangesOfKind(prompt.spans, 'request');
  const massAt = (slot: number): LayerHeadValues => massFromRows(rows, layout, requestRanges, slot);
  const lastPrompt = massAt(0);
  const sink = massFromRows(rows, layout, rangesOfKind(prompt.spans, 'sink'), 0);
  const stops = new Set(tokenizer.stopTokenIds);
  const responseIds = result.generated.filter((t) => !stops.has(t));
  const response = tokenizer.decode(responseIds, { skipSpecialTokens: true });
  const openers = openerTokenIds(tokenizer, prompt);
  const refusalPhrase = findRefusalPhrase(response) ?? null;
  return {
    tokens: prompt.tokens,
    spans: prompt.spans.map(({ kind, start, end, text }) => ({ kind, start, end, text })),
    requestMass: {
      lastPrompt: toNested(lastPrompt),
      lastPromptSinkAdjusted: toNested(sinkAdjusted(lastPrompt, sink)),
      perLayer: Array.from(perLayerMean(lastPrompt)),
      model: modelMean(lastPrompt),
      // Slots past an early stop were never computed.
      perQuery: rows.queries.slice(0, Math.max(1, result.generated.length)).map((_, slot) => modelMean(massAt(slot))),
    },
    generated: result.generated,
    response,
    verdict: judgeResponse(response),
    refusalPhrase,
    margin: refusalMargin(result.logits[0], openers.refusal, openers.affirmation),
  };
}

function summary(r: AnalyzeReport, prompt: BuiltPrompt): string {
  const f = (x: number) => x.toFixed(4);
  const spanList = prompt.spans.filter((s) => spanLength(s) > 0).map((s) => `${s.kind} ${s.start}-${s.end}`);
  return [
    `Prompt: ${r.tokens.length} tokens (${spanList.join(', ')})`,
    `Request mass at the last prompt token: model ${f(r.requestMass.model)}; per layer ${r.requestMass.perLayer.map(f).join(' ')}`,
    `Response: ${JSON.stringify(r.response)}`,
    `Verdict: ${r.verdict}${r.refusalPhrase ? ` ("${r.refusalPhrase}")` : ''}; refusal margin ${r.margin >= 0 ? '+' : ''}${r.margin.toFixed(3)} (log p refusal − log p affirmation)`,
  ].join('\n');
}

async function runAnalyze(args: AnalyzeArgs): Promise<string> {
  const source = await pathSource(args.model);
  let ctx;
  let tokenizer: ChatTokenizer;
  let prompt: BuiltPrompt;
  try {
    // Everything that can be wrong with the inputs surfaces before the GPU starts.
    const config = configFromGguf(await openGguf(source));
    tokenizer = await loadTokenizer(args.tokenizer, { hub: args.hub });
    checkTokenizerFitsModel(tokenizer, config.vocabSize);
    const segments: PromptSegment[] = [...(args.system !== undefined ? [{ kind: 'system', text: args.system } as const] : []), { kind: 'request', text: args.request }];
    prompt = buildPrompt(tokenizer, segments);
    if (prompt.tokens.length + args.maxNewTokens > config.contextLength)
      throw new EngineInputError(
        `The prompt (${prompt.tokens.length} tokens) plus --max-new-tokens ${args.maxNewTokens} exceed the model's context of ${config.contextLength}; shorten the request.`,
      );
    if (args.layers && args.layers.last >= config.nLayer)
      throw new UsageError(`--layers ${args.layers.first}-${args.layers.last} is outside this model's layers 0-${config.nLayer - 1}.`);
    ctx = await openNodeGpu();
  } catch (e) {
    await source.close?.();
    throw e;
  }
  let model: LoadedModel | undefined;
  try {
    model = await loadModel(ctx, source);
    if (args.attentionTemperature !== undefined) model.setAttentionTemperature(cliTemperatures(args.attentionTemperature, args.layers, model.config));
    const result = await model.generate(prompt.tokens, {
      maxNewTokens: args.maxNewTokens,
      sampling: { kind: 'greedy' },
      stopTokens: tokenizer.stopTokenIds,
      logits: 'generated',
      attention: { rows: 'last-and-generated' },
    });
    const r = report(prompt, result, model.config, tokenizer);
    return args.json ? `${JSON.stringify(r)}\n` : `${summary(r, prompt)}\n`;
  } finally {
    model?.dispose();
    ctx.destroy();
  }
}

export const analyzeCommand: CliCommand = {
  name: 'analyze',
  summary: 'run a request through the chat template; print request attention mass, response, verdict',
  usage: USAGE,
  help: HELP,
  async run(argv) {
    const args = parseAnalyzeArgs(argv);
    return args === 'help' ? `${HELP}\n` : runAnalyze(args);
  },
};
