// Each kernel's TypeScript uniform layout and override constants against its WGSL source: field
// names, types and offsets in order, every required override supplied, and shared constants equal.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { shaderSource, type PipelineKey } from '../../src/engine/gpu';
import { ATTENTION_PARAMS, attentionPipeline, MAX_HEAD_DIM, TILED_BLOCK_QUERIES } from '../../src/engine/ops/attention';
import {
  ATTENTION_BACKWARD_PARAMS,
  attentionBackwardPipelines,
  BACKWARD_TOKENS,
  CROSS_ENTROPY_PARAMS,
  crossEntropyBackwardPipeline,
  gluBackwardPipeline,
  LINEAR_BACKWARD_PARAMS,
  linearBackwardPipeline,
  linearBackwardReducePipeline,
  REDUCE_PARAMS,
  RMSNORM_BACKWARD_PARAMS,
  rmsNormBackwardPipeline,
} from '../../src/engine/ops/backward';
import { addPipeline, COUNT_PARAMS, gluPipeline, SOFTCAP_PARAMS, softcapPipeline } from '../../src/engine/ops/elementwise';
import { EMBEDDING_PARAMS, embeddingPipeline } from '../../src/engine/ops/embedding';
import { LOGPROB_PARAMS, logprobPipeline } from '../../src/engine/ops/logprob';
import { DEQUANT_PARAMS, LINEAR_PARAMS, linearPipelines, MATMUL_TILE, SUBGROUP_MATVEC_TOKENS } from '../../src/engine/ops/matmul';
import { RMSNORM_PARAMS, rmsNormPipeline } from '../../src/engine/ops/rmsnorm';
import { ROPE_PARAMS, ropePipeline } from '../../src/engine/ops/rope';
import { SAMPLE_PARAMS, samplePipeline } from '../../src/engine/ops/sample';
import type { UniformLayout } from '../../src/engine/uniforms';
import { GGMLType } from '../../src/gguf/types';

const shaderRoot = fileURLToPath(new URL('../../shaders/', import.meta.url));
const loadShader = (name: string) => readFileSync(`${shaderRoot}${name}.wgsl`, 'utf8');
/** The source as compiled; the weight snippet does not touch the uniforms, so F32 stands for all. */
const compiled = (op: string) => shaderSource(loadShader, op, GGMLType.F32);

/** Every compute shader's uniform layout. Names match the WGSL fields exactly: no mapping. */
const LAYOUTS: Record<string, UniformLayout> = {
  add: COUNT_PARAMS,
  glu: COUNT_PARAMS,
  softcap: SOFTCAP_PARAMS,
  attention: ATTENTION_PARAMS,
  attention_rows: ATTENTION_PARAMS,
  attention_tiled: ATTENTION_PARAMS,
  embedding: EMBEDDING_PARAMS,
  logprob: LOGPROB_PARAMS,
  matmul: LINEAR_PARAMS,
  matvec: LINEAR_PARAMS,
  matvec_subgroups: LINEAR_PARAMS,
  matvec_rows: LINEAR_PARAMS,
  matmul_blocked: LINEAR_PARAMS,
  dequant: DEQUANT_PARAMS,
  rmsnorm: RMSNORM_PARAMS,
  rope: ROPE_PARAMS,
  sample: SAMPLE_PARAMS,
  linear_backward: LINEAR_BACKWARD_PARAMS,
  linear_backward_reduce: REDUCE_PARAMS,
  rmsnorm_backward: RMSNORM_BACKWARD_PARAMS,
  glu_backward: COUNT_PARAMS,
  attention_backward_scores: ATTENTION_BACKWARD_PARAMS,
  attention_backward_q: ATTENTION_BACKWARD_PARAMS,
  attention_backward_kv: ATTENTION_BACKWARD_PARAMS,
  cross_entropy_backward: CROSS_ENTROPY_PARAMS,
};

