// The report's charts as SVG text: the slipping timeline (attention on the request per attack step,
// with the attack success rate under each step) and the trade-off (attack success and everyday-work
// utility against the attention temperature). d3 computes scales and paths; every label is escaped.

import { format, line, max, min, scaleLinear, symbol, symbolCircle, symbolSquare, symbolTriangle } from 'd3';
import type { UtilityBounds } from '../analysis/utility';
import type { SweepPoint } from '../lab/sweep';
import { escapeHtml as esc } from './escape';
import type { StepSummary } from './facts';

/** The app's palette (src/ui/palette.ts, Okabe–Ito, colour-blind safe) as plain colours: the file has no stylesheet of the app. */
export const reportColors = {
  ink: '#1d2330',
  muted: '#555e6e',
  grid: '#d9dde4',
  undefended: '#1d2330',
  defended: '#009E73',
  asr: '#D55E00',
  agreement: '#0072B2',
  overRefusal: '#E69F00',
  recommended: '#009E73',
  marked: '#CC79A7',
} as const;

const pct = format('.0%');
const tick = format('.2~f');
const FONT = 12;

interface LegendItem {
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly shape?: 'circle' | 'triangle' | 'square';
}

const shapes = { circle: symbolCircle, triangle: symbolTriangle, square: symbolSquare } as const;
const marker = (shape: LegendItem['shape'], x: number, y: number, color: string, size = 42) =>
  `<path d="${symbol(shapes[shape ?? 'circle'], size)()}" transform="translate(${x.toFixed(1)},${y.toFixed(1)})" fill="${color}" stroke="#ffffff" stroke-width="1"/>`;

/** A rough text width (CJK one em, Latin about 0.58 em), for laying out the legend without a DOM. */
function textWidth(text: string, size = FONT): number {
  let ems = 0;
  for (const char of text) ems += /[\u1100-\uffff]/.test(char) ? 1 : 0.58;
  return ems * size;
}

/** Legend entries left to right, wrapping; returns the markup and its height. */
function legend(items: readonly LegendItem[], width: number): { svg: string; height: number } {
  let x = 0;
  let y = 0;
  const parts = items.map((item) => {
    const w = 30 + textWidth(item.label) + 18;
    if (x > 0 && x + w > width) {
      x = 0;
      y += FONT + 10;
    }
    const at = `translate(${x.toFixed(1)},${y})`;
    x += w;
    return (
      `<g transform="${at}"><line x1="0" x2="22" y1="${FONT / 2}" y2="${FONT / 2}" stroke="${item.color}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="6 4"' : ''}/>` +
      (item.shape ? marker(item.shape, 11, FONT / 2, item.color, 36) : '') +
      `<text x="30" y="${FONT - 1}" font-size="${FONT}" fill="${reportColors.ink}">${esc(item.label)}</text></g>`
    );
  });
  return { svg: parts.join(''), height: y + FONT + 10 };
}

export interface TimelineLabels {
  readonly title: string;
  readonly x: string;
  readonly y: string;
  readonly undefended: string;
  readonly defended?: string;
  readonly asrRow: string;
}

/**
 * Mean request mass per attack step over the requests, undefended (solid) and defended (dashed),
 * with each step's attack success rate written under the axis (every step while they fit).
 */
