// Fuzzes the loader with seeded mutations of small valid models (counts, lengths, types, dims,
// offsets, hyper-parameters, poisoned floats, random bytes, truncations, NaN weights): each must
// fail with one of our typed errors or load and run one token with every logit finite — never a
// crash, a raw RangeError or TypeError, a hang, or an allocation the file cannot justify.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFromGguf } from '../../src/engine/config';
import type { GpuContext } from '../../src/engine/gpu';
import { loadModel } from '../../src/engine/model';
import { GpuValidationError, DeviceLostError, SlipLabError } from '../../src/errors';
import { openGguf } from '../../src/gguf/reader';
import { blobSource } from '../../src/gguf/source';
import { encodeGguf } from '../../src/gguf/writer';
import { mulberry32 } from '../../src/util/random';
import { mapHeader, type FieldKind, type HeaderField, type HeaderMap } from '../fixtures/gguf-fields';
import { buildRandomModel, presets, type PresetName } from '../fixtures/models';
import { createTestContext } from '../support/gpu';

const CASES = 1000;
const SEED = 0x5eed;
/** A case slower than this is a hang (the first load of each weight type compiles its pipelines). */
const CASE_DEADLINE_MS = 60_000;
const TOKENS = [1, 2, 3];

/**
 * Tiny models of every architecture family with Q4_0, Q8_0 and F32 (norms, biases) tensors; few
 * weight types, because each compiles its own kernels and that compilation is most of the runtime.
 */
const BASES: ReadonlyArray<{ preset: PresetName; weightType: 'Q4_0' | 'Q8_0' }> = [
  { preset: 'tinyLlama', weightType: 'Q4_0' },
  { preset: 'tiedLlama3', weightType: 'Q8_0' },
  { preset: 'tinyQwen2', weightType: 'Q8_0' },
  { preset: 'tinyQwen3', weightType: 'Q4_0' },
  { preset: 'tinyGemma2', weightType: 'Q8_0' },
];

interface Base {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly map: HeaderMap;
}

