// Records dispatches and copies for one submit; all their uniforms go into one arena buffer
// written with a single writeBuffer just before the submit.

import type { GpuContext } from './gpu';
import type { UniformWords } from './uniforms';

/** What one dispatch moves and computes, for the profiler's GB/s and GFLOP/s (estimates). */
export interface DispatchWork {
  readonly bytes: number;
  readonly flops: number;
}
const NO_WORK: DispatchWork = { bytes: 0, flops: 0 };

export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

type Step =
  | {
      kind: 'dispatch';
      pipeline: GPUComputePipeline;
      bindings: readonly Binding[];
      uniformOffset: number;
      uniformSize: number;
      workgroups: [number, number, number];
      work: DispatchWork;
    }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number }
  | { kind: 'clear'; buffer: GPUBuffer; offset: number; size?: number };

export class Recorder {
  private steps: Step[] = [];
  private uniformWords: number[] = [];
  private arena: GPUBuffer | undefined;
  private scratchBuffer: GPUBuffer | undefined;
  private readonly align: number;

  constructor(private readonly ctx: GpuContext) {
    this.align = Math.max(256, ctx.caps.minUniformBufferOffsetAlignment);
  }

  /**
   * Bindings 1… are `bindings`; binding 0 is the uniform struct, encoded by its layout (uniforms.ts).
   * `work` only feeds the profiler's rates.
   */
  dispatch(pipeline: GPUComputePipeline, uniform: UniformWords, bindings: readonly Binding[], workgroups: readonly number[], work = NO_WORK) {
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const limit = this.ctx.caps.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit)
      throw new Error(`dispatch ${pipeline.label} of ${workgroups.join('×')} workgroups exceeds the device limit ${limit}`);
    const uniformOffset = this.uniformWords.length * 4;
    const uniformSize = uniform.byteLength;
    for (const word of uniform) this.uniformWords.push(word);
    while ((this.uniformWords.length * 4) % this.align !== 0) this.uniformWords.push(0);
    this.steps.push({ kind: 'dispatch', pipeline, bindings, uniformOffset, uniformSize, workgroups: [x, y, z], work });
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number) {
    if (size > 0) this.steps.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size });
  }

  clear(buffer: GPUBuffer, offset = 0, size?: number) {
    this.steps.push({ kind: 'clear', buffer, offset, size });
  }

  /**
   * A storage buffer of at least `bytes` for intermediate results within this recorder's
   * submits (matmul_blocked's decoded weights). Dispatches run in order, so every user may
   * overwrite it; it grows when asked for more (dispatches recorded before then keep the old one,
   * released after the submit).
   */
  scratch(bytes: number): GPUBuffer {
    if (!this.scratchBuffer || this.scratchBuffer.size < bytes) {
      if (this.scratchBuffer) this.retired.push(this.scratchBuffer);
      this.scratchBuffer = this.ctx.device.createBuffer({ label: 'matmul-scratch', size: Math.max(bytes, 1 << 20), usage: GPUBufferUsage.STORAGE });
    }
    return this.scratchBuffer;
  }
  private retired: GPUBuffer[] = [];

  get isEmpty(): boolean {
    return this.steps.length === 0;
  }

  submit(): void {
    const { device } = this.ctx;
    const bytes = this.uniformWords.length * 4;
    if (bytes > 0 && (!this.arena || this.arena.size < bytes)) {
      this.arena?.destroy();
      this.arena = device.createBuffer({
        label: 'uniform-arena',
        size: Math.max(bytes, 64 * 1024) * 2,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
    }
    if (bytes > 0) device.queue.writeBuffer(this.arena!, 0, new Uint32Array(this.uniformWords));
    const encoder = device.createCommandEncoder();
    // Profiling: every dispatch in its own pass, timed (src/engine/profiler.ts).
    const timer = this.ctx.profiler?.begin();
    let pass: GPUComputePassEncoder | undefined;
    for (const step of this.steps) {
      if (step.kind !== 'dispatch') {
        pass?.end();
        pass = undefined;
        if (step.kind === 'copy') encoder.copyBufferToBuffer(step.src, step.srcOffset, step.dst, step.dstOffset, step.size);
        else encoder.clearBuffer(step.buffer, step.offset, step.size);
        continue;
      }
      if (timer) {
        pass?.end();
        pass = encoder.beginComputePass({ timestampWrites: timer.passWrites(step.pipeline.label, step.work) });
      }
      pass ??= encoder.beginComputePass();
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena!, offset: step.uniformOffset, size: step.uniformSize } }];
      step.bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: b instanceof GPUBuffer ? { buffer: b } : b }));
      pass.setPipeline(step.pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: step.pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(...step.workgroups);
    }
    pass?.end();
    timer?.finish(encoder);
    device.queue.submit([encoder.finish()]);
    timer?.submitted();
    // Destroying a buffer that submitted work still uses is allowed: it goes once that work is done.
    for (const b of this.retired.splice(0)) b.destroy();
    this.steps = [];
    this.uniformWords = [];
  }

  destroy() {
    this.arena?.destroy();
    this.scratchBuffer?.destroy();
    for (const b of this.retired.splice(0)) b.destroy();
  }
}

/** Spreads `count` workgroups over x and y so neither exceeds the per-dimension limit. */
export function grid(count: number, limit: number): [number, number] {
  if (count <= limit) return [count, 1];
  const y = Math.ceil(count / limit);
  return [Math.ceil(count / y), y];
}
