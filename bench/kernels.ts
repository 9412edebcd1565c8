// Kernel bench (`npm run bench:kernels -- [--types Q8_0,Q4_K] [--shape N,K] [--tokens 1,4,32] [--square 512]`):
// every matrix kernel this adapter can run, on one weight matrix, at several token counts:
// ms per dispatch, GB/s of weights streamed and GFLOP/s. Then two probes that bound decode and
// prefill on this adapter: per weight type, a kernel that only streams the weight bytes and one
// that only decodes them (matvec_rows without the inputs), against matvec_rows itself; and the
// square f32 matmul rate of the adapter's prefill kernel (the prefill reference: prefill ≥ 70 % of it).

import { parseArgs } from 'node:util';
import { shaderSource, type GpuContext } from '../src/engine/gpu';
import { nodePlatform } from '../src/engine/platform-node';
import { linearKernels, recordMatmul, type LinearKernel } from '../src/engine/ops/matmul';
import { Recorder } from '../src/engine/recorder';
import { openNodeGpu } from '../src/cli/node-gpu';
import { GGMLType, typeName } from '../src/gguf/types';
import { measureSquareMatmul, randomFloats, uploadRandomMatrix } from './matrices';
import { table } from './table';

const log = (line: string) => process.stdout.write(`${line}\n`);

