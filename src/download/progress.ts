// Progress across several files: bytes done of the total, a smoothed network speed, the time
// left, and a throttle so that listeners hear about it at most ~10 times a second.

import type { DownloadProgress } from './types';

export interface ProgressFile {
  readonly url: string;
  /** Bytes already stored when the call began (they count as done, not as speed). */
  readonly have: number;
  /** Size, when known; else the catalogue's estimate; else undefined. */
  readonly total: number | undefined;
  readonly complete: boolean;
}

export interface ProgressOptions {
  /** Minimum spacing of emitted events (default 100 ms: ~10 per second). */
  readonly minIntervalMs?: number;
  /** Time constant of the speed's exponential smoothing (default 3 s). */
  readonly smoothingMs?: number;
}

/** Shortest interval a speed sample may span, so that one burst does not read as a huge rate. */
const MIN_SAMPLE_MS = 200;

export class ProgressTracker {
  private readonly done: number[];
  private readonly totals: (number | undefined)[];
  private readonly finished: boolean[];
  private current = 0;
  /** Bytes received from the network during this call (restarted bytes included). */
  private received = 0;
  private speed = 0;
  private measured = false;
  private sampleAt: number;
  private sampleReceived = 0;
  private lastEmit = -Infinity;
  private readonly minIntervalMs: number;
  private readonly smoothingMs: number;

  constructor(
    private readonly files: readonly ProgressFile[],
    startMs: number,
    options: ProgressOptions = {},
  ) {
    this.done = files.map((f) => f.have);
    this.totals = files.map((f) => f.total);
    this.finished = files.map((f) => f.complete);
    this.sampleAt = startMs;
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.smoothingMs = options.smoothingMs ?? 3000;
  }

  /** Marks `index` as the file being fetched. */
  start(index: number): void {
    this.current = index;
  }

  setTotal(index: number, total: number | undefined): void {
    if (total !== undefined) this.totals[index] = total;
  }

  /** The stored bytes of `index` are now `bytes` (e.g. 0 after a restart, or the resume offset). */
  setDone(index: number, bytes: number): void {
    this.done[index] = bytes;
  }

  /** `bytes` more arrived from the network for `index`. */
  add(index: number, bytes: number): void {
    this.done[index] += bytes;
    this.received += bytes;
  }

  finish(index: number, totalBytes: number): void {
    this.totals[index] = totalBytes;
    this.done[index] = totalBytes;
    this.finished[index] = true;
  }

  /** Updates the smoothed speed from the bytes received since the last sample. */
  private sample(nowMs: number): void {
    const elapsed = nowMs - this.sampleAt;
    if (elapsed < MIN_SAMPLE_MS) return;
    const rate = ((this.received - this.sampleReceived) / elapsed) * 1000;
    // Exponential smoothing whose weight follows the elapsed time, so uneven sampling is fair.
    const weight = this.measured ? 1 - Math.exp(-elapsed / this.smoothingMs) : 1;
    this.speed += weight * (rate - this.speed);
    this.measured = true;
    this.sampleAt = nowMs;
    this.sampleReceived = this.received;
  }

  snapshot(nowMs: number): DownloadProgress {
    this.sample(nowMs);
    let bytesDone = 0;
    let bytesTotal = 0;
    for (let i = 0; i < this.files.length; i++) {
      bytesDone += this.done[i];
      // An unknown size counts as what is stored so far, so the bar never runs past 100 %.
      bytesTotal += Math.max(this.totals[i] ?? 0, this.done[i]);
    }
    const left = bytesTotal - bytesDone;
    return {
      bytesDone,
      bytesTotal,
      bytesPerSecond: this.speed,
      secondsLeft: left === 0 ? 0 : this.speed > 0 ? left / this.speed : undefined,
      file: this.files[this.current]?.url ?? '',
      filesDone: this.finished.filter(Boolean).length,
      filesTotal: this.files.length,
    };
  }

  /** A snapshot if one is due (or `force`), else undefined. */
  poll(nowMs: number, force = false): DownloadProgress | undefined {
    if (!force && nowMs - this.lastEmit < this.minIntervalMs) return undefined;
    this.lastEmit = nowMs;
    return this.snapshot(nowMs);
  }
}
