// Per-kernel GPU time from timestamp queries, for the bench: while a profiler is attached to a
// GpuContext, the Recorder gives every dispatch its own compute pass with begin/end timestamps,
// and the profiler adds each pass's time to its pipeline's total. One pass per dispatch costs a
// little on its own, so profiled runs are for the per-kernel table, never for headline speed.

import type { GpuContext } from './gpu';

/** Timestamp pairs per query set: 4096 queries is WebGPU's default limit on a query set's size. */
const PAIRS = 2048;

export interface KernelTotals {
  /** Pipeline label (op, weight type and constants). */
  readonly kernel: string;
  readonly dispatches: number;
  readonly seconds: number;
  /** Work the caller declared for these dispatches (see `Recorder.dispatch`), summed. */
  readonly bytes: number;
  readonly flops: number;
}

interface Pending {
  readonly labels: string[];
  readonly work: Array<{ bytes: number; flops: number }>;
  readonly readback: GPUBuffer;
  readonly querySet: GPUQuerySet;
  readonly resolve: GPUBuffer;
}

export class KernelProfiler {
  private readonly totals = new Map<string, { dispatches: number; seconds: number; bytes: number; flops: number }>();
  private readonly pending: Array<Promise<void>> = [];
  /** Dispatches that could not be timed because one submit had more than PAIRS of them. */
  untimed = 0;

  constructor(private readonly ctx: GpuContext) {
    if (!ctx.caps.timestampQuery) throw new Error('This adapter has no timestamp-query feature: kernels cannot be timed.');
  }

  /** A query set for one submit; `finish` encodes its resolve and readback. */
  begin(): SubmitTimer {
    return new SubmitTimer(this.ctx.device, (pending) => this.pending.push(this.collect(pending)), (n) => (this.untimed += n));
  }

  /** Waits for every submitted measurement to be read back. */
  async flush(): Promise<void> {
    await Promise.all(this.pending.splice(0));
  }

  /** Clears the totals (after a warm-up, say). */
  reset(): void {
    this.totals.clear();
    this.untimed = 0;
  }

  /** Totals per kernel, slowest first. */
  table(): KernelTotals[] {
    return [...this.totals.entries()]
      .map(([kernel, t]) => ({ kernel, ...t }))
      .sort((a, b) => b.seconds - a.seconds);
  }

  private async collect(p: Pending): Promise<void> {
    await p.readback.mapAsync(GPUMapMode.READ);
    const ticks = new BigUint64Array(p.readback.getMappedRange().slice(0));
    p.readback.unmap();
    for (const b of [p.readback, p.resolve]) b.destroy();
    p.querySet.destroy();
    p.labels.forEach((label, i) => {
      const begin = ticks[2 * i];
      const end = ticks[2 * i + 1];
      const seconds = end > begin ? Number(end - begin) / 1e9 : 0;
      const t = this.totals.get(label) ?? { dispatches: 0, seconds: 0, bytes: 0, flops: 0 };
      t.dispatches++;
      t.seconds += seconds;
      t.bytes += p.work[i].bytes;
      t.flops += p.work[i].flops;
      this.totals.set(label, t);
    });
  }
}

/** The timestamps of one submit's passes. */
export class SubmitTimer {
  private readonly labels: string[] = [];
  private readonly work: Array<{ bytes: number; flops: number }> = [];
  private querySet: GPUQuerySet | undefined;
  private skipped = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly onPending: (p: Pending) => void,
    private readonly onSkipped: (n: number) => void,
  ) {}

  /** Timestamp writes for the next dispatch's own pass, or undefined once the set is full. */
  passWrites(label: string, work: { bytes: number; flops: number }): GPUComputePassTimestampWrites | undefined {
    if (this.labels.length >= PAIRS) {
      this.skipped++;
      return undefined;
    }
    this.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: PAIRS * 2 });
    const i = this.labels.length;
    this.labels.push(label);
    this.work.push(work);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  private encoded: Pending | undefined;

  /** Encodes the resolve and the copy to a mappable buffer; call before finishing the encoder. */
  finish(encoder: GPUCommandEncoder): void {
    if (this.skipped) this.onSkipped(this.skipped);
    if (!this.querySet) return;
    const bytes = this.labels.length * 16;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, this.labels.length * 2, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, bytes);
    this.encoded = { labels: this.labels, work: this.work, readback, querySet: this.querySet, resolve };
  }

  /** Call once the command buffer is submitted: only then may the readback be mapped. */
  submitted(): void {
    if (this.encoded) this.onPending(this.encoded);
    this.encoded = undefined;
  }
}