function floats(ctx: GpuContext, values: Float32Array): GPUBuffer {
  const buffer = ctx.device.createBuffer({ size: values.byteLength, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
  new Float32Array(buffer.getMappedRange()).set(values);
  buffer.unmap();
  return buffer;
}

/** Seconds per dispatch: the best of 3 submissions of `repeats` dispatches (repeats sized to ~0.3 s). */
async function time(ctx: GpuContext, record: (rec: Recorder) => void): Promise<number> {
  const rec = new Recorder(ctx);
  const run = async (repeats: number) => {
    for (let i = 0; i < repeats; i++) record(rec);
    const started = performance.now();
    rec.submit();
    await ctx.device.queue.onSubmittedWorkDone();
    return (performance.now() - started) / 1000 / repeats;
  };
  await run(1);
  const once = await run(1);
  const repeats = Math.max(1, Math.min(50, Math.round(0.3 / once)));
  const best = Math.min(await run(repeats), await run(repeats), await run(repeats));
  ctx.assertAlive();
  rec.destroy();
  return best;
}

/** The probe kernels for one weight type: [name, WGSL, workgroups]. */
async function probes(ctx: GpuContext, type: GGMLType, N: number, K: number): Promise<Array<[string, string, number]>> {
  const platform = await nodePlatform();
  const bindings = `
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
fn x_at(i: u32) -> f32 { return 0.0; }`;
  const words = `
@group(0) @binding(1) var<storage, read> words: array<vec4u>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;`;
  const stream = `${words}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  var acc = vec4u(0u);
  for (var i = g.x; i < arrayLength(&words); i += n.x * 64u) { acc += words[i]; }
  y[g.x] = f32(acc.x ^ acc.y ^ acc.z ^ acc.w);
}`;
  const decode = shaderSource(
    (name) =>
      name === 'probe'
        ? `${bindings}
//#include weights
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  let n0 = g.x * 4u;
  if (n0 >= ${N}u) { return; }
  var a = vec4f(0.0);
  for (var kb = 0u; kb < ${Math.ceil(K / 32)}u; kb++) {
    let b0 = block_at(n0, kb, ${K}u); let b1 = block_at(min(n0 + 1u, ${N - 1}u), kb, ${K}u);
    let b2 = block_at(min(n0 + 2u, ${N - 1}u), kb, ${K}u); let b3 = block_at(min(n0 + 3u, ${N - 1}u), kb, ${K}u);
    for (var i = 0u; i < 8u; i++) { a += block_quad(b0, i) + block_quad(b1, i) + block_quad(b2, i) + block_quad(b3, i); }
  }
  y[g.x] = a.x + a.y + a.z + a.w;
}`
        : platform.loadShader(name),
    'probe',
    type,
    ctx.caps.packed4x8,
  );
  return [
    ['read the weight bytes only', stream, Math.ceil(N / 64)],
    ['decode the weights only', decode, Math.ceil(N / 256)],
  ];
}

async function timeRaw(ctx: GpuContext, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, groups: number): Promise<number> {
  const run = async (repeats: number) => {
    const encoder = ctx.device.createCommandEncoder();
    for (let i = 0; i < repeats; i++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(groups);
      pass.end();
    }
    const started = performance.now();
    ctx.device.queue.submit([encoder.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
    return (performance.now() - started) / 1000 / repeats;
  };
  await run(1);
  const repeats = Math.max(1, Math.min(50, Math.round(0.3 / (await run(1)))));
  return Math.min(await run(repeats), await run(repeats), await run(repeats));
}

async function main() {
  const { values } = parseArgs({
    options: {
      types: { type: 'string', default: 'Q8_0,Q4_K,F32' },
      shape: { type: 'string', default: '1536,576' },
      tokens: { type: 'string', default: '1,4,32' },
      square: { type: 'string', default: '512' },
    },
  });
  const [N, K] = values.shape.split(',').map(Number);
  const tokenCounts = values.tokens.split(',').map(Number);
  const ctx = await openNodeGpu();
  try {
    log(`adapter: ${ctx.adapter.description}${ctx.caps.software ? ' (software)' : ''}; subgroups ${ctx.caps.subgroups}`);
    const kernels: LinearKernel[] = [
      ...new Set<LinearKernel>([...linearKernels(ctx.caps), 'matvec_rows', 'matmul_blocked', 'matmul', 'matvec', ...(ctx.caps.subgroups ? ['matvec_subgroups' as const] : [])]),
    ];
    const rows: string[][] = [];
    for (const name of values.types.split(',')) {
      const type = GGMLType[name as keyof typeof GGMLType];
      const weight = await uploadRandomMatrix(ctx, type, N, K);
      const weightBytes = weight.parts.reduce((sum, p) => sum + p.buffer.size, 0);
      for (const M of tokenCounts) {
        const x = floats(ctx, randomFloats(M * K, 2));
        const y = ctx.device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.STORAGE });
        for (const kernel of kernels) {
          if ((kernel === 'matvec' || kernel === 'matvec_rows') && M > 4) continue;
          const seconds = await time(ctx, (rec) => recordMatmul(rec, ctx, { weight, x, y, M, kernel }));
          rows.push([typeName(type), `${N}x${K}`, String(M), kernel, (seconds * 1000).toFixed(2), (weightBytes / seconds / 1e9).toFixed(2), ((2 * M * N * K) / seconds / 1e9).toFixed(2)]);
          log(rows[rows.length - 1].join('  '));
        }
        x.destroy();
        y.destroy();
      }
    }
    log('');
    log(table(['weights', 'N x K', 'tokens', 'kernel', 'ms', 'weight GB/s', 'GFLOP/s'], rows));

    // Probes: what bounds a matrix-vector product on this adapter?
    const probeRows: string[][] = [];
    for (const name of values.types.split(',')) {
      const type = GGMLType[name as keyof typeof GGMLType];
      const weight = await uploadRandomMatrix(ctx, type, N, K);
      const part = weight.parts[0];
      const bytes = part.buffer.size;
      const x = floats(ctx, randomFloats(K, 2));
      const y = ctx.device.createBuffer({ size: N * 4 * 64, usage: GPUBufferUsage.STORAGE });
      for (const [probe, code, groups] of await probes(ctx, type, N, K)) {
        const pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module: ctx.device.createShaderModule({ code }), entryPoint: 'main' } });
        const bindGroup = ctx.device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [{ binding: 1, resource: { buffer: part.buffer } }, { binding: 3, resource: { buffer: y } }],
        });
        const seconds = await timeRaw(ctx, pipeline, bindGroup, groups);
        probeRows.push([typeName(type), probe, (seconds * 1000).toFixed(2), (bytes / seconds / 1e9).toFixed(2), ((N * K) / seconds / 1e9).toFixed(2)]);
      }
      const seconds = await time(ctx, (rec) => recordMatmul(rec, ctx, { weight, x, y, M: 1, kernel: 'matvec_rows' }));
      probeRows.push([typeName(type), 'matvec_rows (decode, for comparison)', (seconds * 1000).toFixed(2), (bytes / seconds / 1e9).toFixed(2), ((N * K) / seconds / 1e9).toFixed(2)]);
    }
    log('');
    log(`probes on ${N}x${K}: only read the weight bytes (vec4<u32> per lane, lanes adjacent); only decode them (4 rows per invocation, as matvec_rows, no inputs)`);
    log(table(['weights', 'probe', 'ms', 'weight GB/s', 'G weights/s'], probeRows));

    // Square f32 matmul with the adapter's own prefill kernel.
    const S = Number(values.square);
    log('');
    log(`square f32 matmul ${S}³ with this adapter's prefill kernel: ${((await measureSquareMatmul(ctx, S)) / 1e9).toFixed(2)} GFLOP/s`);
  } finally {
    ctx.destroy();
  }
}

try {
  await main();
  process.stdout.write('', () => process.exit(0));
} catch (e) {
  process.stderr.write(`${(e as Error).stack ?? e}\n`, () => process.exit(1));
}
