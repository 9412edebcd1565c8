// Progress maths on a fake clock: totals across files, smoothed speed, time left, and the throttle.

import { describe, expect, it } from 'vitest';
import { ProgressTracker } from '../../src/download/progress';

const MB = 1_000_000;

function twoFiles(have = 0) {
  return new ProgressTracker(
    [
      { url: 'a', have, total: 10 * MB, complete: false },
      { url: 'b', have: 0, total: 30 * MB, complete: false },
    ],
    0,
  );
}

describe('download progress', () => {
  it('sums sizes and stored bytes across all files', () => {
    const p = twoFiles(4 * MB).snapshot(0);
    expect(p).toMatchObject({ bytesDone: 4 * MB, bytesTotal: 40 * MB, filesDone: 0, filesTotal: 2, file: 'a', bytesPerSecond: 0 });
    expect(p.secondsLeft).toBeUndefined();
  });

  it('measures a steady 2 MB/s and the time left from it', () => {
    const tracker = twoFiles();
    for (let t = 100; t <= 5000; t += 100) {
      tracker.add(0, 0.2 * MB);
      const p = tracker.snapshot(t);
      if (t === 5000) {
        expect(p.bytesPerSecond).toBeCloseTo(2 * MB, -3);
        expect(p.secondsLeft).toBeCloseTo(15, 1); // 30 MB left at 2 MB/s
      }
    }
  });

  it('smooths a burst instead of jumping to it, and decays while stalled', () => {
    const tracker = twoFiles();
    for (let t = 250; t <= 5000; t += 250) {
      tracker.add(0, 0.25 * MB); // 1 MB/s
      tracker.snapshot(t);
    }
    tracker.add(0, 2.5 * MB); // a 10 MB/s burst for one sample
    const burst = tracker.snapshot(5250).bytesPerSecond;
    expect(burst).toBeGreaterThan(1 * MB);
    expect(burst).toBeLessThan(2.5 * MB);
    let stalled = burst;
    for (let t = 5500; t <= 15000; t += 250) stalled = tracker.snapshot(t).bytesPerSecond;
    expect(stalled).toBeLessThan(0.1 * MB);
  });

  it('does not count bytes stored by an earlier visit as speed', () => {
    const tracker = twoFiles(8 * MB);
    tracker.add(0, 0.5 * MB);
    const p = tracker.snapshot(1000);
    expect(p.bytesDone).toBe(8.5 * MB);
    expect(p.bytesPerSecond).toBeCloseTo(0.5 * MB, 0);
  });

  it('emits at most every 100 ms unless forced', () => {
    const tracker = twoFiles();
    const emitted = [0, 30, 99, 100, 150, 210, 260, 300].filter((t) => tracker.poll(t) !== undefined);
    expect(emitted).toEqual([0, 100, 210]);
    expect(tracker.poll(301, true)).toBeDefined();
  });

  it('ends at the total with every file done and nothing left', () => {
    const tracker = twoFiles();
    tracker.start(0);
    tracker.add(0, 10 * MB);
    tracker.finish(0, 10 * MB);
    tracker.start(1);
    tracker.setTotal(1, 31 * MB); // the server's real size replaces the estimate
    tracker.add(1, 31 * MB);
    tracker.finish(1, 31 * MB);
    const p = tracker.snapshot(2000);
    expect(p).toMatchObject({ bytesDone: 41 * MB, bytesTotal: 41 * MB, filesDone: 2, file: 'b', secondsLeft: 0 });
  });

  it('never reports more done than total when a size is unknown, and can restart a file', () => {
    const tracker = new ProgressTracker([{ url: 'x', have: 0, total: undefined, complete: false }], 0);
    tracker.add(0, 5 * MB);
    expect(tracker.snapshot(100)).toMatchObject({ bytesDone: 5 * MB, bytesTotal: 5 * MB });
    tracker.setTotal(0, 20 * MB);
    tracker.setDone(0, 0); // the server sent the whole file again
    expect(tracker.snapshot(200)).toMatchObject({ bytesDone: 0, bytesTotal: 20 * MB });
  });
});
