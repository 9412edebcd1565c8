// Next-token choice on the GPU from one row of logits: greedy, or temperature / top-k / top-p draw.

import type { SamplingOptions } from '../api';
import type { GpuContext } from '../gpu';
import { f32, type Recorder } from '../recorder';

export function recordSample(
  rec: Recorder,
  ctx: GpuContext,
  args: { logits: GPUBuffer; result: GPUBuffer; vocab: number; row: number; sampling: SamplingOptions; uniform01: number },
): void {
  const s = args.sampling;
  const greedy = s.kind === 'greedy' || s.temperature <= 0;
  const uniform = greedy
    ? [args.vocab, args.row, 0, 0, f32(1), f32(1), f32(0), 0]
    : [args.vocab, args.row, s.topK ?? 0, 0, f32(1 / s.temperature), f32(s.topP ?? 1), f32(args.uniform01), 0];
  rec.dispatch(ctx.pipeline('sample', { constants: { GREEDY: greedy } }), uniform, [args.logits, args.result], [1]);
}
