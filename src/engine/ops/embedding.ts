// out(M, K) = scale · embedding rows of tokens (· a factor per position), over the embedding's row parts.

import type { GGMLType } from '../../gguf/types';
import type { GpuContext, PipelineKey } from '../gpu';
import type { Recorder } from '../recorder';
import { defineUniform } from '../uniforms';
import type { GpuMatrix } from '../weights';

/** Threads per workgroup (the shader's override WG), one column each. */
const WORKGROUP = 256;

/** `Params` of shaders/embedding.wgsl. */
export const EMBEDDING_PARAMS = defineUniform({
  M: 'u32', K: 'u32', rowStart: 'u32', rowCount: 'u32', scale: 'f32', scaleStart: 'u32', _pad1: 'u32', _pad2: 'u32',
});

export const embeddingPipeline = (weights: GGMLType, perPosition = false): PipelineKey => [
  'embedding',
  { weights, constants: { WG: WORKGROUP, PER_POSITION: perPosition } },
];

/** Per-position factors: row m of the chunk is multiplied by buffer[start + m]. */
export interface PositionScales {
  readonly buffer: GPUBuffer;
  readonly start: number;
}

export function recordEmbedding(
  rec: Recorder,
  ctx: GpuContext,
  args: { embedding: GpuMatrix; tokens: GPUBuffer; out: GPUBuffer; M: number; scale?: number; positionScales?: PositionScales },
): void {
  const { embedding, M } = args;
  const perPosition = args.positionScales;
  const pipeline = ctx.pipeline(...embeddingPipeline(embedding.type, perPosition !== undefined));
  for (const part of embedding.parts) {
    rec.dispatch(
      pipeline,
      EMBEDDING_PARAMS.encode({ M, K: embedding.cols, rowStart: part.rowStart, rowCount: part.rowCount, scale: args.scale ?? 1, scaleStart: perPosition?.start ?? 0 }),
      [part.buffer, args.tokens, args.out, perPosition?.buffer ?? ctx.placeholder],
      [Math.ceil(embedding.cols / WORKGROUP), M],
    );
  }
}