interface Mutation {
  readonly description: string;
  readonly bytes: Uint8Array;
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

/** Values that break parsers: zero, off by one, doubled, sign bits, every width's maximum, random. */
function integerFor(field: HeaderField, old: bigint, random: () => number): bigint {
  const randomU64 = () => (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  switch (field.kind) {
    case 'tensorType':
      return pick(random, [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n, 13n, 14n, 15n, 16n, 20n, 30n, 31n, 39n, 77n, 2n ** 31n]);
    case 'nDims':
      return pick(random, [0n, 1n, 2n, 3n, 4n, 5n, 8n, 2n ** 31n, 2n ** 32n - 1n]);
    case 'tensorOffset':
      return pick(random, [old + 1n, 255n, old + 32n, old - 32n, 0n, old * 2n, old + 16n, 2n ** 63n, randomU64()]);
    case 'dim':
      return pick(random, [0n, 1n, old / 2n, old * 2n, old + 32n, old - 32n, 2n ** 32n, 2n ** 63n]);
    default:
      return pick(random, [
        0n, 1n, old - 1n, old + 1n, old * 2n, old / 2n, 0xffn, 0xffffn, 2n ** 31n - 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n,
        2n ** 63n, 2n ** 64n - 1n, BigInt(Math.floor(random() * 2 ** 32)), randomU64(),
      ]);
  }
}

const POISONED_FLOATS = [NaN, Infinity, -Infinity, -1, 0, -0, 1e30, 3.4e38, 1e-45, 1e-3, 0.5, 1e6];

const FIELD_GROUPS: Record<string, readonly FieldKind[]> = {
  counts: ['tensorCount', 'metadataCount', 'arrayLength'],
  lengths: ['keyLength', 'stringLength', 'tensorNameLength'],
  types: ['valueType', 'arrayType', 'tensorType'],
  shapes: ['dim', 'nDims'],
  offsets: ['tensorOffset'],
  hyperParameters: ['intValue'],
};
const KINDS = [...Object.keys(FIELD_GROUPS), 'poisonedFloat', 'randomHeaderBytes', 'truncation', 'nanWeights'] as const;

function mutate(base: Base, random: () => number): Mutation {
  const bytes = base.bytes.slice();
  const view = new DataView(bytes.buffer);
  const kind = pick(random, KINDS);
  const fieldsOf = (kinds: readonly FieldKind[]) => base.map.fields.filter((f) => kinds.includes(f.kind));
  const where = (f: HeaderField) => `${f.kind} of ${f.owner} at ${f.at}`;
  if (kind in FIELD_GROUPS) {
    const field = pick(random, fieldsOf(FIELD_GROUPS[kind]));
    const old = field.width === 4 ? BigInt(view.getUint32(field.at, true)) : view.getBigUint64(field.at, true);
    const value = integerFor(field, old, random);
    if (field.width === 4) view.setUint32(field.at, Number(BigInt.asUintN(32, value)), true);
    else view.setBigUint64(field.at, BigInt.asUintN(64, value), true);
    return { description: `${base.name}: ${where(field)} ${old} → ${value}`, bytes };
  }
  switch (kind) {
    case 'poisonedFloat': {
      const field = pick(random, fieldsOf(['floatValue']));
      const value = pick(random, POISONED_FLOATS);
      view.setFloat32(field.at, value, true);
      return { description: `${base.name}: ${field.owner} → ${value}`, bytes };
    }
    case 'randomHeaderBytes': {
      const changes: string[] = [];
      for (let n = 1 + Math.floor(random() * 8); n > 0; n--) {
        const at = Math.floor(random() * base.map.headerEnd);
        bytes[at] = Math.floor(random() * 256);
        changes.push(`${at}=${bytes[at]}`);
      }
      return { description: `${base.name}: header bytes ${changes.join(' ')}`, bytes };
    }
    case 'truncation': {
      // Half the cuts land inside the header, where the parser is.
      const end = random() < 0.5 ? Math.floor(random() * base.map.dataStart) : base.map.dataStart + Math.floor(random() * (bytes.length - base.map.dataStart));
      return { description: `${base.name}: cut at ${end} of ${bytes.length}`, bytes: bytes.slice(0, end) };
    }
    default: {
      // 0xffffffff is a NaN as f32 and two NaNs as f16 scales: weights the header cannot vouch for.
      const at = base.map.dataStart + 4 * Math.floor((random() * (bytes.length - base.map.dataStart - 4)) / 4);
      view.setUint32(at, 0xffffffff, true);
      return { description: `${base.name}: NaN bytes at ${at}`, bytes };
    }
  }
}

type Outcome = { readonly stage: 'header' | 'load' | 'run'; readonly error?: string; readonly problem?: string };

/** Our typed errors only, with one sentence; a GPU validation error or device loss is an engine bug. */
function outcomeOf(stage: Outcome['stage'], e: unknown): Outcome {
  const typed = e instanceof SlipLabError && !(e instanceof GpuValidationError) && !(e instanceof DeviceLostError);
  if (typed && !e.message.includes('\n') && e.message.endsWith('.')) return { stage, error: e.name };
  return { stage, problem: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

async function withDeadline<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} took over ${CASE_DEADLINE_MS} ms`)), CASE_DEADLINE_MS);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function runCase(ctx: GpuContext, bytes: Uint8Array): Promise<Outcome> {
  const source = () => blobSource(new Blob([bytes as BlobPart]), 'fuzz.gguf');
  // Header validation first: only files that pass it are worth a GPU upload.
  try {
    configFromGguf(await openGguf(source()));
  } catch (e) {
    return outcomeOf('header', e);
  }
  let stage: Outcome['stage'] = 'load';
  const model = await loadModel(ctx, source()).catch((e: unknown) => outcomeOf('load', e));
  if ('stage' in model) return model;
  try {
    stage = 'run';
    const { logits } = await model.generate(TOKENS, { maxNewTokens: 1, logits: 'generated' });
    if (logits.length !== 1 || !logits[0].every(Number.isFinite)) return { stage, problem: 'logits came back non-finite' };
    return { stage };
  } catch (e) {
    return outcomeOf(stage, e);
  } finally {
    model.dispose();
  }
}

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.destroy());

it(`${CASES} mutated GGUF files each fail with a typed error or run with finite logits`, async () => {
  const started = performance.now();
  const bases: Base[] = BASES.map(({ preset, weightType }) => {
    const { bytes } = encodeGguf(buildRandomModel({ ...presets[preset], weightType }));
    return { name: `${preset} ${weightType}`, bytes, map: mapHeader(bytes) };
  });
  // Every base loads and runs unmutated: the fuzzing starts from valid files.
  for (const base of bases) expect(await runCase(ctx, base.bytes), base.name).toEqual({ stage: 'run' });

  const random = mulberry32(SEED);
  const tally = new Map<string, number>();
  const problems: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const { description, bytes } = mutate(pick(random, bases), random);
    const outcome = await withDeadline(runCase(ctx, bytes), description).catch((e: Error): Outcome => ({ stage: 'run', problem: e.message }));
    if (outcome.problem) problems.push(`case ${i} (${description}): ${outcome.stage}: ${outcome.problem}`);
    const key = outcome.error ? `${outcome.error} at ${outcome.stage}` : outcome.problem ? 'problem' : 'ran';
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  const summary = [...tally].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
  console.log(`gguf fuzz: ${CASES} cases in ${((performance.now() - started) / 1000).toFixed(1)} s — ${summary}`);
  expect(problems.slice(0, 10)).toEqual([]);
  // The mix reaches both the header checks and the GPU.
  expect(tally.get('ran') ?? 0).toBeGreaterThan(0);
  expect([...tally.keys()].filter((k) => k.endsWith('at header')).length).toBeGreaterThan(2);
}, 240_000);