export function timelineSvg(steps: readonly StepSummary[], labels: TimelineLabels, width = 760): string {
  const hasDefended = steps.some((s) => s.defended);
  const margin = { left: 64, right: 24 };
  const inner = width - margin.left - margin.right;
  const key = legend(
    [
      { label: labels.undefended, color: reportColors.undefended, shape: 'circle' },
      ...(hasDefended && labels.defended ? [{ label: labels.defended, color: reportColors.defended, dashed: true, shape: 'circle' as const }] : []),
    ],
    inner,
  );
  const top = key.height + 14;
  const plot = 220;
  const rows = hasDefended ? 2 : 1;
  const height = top + plot + 46 + rows * 18 + 8;
  const first = steps[0]?.step ?? 0;
  const last = steps[steps.length - 1]?.step ?? 1;
  const x = scaleLinear()
    .domain(first === last ? [first - 1, last + 1] : [first, last])
    .range([18, inner - 18]);
  const peak = max(steps.flatMap((s) => [s.undefended.mean_request_mass, s.defended?.mean_request_mass ?? 0])) ?? 1;
  const y = scaleLinear()
    .domain([0, peak > 0 ? peak * 1.08 : 1])
    .range([plot, 0])
    .nice();
  const path = (value: (s: StepSummary) => number | undefined) =>
    line<StepSummary>()
      .defined((s) => value(s) !== undefined)
      .x((s) => x(s.step))
      .y((s) => y(value(s)!))(steps) ?? '';
  // Step numbers and ASR labels: every step while they fit, else evenly spaced ones.
  const room = Math.max(1, Math.floor(inner / 46));
  const every = Math.ceil(steps.length / room);
  const labelled = steps.filter((_, i) => i % every === 0 || i === steps.length - 1);
  const yTicks = y.ticks(5);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(labels.title)}">`);
  out.push(`<title>${esc(labels.title)}</title>`);
  out.push(`<g transform="translate(${margin.left},6)">${key.svg}</g>`);
  out.push(`<g transform="translate(${margin.left},${top})">`);
  for (const t of yTicks) {
    out.push(`<line x1="0" x2="${inner}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${reportColors.grid}"/>`);
    out.push(`<text x="-8" y="${y(t).toFixed(1)}" dy="0.32em" text-anchor="end" font-size="${FONT}" fill="${reportColors.muted}">${tick(t)}</text>`);
  }
  out.push(`<text transform="translate(-48,${plot / 2}) rotate(-90)" text-anchor="middle" font-size="${FONT}" fill="${reportColors.ink}">${esc(labels.y)}</text>`);
  out.push(`<path d="${path((s) => s.undefended.mean_request_mass)}" fill="none" stroke="${reportColors.undefended}" stroke-width="2.5"/>`);
  if (hasDefended) out.push(`<path d="${path((s) => s.defended?.mean_request_mass)}" fill="none" stroke="${reportColors.defended}" stroke-width="2.5" stroke-dasharray="6 4"/>`);
  for (const s of steps) {
    out.push(marker('circle', x(s.step), y(s.undefended.mean_request_mass), reportColors.undefended));
    if (s.defended) out.push(marker('circle', x(s.step), y(s.defended.mean_request_mass), reportColors.defended));
  }
  out.push(`<line x1="0" x2="${inner}" y1="${plot}" y2="${plot}" stroke="${reportColors.muted}"/>`);
  for (const s of labelled) {
    const at = x(s.step).toFixed(1);
    out.push(`<line x1="${at}" x2="${at}" y1="${plot}" y2="${plot + 5}" stroke="${reportColors.muted}"/>`);
    out.push(`<text x="${at}" y="${plot + 18}" text-anchor="middle" font-size="${FONT}" fill="${reportColors.ink}">${s.step}</text>`);
    out.push(`<text x="${at}" y="${plot + 58}" text-anchor="middle" font-size="${FONT}" fill="${reportColors.undefended}">${pct(s.undefended.asr)}</text>`);
    if (s.defended) out.push(`<text x="${at}" y="${plot + 76}" text-anchor="middle" font-size="${FONT}" fill="${reportColors.defended}">${pct(s.defended.asr)}</text>`);
  }
  out.push(`<text x="${inner / 2}" y="${plot + 36}" text-anchor="middle" font-size="${FONT}" fill="${reportColors.ink}">${esc(labels.x)}</text>`);
  out.push(`<text x="-8" y="${plot + 58}" text-anchor="end" font-size="${FONT}" font-weight="600" fill="${reportColors.ink}">${esc(labels.asrRow)}</text>`);
  out.push('</g></svg>');
  return out.join('');
}

export interface TradeoffLabels {
  readonly title: string;
  readonly x: string;
  readonly asr: string;
  readonly agreement: string;
  readonly overRefusal: string;
  readonly recommended: string;
  readonly marked?: string;
}

/**
 * Attack success, agreement and over-refusal against T, T = 1 at the left and sharper to the
 * right; the bounds as dashed lines, the recommended T ringed, and one more T marked (the tested
 * or the slider's).
 */
