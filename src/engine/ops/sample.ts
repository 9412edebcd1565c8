// Next-token choice on the GPU from one row of logits: greedy, or temperature / top-k / top-p draw.

import type { SamplingOptions } from '../api';
import type { GpuContext, PipelineKey } from '../gpu';
import type { Recorder } from '../recorder';
import { defineUniform } from '../uniforms';

/** `Params` of shaders/sample.wgsl. */
export const SAMPLE_PARAMS = defineUniform({
  vocab: 'u32', rowOffset: 'u32', topK: 'u32', _pad0: 'u32', invTemperature: 'f32', topP: 'f32', u: 'f32', _pad1: 'u32',
});

export const samplePipeline = (greedy: boolean): PipelineKey => ['sample', { constants: { GREEDY: greedy } }];

export function recordSample(
  rec: Recorder,
  ctx: GpuContext,
  args: { logits: GPUBuffer; result: GPUBuffer; vocab: number; row: number; sampling: SamplingOptions; uniform01: number },
): void {
  const s = args.sampling;
  const greedy = s.kind === 'greedy' || s.temperature <= 0;
  const uniform = greedy
    ? SAMPLE_PARAMS.encode({ vocab: args.vocab, rowOffset: args.row, topK: 0, invTemperature: 1, topP: 1, u: 0 })
    : SAMPLE_PARAMS.encode({
        vocab: args.vocab, rowOffset: args.row, topK: s.topK ?? 0, invTemperature: 1 / s.temperature, topP: s.topP ?? 1, u: args.uniform01,
      });
  // A single workgroup reads the whole row.
  rec.dispatch(ctx.pipeline(...samplePipeline(greedy)), uniform, [args.logits, args.result], [1]);
}
