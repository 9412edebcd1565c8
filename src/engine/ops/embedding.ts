// out(M, K) = scale · embedding rows of tokens, over the embedding's row parts.

import type { GpuContext } from '../gpu';
import { f32, type Recorder } from '../recorder';
import type { GpuMatrix } from '../weights';

export function recordEmbedding(
  rec: Recorder,
  ctx: GpuContext,
  args: { embedding: GpuMatrix; tokens: GPUBuffer; out: GPUBuffer; M: number; scale?: number },
): void {
  const { embedding, M } = args;
  const pipeline = ctx.pipeline('embedding', { weights: embedding.type });
  for (const part of embedding.parts) {
    rec.dispatch(
      pipeline,
      [M, embedding.cols, part.rowStart, part.rowCount, f32(args.scale ?? 1), 0, 0, 0],
      [part.buffer, args.tokens, args.out],
      [Math.ceil(embedding.cols / 256), M],
    );
  }
}
