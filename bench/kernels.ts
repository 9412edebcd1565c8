// Kernel bench (`npm run bench:kernels -- [--types Q8_0,Q4_K] [--shape N,K] [--tokens 1,4,32]`):
// every matrix kernel this adapter can run, on one weight matrix, at several token counts:
// ms per dispatch, GB/s of weights streamed and GFLOP/s. Also the best square f32 matmul rate,
// the reference for the prefill target (issue 17: prefill ≥ 70 % of it).

import { parseArgs } from 'node:util';
import type { GpuContext } from '../src/engine/gpu';
import { linearKernels, recordMatmul, type LinearKernel } from '../src/engine/ops/matmul';
import { Recorder } from '../src/engine/recorder';
import { uploadMatrix, type GpuMatrix } from '../src/engine/weights';
import { openNodeGpu } from '../src/cli/node-gpu';
import type { GgufFile } from '../src/gguf/reader';
import { blobSource } from '../src/gguf/source';
import { encodeTensor } from '../src/gguf/quantize';
import { GGMLType, typeName } from '../src/gguf/types';

const log = (line: string) => process.stdout.write(`${line}\n`);

function random(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

async function upload(ctx: GpuContext, type: GGMLType, rows: number, cols: number): Promise<GpuMatrix> {
  const bytes = encodeTensor(type, random(rows * cols, 1));
  const file = { source: blobSource(new Blob([bytes as BlobPart]), 'bench'), size: bytes.length, metadata: {}, tensors: new Map() } as GgufFile;
  return uploadMatrix({ ctx, file, onBytes: () => {} }, { name: 'w', type, dims: [cols, rows], offset: 0, byteSize: bytes.length });
}

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

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
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
      const weight = await upload(ctx, type, N, K);
      const weightBytes = weight.parts.reduce((sum, p) => sum + p.buffer.size, 0);
      for (const M of tokenCounts) {
        const x = floats(ctx, random(M * K, 2));
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