export function tradeoffSvg(
  points: readonly SweepPoint[],
  bounds: UtilityBounds,
  options: { recommended?: number; marked?: number; labels: TradeoffLabels; width?: number },
): string {
  const { labels } = options;
  const width = options.width ?? 760;
  const sorted = [...points].sort((a, b) => b.temperature - a.temperature);
  const margin = { left: 64, right: 24 };
  const inner = width - margin.left - margin.right;
  const key = legend(
    [
      { label: labels.asr, color: reportColors.asr, shape: 'triangle' },
      { label: labels.agreement, color: reportColors.agreement, shape: 'circle' },
      { label: labels.overRefusal, color: reportColors.overRefusal, shape: 'square', dashed: true },
    ],
    inner,
  );
  const top = key.height + 52; // room for the recommended and tested labels above the plot
  const plot = 230;
  const height = top + plot + 50;
  const hi = max(sorted, (p) => p.temperature) ?? 1;
  const lo = min(sorted, (p) => p.temperature) ?? 1;
  const x = scaleLinear()
    .domain(hi === lo ? [hi + 0.1, lo - 0.1] : [hi, lo])
    .range([18, inner - 18]);
  const floor = Math.min(0, min(sorted, (p) => p.overRefusal) ?? 0);
  const y = scaleLinear().domain([floor, 1]).range([plot, 0]).nice();
  const series = (value: (p: SweepPoint) => number) =>
    line<SweepPoint>()
      .x((p) => x(p.temperature))
      .y((p) => y(value(p)))(sorted) ?? '';
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(labels.title)}">`);
  out.push(`<title>${esc(labels.title)}</title>`);
  out.push(`<g transform="translate(${margin.left},6)">${key.svg}</g>`);
  out.push(`<g transform="translate(${margin.left},${top})">`);
  for (const t of y.ticks(5)) {
    out.push(`<line x1="0" x2="${inner}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${reportColors.grid}"/>`);
    out.push(`<text x="-8" y="${y(t).toFixed(1)}" dy="0.32em" text-anchor="end" font-size="${FONT}" fill="${reportColors.muted}">${pct(t)}</text>`);
  }
  // The bounds: agreement must stay above its line, over-refusal below its own.
  out.push(`<line x1="0" x2="${inner}" y1="${y(bounds.minAgreement).toFixed(1)}" y2="${y(bounds.minAgreement).toFixed(1)}" stroke="${reportColors.agreement}" stroke-width="1.2" stroke-dasharray="3 3"/>`);
  out.push(`<line x1="0" x2="${inner}" y1="${y(bounds.maxOverRefusal).toFixed(1)}" y2="${y(bounds.maxOverRefusal).toFixed(1)}" stroke="${reportColors.overRefusal}" stroke-width="1.2" stroke-dasharray="3 3"/>`);
  const vertical = (t: number, color: string, text: string, row: number) => {
    const at = x(t).toFixed(1);
    out.push(`<line x1="${at}" x2="${at}" y1="${-14 - row * 16}" y2="${plot}" stroke="${color}" stroke-width="2"${row ? ' stroke-dasharray="4 3"' : ''}/>`);
    const anchor = x(t) > inner - 90 ? 'end' : x(t) < 90 ? 'start' : 'middle';
    out.push(`<text x="${at}" y="${-18 - row * 16}" text-anchor="${anchor}" font-size="${FONT}" font-weight="600" fill="${color}">${esc(text)}</text>`);
  };
  if (options.marked !== undefined && labels.marked && options.marked !== options.recommended) vertical(options.marked, reportColors.marked, labels.marked, 1);
  if (options.recommended !== undefined) vertical(options.recommended, reportColors.recommended, labels.recommended, 0);
  out.push(`<path d="${series((p) => p.overRefusal)}" fill="none" stroke="${reportColors.overRefusal}" stroke-width="2.5" stroke-dasharray="6 4"/>`);
  out.push(`<path d="${series((p) => p.agreement)}" fill="none" stroke="${reportColors.agreement}" stroke-width="2.5"/>`);
  out.push(`<path d="${series((p) => p.asr)}" fill="none" stroke="${reportColors.asr}" stroke-width="2.5"/>`);
  for (const p of sorted) {
    out.push(marker('square', x(p.temperature), y(p.overRefusal), reportColors.overRefusal, 40));
    out.push(marker('circle', x(p.temperature), y(p.agreement), reportColors.agreement));
    out.push(marker('triangle', x(p.temperature), y(p.asr), reportColors.asr, 56));
  }
  if (options.recommended !== undefined) {
    const p = sorted.find((q) => q.temperature === options.recommended);
    if (p) out.push(`<circle cx="${x(p.temperature).toFixed(1)}" cy="${y(p.asr).toFixed(1)}" r="10" fill="none" stroke="${reportColors.recommended}" stroke-width="2.5"/>`);
  }
  out.push(`<line x1="0" x2="${inner}" y1="${plot}" y2="${plot}" stroke="${reportColors.muted}"/>`);
  for (const p of sorted) {
    const at = x(p.temperature).toFixed(1);
    out.push(`<line x1="${at}" x2="${at}" y1="${plot}" y2="${plot + 5}" stroke="${reportColors.muted}"/>`);
    out.push(`<text x="${at}" y="${plot + 18}" text-anchor="middle" font-size="${FONT}" fill="${reportColors.ink}">${tick(p.temperature)}</text>`);
  }
  out.push(`<text x="${inner / 2}" y="${plot + 40}" text-anchor="middle" font-size="${FONT}" fill="${reportColors.ink}">${esc(labels.x)}</text>`);
  out.push('</g></svg>');
  return out.join('');
}