/** Every pipeline variant the ops create. */
const PIPELINES: PipelineKey[] = [
  addPipeline(),
  gluPipeline('silu'),
  gluPipeline('gelu_tanh'),
  softcapPipeline(),
  attentionPipeline(),
  attentionPipeline('attention_rows'),
  attentionPipeline('attention_tiled'),
  embeddingPipeline(GGMLType.F32),
  embeddingPipeline(GGMLType.F32, true),
  logprobPipeline(),
  ...(['matmul', 'matvec', 'matvec_subgroups', 'matvec_rows', 'matmul_blocked'] as const).flatMap((k) =>
    [false, true].flatMap((bias) => linearPipelines(k, GGMLType.F32, bias)),
  ),
  rmsNormPipeline(false),
  rmsNormPipeline(true),
  rmsNormPipeline(false, true),
  ropePipeline('normal'),
  ropePipeline('neox'),
  ropePipeline('neox', true),
  samplePipeline(true),
  samplePipeline(false),
  ...[false, true].flatMap((accumulate) => [
    linearBackwardPipeline(GGMLType.F32, accumulate, false),
    linearBackwardReducePipeline(accumulate),
  ]),
  linearBackwardPipeline(GGMLType.F32, false, true),
  ...(['write', 'accumulate', 'in-place'] as const).flatMap((mode) => [rmsNormBackwardPipeline(mode, false), rmsNormBackwardPipeline(mode, true)]),
  gluBackwardPipeline('silu'),
  gluBackwardPipeline('gelu_tanh'),
  ...attentionBackwardPipelines(),
  crossEntropyBackwardPipeline(),
];

const withoutComments = (code: string) => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

interface WgslField {
  name: string;
  type: string;
  offset: number;
}

/** Size and alignment of the WGSL types a uniform struct may hold (host-shareable, 4-byte components). */
function sizeAndAlign(type: string): readonly [size: number, align: number] {
  if (/^(u32|i32|f32)$/.test(type)) return [4, 4];
  const vector = /^vec([234])(?:<(?:u32|i32|f32)>|[uif])$/.exec(type);
  if (vector) return ({ 2: [8, 8], 3: [12, 16], 4: [16, 16] } as const)[vector[1] as '2' | '3' | '4'];
  throw new Error(`uniform field type ${type} is not one this test lays out; extend sizeAndAlign`);
}

/** The struct bound as `var<uniform>`: its fields in order with WGSL offsets, and its size. */
function uniformStruct(source: string): { fields: WgslField[]; size: number } {
  const code = withoutComments(source);
  const bindings = [...code.matchAll(/var<uniform>\s*\w+\s*:\s*(\w+)/g)];
  expect(bindings.length, 'one uniform binding').toBe(1);
  const body = new RegExp(`struct\\s+${bindings[0][1]}\\s*\\{([^}]*)\\}`).exec(code);
  if (!body) throw new Error(`struct ${bindings[0][1]} not found`);
  let offset = 0;
  let maxAlign = 4;
  const fields = body[1]
    .split(',')
    .map((member) => member.trim())
    .filter(Boolean)
    .map((member) => {
      const [, name, type] = /^(\w+)\s*:\s*([\w<>]+)$/.exec(member) ?? [];
      if (!name) throw new Error(`cannot read struct member "${member}"`);
      const [size, align] = sizeAndAlign(type);
      offset = Math.ceil(offset / align) * align;
      maxAlign = Math.max(maxAlign, align);
      const field = { name, type, offset };
      offset += size;
      return field;
    });
  return { fields, size: Math.ceil(offset / maxAlign) * maxAlign };
}

/** Field-by-field differences between a TypeScript layout and a WGSL struct; empty when they agree. */
function layoutMismatches(layout: UniformLayout, source: string): string[] {
  const wgsl = uniformStruct(source);
  const problems: string[] = [];
  for (let i = 0; i < Math.max(layout.fields.length, wgsl.fields.length); i++) {
    const ts = layout.fields[i];
    const gpu = wgsl.fields[i];
    const show = (f?: { name: string; type: string; offset: number }) => (f ? `${f.name}: ${f.type} @${f.offset}` : 'nothing');
    if (ts?.name !== gpu?.name || ts?.type !== gpu?.type || ts?.offset !== gpu?.offset)
      problems.push(`field ${i}: TypeScript has ${show(ts)}, WGSL has ${show(gpu)}`);
  }
  if (wgsl.size > layout.byteSize) problems.push(`the struct is ${wgsl.size} bytes but only ${layout.byteSize} are uploaded`);
  return problems;
}

/** `override NAME[: type][ = default];` declarations. */
function overrides(source: string): Map<string, { hasDefault: boolean }> {
  const found = new Map<string, { hasDefault: boolean }>();
  for (const m of withoutComments(source).matchAll(/^\s*override\s+(\w+)\s*(?::\s*\w+)?\s*(=[^;]+)?;/gm))
    found.set(m[1], { hasDefault: m[2] !== undefined });
  return found;
}

