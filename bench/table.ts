// The benches' plain-text tables: columns padded to their widest cell, the first `leftColumns`
// left-aligned (names), the rest right-aligned (numbers); the profiler's per-kernel table.

import type { KernelTotals } from '../src/engine/profiler';

export function table(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The profiler's totals per kernel, per token (or per any unit `tokens` counts), slowest first. */
export function kernelTable(totals: KernelTotals[], tokens: number): string {
  const all = totals.reduce((sum, t) => sum + t.seconds, 0);
  const rate = (amount: number, seconds: number, unit: number) => (amount > 0 && seconds > 0 ? (amount / seconds / unit).toFixed(2) : '');
  return table(
    ['kernel', 'dispatches/tok', 'ms/tok', 'share', 'GB/s', 'GFLOP/s'],
    totals.map((t) => [
      t.kernel,
      (t.dispatches / tokens).toFixed(1),
      ((t.seconds / tokens) * 1000).toFixed(2),
      `${((t.seconds / all) * 100).toFixed(1)}%`,
      rate(t.bytes, t.seconds, 1e9),
      rate(t.flops, t.seconds, 1e9),
    ]),
  );
}
