// out(M, K) = scale · embedding rows of tokens, over the embedding's row parts.

import type { GGMLType } from '../../gguf/types';
import type { GpuContext, PipelineKey } from '../gpu';
import type { Recorder } from '../recorder';
import { defineUniform } from '../uniforms';
import type { GpuMatrix } from '../weights';

/** Threads per workgroup (the shader's override WG), one column each. */
const WORKGROUP = 256;

/** `Params` of shaders/embedding.wgsl. */
export const EMBEDDING_PARAMS = defineUniform({
  M: 'u32', K: 'u32', rowStart: 'u32', rowCount: 'u32', scale: 'f32', _pad0: 'u32', _pad1: 'u32', _pad2: 'u32',
});

export const embeddingPipeline = (weights: GGMLType): PipelineKey => ['embedding', { weights, constants: { WG: WORKGROUP } }];

export function recordEmbedding(
  rec: Recorder,
  ctx: GpuContext,
  args: { embedding: GpuMatrix; tokens: GPUBuffer; out: GPUBuffer; M: number; scale?: number },
): void {
  const { embedding, M } = args;
  const pipeline = ctx.pipeline(...embeddingPipeline(embedding.type));
  for (const part of embedding.parts) {
    rec.dispatch(
      pipeline,
      EMBEDDING_PARAMS.encode({ M, K: embedding.cols, rowStart: part.rowStart, rowCount: part.rowCount, scale: args.scale ?? 1 }),
      [part.buffer, args.tokens, args.out],
      [Math.ceil(embedding.cols / WORKGROUP), M],
    );
  }
}