/** The value of `const NAME: u32 = <n>u;`. */
function wgslConstant(source: string, name: string): number {
  const m = new RegExp(`const\\s+${name}\\s*:\\s*u32\\s*=\\s*(\\d+)u\\s*;`).exec(withoutComments(source));
  if (!m) throw new Error(`const ${name}: u32 not found`);
  return Number(m[1]);
}

describe('uniform layouts', () => {
  it('every compute shader has a TypeScript layout, and every layout a shader', () => {
    const computeShaders = readdirSync(shaderRoot)
      .filter((f) => f.endsWith('.wgsl'))
      .map((f) => f.slice(0, -'.wgsl'.length))
      .filter((name) => /@compute/.test(compiled(name)))
      .sort();
    expect(computeShaders).toEqual(Object.keys(LAYOUTS).sort());
  });

  it.each(Object.keys(LAYOUTS))('%s: names, types and offsets match the WGSL struct in order', (op) => {
    expect(layoutMismatches(LAYOUTS[op], compiled(op))).toEqual([]);
  });

  it('the check fails when a field is reordered on one side only', () => {
    const source = compiled('attention');
    const swap = (a: string, b: string) => source.replace(a, '\u0000').replace(b, a).replace('\u0000', b);
    // Same type, different names: the offsets still agree, the names do not.
    expect(layoutMismatches(ATTENTION_PARAMS, swap('  M: u32,', '  queryStart: u32,'))).toHaveLength(2);
    // A u32 and an f32 swapped: both names and types disagree.
    expect(layoutMismatches(ATTENTION_PARAMS, swap('  softcap: f32,', '  window: u32,'))).toHaveLength(2);
    // A field dropped from WGSL: everything after it moves.
    expect(layoutMismatches(ATTENTION_PARAMS, source.replace(/ {2}layer: u32,\n/, '')).length).toBeGreaterThan(1);
  });

  it('encode writes u32 (wrapped) and f32 bits at each field offset, padding as zero, in 16-byte rows', () => {
    const words = SAMPLE_PARAMS.encode({ vocab: 151936, rowOffset: 3, topK: -1, invTemperature: 1 / 0.7, topP: 0.9, u: 0.25 });
    const floats = new Float32Array(words.buffer);
    expect(words.byteLength).toBe(32);
    expect([words[0], words[1], words[2], words[3]]).toEqual([151936, 3, 0xffffffff, 0]);
    expect([floats[4], floats[5], floats[6], words[7]]).toEqual([Math.fround(1 / 0.7), Math.fround(0.9), 0.25, 0]);
    expect(COUNT_PARAMS.encode({ n: 7 })).toEqual(new Uint32Array([7, 0, 0, 0]));
    expect(() => COUNT_PARAMS.encode({} as { n: number })).toThrow(/uniform field n has no value/);
  });
});

describe('override constants', () => {
  it.each(PIPELINES.map((key) => [`${key[0]} ${JSON.stringify(key[1].constants ?? {})}`, key] as const))(
    '%s: every override without a default is supplied, and nothing undeclared',
    (_, [op, variant]) => {
      const declared = overrides(compiled(op));
      const supplied = Object.keys(variant.constants ?? {});
      expect(supplied.filter((name) => !declared.has(name))).toEqual([]);
      expect([...declared].filter(([name, d]) => !d.hasDefault && !supplied.includes(name)).map(([name]) => name)).toEqual([]);
    },
  );

  it('every compute shader is covered by some pipeline variant above', () => {
    expect([...new Set(PIPELINES.map(([op]) => op))].sort()).toEqual(Object.keys(LAYOUTS).sort());
  });

  it('sizes WGSL must keep as const (they size per-thread arrays) equal their TypeScript twins', () => {
    expect(wgslConstant(compiled('attention'), 'MAX_HEAD_DIM')).toBe(MAX_HEAD_DIM);
    expect(wgslConstant(compiled('attention_tiled'), 'MAX_HEAD_DIM')).toBe(MAX_HEAD_DIM);
    expect(wgslConstant(compiled('attention_tiled'), 'BLOCK_QUERIES')).toBe(TILED_BLOCK_QUERIES);
    expect(wgslConstant(compiled('matvec_subgroups'), 'TOKENS')).toBe(SUBGROUP_MATVEC_TOKENS);
    expect(wgslConstant(compiled('matmul'), 'TILE')).toBe(MATMUL_TILE);
    expect(wgslConstant(compiled('linear_backward'), 'TOKENS')).toBe(BACKWARD_TOKENS);
  });
});
