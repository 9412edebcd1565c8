// The trade-off of a temperature sweep: attack success rate, agreement with the undefended answers
// and over-refusal against the attention temperature T (T = 1 at the left, sharper to the right),
// with the utility bounds, the recommended T ringed and the slider's T highlighted.

import { line, max, min, scaleLinear, symbol, symbolCircle, symbolSquare, symbolTriangle } from 'd3';
import { useMemo, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { withinBounds } from '../../analysis/utility';
import { sweepCsv, type SweepPoint, type SweepResult } from '../../lab/sweep';
import { downloadBlob, exportPng, exportSvg } from '../export';
import { comparedColors, cssColor, runColors, verdictColors, type ThemedColor } from '../palette';
import { formatTick, measureText, useChartDimensions } from './chart';
import { Panel } from './Panel';

export interface TradeOffProps {
  readonly sweep: SweepResult;
  /** The temperature slider's T, highlighted when it lies in the swept range. */
  readonly currentTemperature?: number;
  /** Requests attacked at each T (for the subtitle), when known. */
  readonly requests?: number;
}

const FONT = 12;
const PLOT_HEIGHT = 230;

type Metric = 'asr' | 'agreement' | 'overRefusal';

/** Each measure's colour and marker; the colours are the panels' themed ones, so the dark presenter theme applies. */
// Listed in legend order; drawn in reverse, so the attack success rate is on top where lines meet.
const metrics: readonly { readonly key: Metric; readonly color: ThemedColor; readonly shape: 'triangle' | 'circle' | 'square'; readonly dashed: boolean }[] = [
  { key: 'asr', color: verdictColors.complied, shape: 'triangle', dashed: false },
  { key: 'agreement', color: verdictColors.refused, shape: 'circle', dashed: false },
  { key: 'overRefusal', color: comparedColors[0], shape: 'square', dashed: true },
];

const shapeOf = { triangle: symbolTriangle, circle: symbolCircle, square: symbolSquare } as const;
const markerPath = (shape: keyof typeof shapeOf, size: number) => symbol(shapeOf[shape], size)()!;
const pct = (value: number) => `${(value * 100).toFixed(0)}%`;
const pts = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} pts`;
const tText = (t: number) => String(Number(t.toFixed(3)));

export function TradeOff({ sweep, currentTemperature, requests }: TradeOffProps) {
  const { t } = useTranslation();
  const [containerRef, { width: pixelWidth, scale }] = useChartDimensions<HTMLDivElement>();
  const svgRef = useRef<SVGSVGElement>(null);
  const width = pixelWidth / scale;
  const margin = { left: 58, right: 22, bottom: 46 };
  const innerWidth = Math.max(80, width - margin.left - margin.right);
  const sorted = useMemo(() => [...sweep.points].sort((a, b) => b.temperature - a.temperature), [sweep]);
  const recommended = sweep.recommended;
  const bounds = sweep.bounds;

  // The legend, wrapped to the width.
  const legend = useMemo(() => {
    let x = 0;
    let row = 0;
    const placed = metrics.map((metric) => {
      const label = t(`tradeoff.${metric.key}`);
      const w = 30 + measureText(label, FONT) + 18;
      if (x > 0 && x + w > innerWidth) {
        x = 0;
        row += 1;
      }
      const item = { ...metric, label, x, y: row * (FONT + 10) };
      x += w;
      return item;
    });
    return { placed, height: (row + 1) * (FONT + 10) };
  }, [t, innerWidth]);
  const top = legend.height + 56; // room for the recommended and slider labels above the plot
  const height = top + PLOT_HEIGHT + margin.bottom;

  const x = useMemo(() => {
    const hi = max(sorted, (p) => p.temperature) ?? 1;
    const lo = min(sorted, (p) => p.temperature) ?? 1;
    return scaleLinear()
      .domain(hi === lo ? [hi + 0.1, lo - 0.1] : [hi, lo])
      .range([16, innerWidth - 16]);
  }, [sorted, innerWidth]);
  const y = useMemo(() => {
    const floor = Math.min(0, min(sorted, (p) => p.overRefusal) ?? 0);
    return scaleLinear().domain([floor, 1]).range([PLOT_HEIGHT, 0]).nice();
  }, [sorted]);
  const paths = useMemo(
    () =>
      Object.fromEntries(
        metrics.map((metric) => [
          metric.key,
          line<SweepPoint>()
            .x((p) => x(p.temperature))
            .y((p) => y(p[metric.key]))(sorted) ?? '',
        ]),
      ) as Record<Metric, string>,
    [sorted, x, y],
  );

  const [lo, hi] = [Math.min(...x.domain()), Math.max(...x.domain())];
  const showCurrent = currentTemperature !== undefined && currentTemperature >= lo && currentTemperature <= hi;
  const benignCount = Math.max(0, ...sweep.points.map((p) => p.benign.length));
  const requestCount = requests ?? (typeof sweep.settings.requests === 'number' ? sweep.settings.requests : undefined);
  const boundsText = t('tradeoff.bounds', { maxOverRefusal: (bounds.maxOverRefusal * 100).toFixed(0), minAgreement: bounds.minAgreement.toFixed(2) });
  const subtitle = [
    recommended
      ? `${t('tradeoff.recommended', { t: tText(recommended.temperature) })}: ${t('tradeoff.asr')} ${pct(recommended.asr)}, ${t('tradeoff.agreement')} ${recommended.agreement.toFixed(3)}, ${t('tradeoff.overRefusal')} ${pts(recommended.overRefusal)}`
      : t('tradeoff.noneMeets'),
    boundsText,
    t('tradeoff.subtitle', { points: sweep.points.length, requests: requestCount ?? '?', benign: benignCount }),
  ].join(' · ');

  const heading = { title: t('tradeoff.title'), subtitle };
  const exports = {
    svg: () => svgRef.current && exportSvg(svgRef.current, 'slip-lab-tradeoff.svg', heading),
    png: () => (svgRef.current ? exportPng(svgRef.current, 'slip-lab-tradeoff.png', heading) : undefined),
    csv: () => downloadBlob(new Blob([`\uFEFF${sweepCsv(sweep)}\n`], { type: 'text/csv;charset=utf-8' }), 'slip-lab-sweep.csv'),
  };

  /** A vertical marker line with its label above the plot, kept inside the plot's width. */
  const marker = (temperature: number, label: string, color: ThemedColor, row: number, testId: string) => {
    const at = x(temperature);
    const labelWidth = measureText(label, FONT, { weight: 600 });
    const shift = Math.min(Math.max(-labelWidth / 2, -at), innerWidth - at - labelWidth);
    return (
      <g transform={`translate(${at},0)`} data-testid={testId}>
        <line y1={-16 - row * 18} y2={PLOT_HEIGHT} className={`slip-line slip-line-thin${row ? ' slip-line-dashed' : ''}`} style={{ stroke: cssColor(color) }} />
        <text x={shift} y={-20 - row * 18} className="slip-text slip-axis-title" style={{ fill: cssColor(color) }}>
          {label}
        </text>
      </g>
    );
  };

  return (
    <Panel name="tradeoff" title={t('tradeoff.title')} subtitle={subtitle} info={<p>{t('tradeoff.info')}</p>} exports={exports}>
      <div ref={containerRef} className="slip-chart">
        <svg
          ref={svgRef}
          className="slip-svg slip-tradeoff"
          width={pixelWidth}
          height={height * scale}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-label={`${t('tradeoff.title')}: ${subtitle}`}
          data-testid="tradeoff-chart"
        >
          <g className="slip-legend" transform={`translate(${margin.left},6)`}>
            {legend.placed.map((entry) => (
              <g key={entry.key} transform={`translate(${entry.x},${entry.y})`}>
                <line x1={0} x2={22} y1={FONT / 2} y2={FONT / 2} className={`slip-line${entry.dashed ? ' slip-line-defended' : ''}`} style={{ stroke: cssColor(entry.color) }} />
                <path d={markerPath(entry.shape, 40)} transform={`translate(11,${FONT / 2})`} className="slip-marker" style={{ fill: cssColor(entry.color), stroke: 'var(--slip-panel-bg, #fff)' }} />
                <text x={30} y={FONT - 1} className="slip-text">
                  {entry.label}
                </text>
              </g>
            ))}
          </g>
          <g transform={`translate(${margin.left},${top})`}>
            {y.ticks(5).map((tick) => (
              <g key={tick}>
                <line x1={0} x2={innerWidth} y1={y(tick)} y2={y(tick)} className="slip-gridline" />
                <text x={-8} y={y(tick)} dy="0.32em" textAnchor="end" className="slip-text slip-tick">
                  {pct(tick)}
                </text>
              </g>
            ))}
            {/* The bounds: agreement must stay above its line, over-refusal below its own. */}
            <line x1={0} x2={innerWidth} y1={y(bounds.minAgreement)} y2={y(bounds.minAgreement)} className="slip-line slip-line-thin slip-line-dashed" style={{ stroke: cssColor(verdictColors.refused), strokeOpacity: 0.7 }} data-testid="tradeoff-bound-agreement" />
            <line x1={0} x2={innerWidth} y1={y(bounds.maxOverRefusal)} y2={y(bounds.maxOverRefusal)} className="slip-line slip-line-thin slip-line-dashed" style={{ stroke: cssColor(comparedColors[0]), strokeOpacity: 0.7 }} />
            {showCurrent && (!recommended || Math.abs(recommended.temperature - currentTemperature!) > 1e-9)
              ? marker(currentTemperature!, t('tradeoff.current', { t: currentTemperature!.toFixed(2) }), runColors.selected, 1, 'tradeoff-current')
              : null}
            {recommended ? marker(recommended.temperature, t('tradeoff.recommended', { t: tText(recommended.temperature) }), runColors.defended, 0, 'tradeoff-recommended') : null}
            {[...metrics].reverse().map((metric) => (
              <path key={metric.key} d={paths[metric.key]} className={`slip-line${metric.dashed ? ' slip-line-defended' : ''}`} style={{ stroke: cssColor(metric.color) }} />
            ))}
            {sorted.map((p) => {
              const inside = withinBounds(p, bounds);
              const isCurrent = showCurrent && Math.abs(p.temperature - currentTemperature!) < 1e-9;
              return (
                <g key={p.temperature} data-testid="tradeoff-point" data-temperature={p.temperature}>
                  <title>
                    {t('tradeoff.pointTitle', { t: tText(p.temperature), asr: pct(p.asr), agreement: p.agreement.toFixed(3), overRefusal: pts(p.overRefusal), kl: p.kl.toFixed(4) })}
                  </title>
                  {[...metrics].reverse().map((metric) => (
                    <path
                      key={metric.key}
                      d={markerPath(metric.shape, (isCurrent ? 90 : 56) * (metric.key === 'asr' ? 1.3 : 1))}
                      transform={`translate(${x(p.temperature)},${y(p[metric.key])})`}
                      // Hollow: this T is outside the utility bounds.
                      className={`slip-marker${inside ? '' : ' slip-marker-hollow'}`}
                      style={{ fill: inside ? cssColor(metric.color) : 'var(--slip-panel-bg, #fff)', stroke: inside ? 'var(--slip-panel-bg, #fff)' : cssColor(metric.color) }}
                    />
                  ))}
                </g>
              );
            })}
            {recommended ? <circle cx={x(recommended.temperature)} cy={y(recommended.asr)} r={11} className="slip-line slip-line-thin" style={{ stroke: cssColor(runColors.defended) }} /> : null}
            <g className="slip-axis slip-axis-x" transform={`translate(0,${PLOT_HEIGHT})`}>
              <line x1={0} x2={innerWidth} className="slip-axis-line" />
              {sorted.map((p) => (
                <g key={p.temperature} transform={`translate(${x(p.temperature)},0)`}>
                  <line y2={5} className="slip-axis-line" />
                  <text y={18} textAnchor="middle" className="slip-text slip-tick">
                    {formatTick(p.temperature)}
                  </text>
                </g>
              ))}
              <text x={innerWidth / 2} y={38} textAnchor="middle" className="slip-text slip-axis-title">
                {t('tradeoff.xAxis')}
              </text>
            </g>
            <text transform={`translate(-44,${PLOT_HEIGHT / 2}) rotate(-90)`} textAnchor="middle" className="slip-text slip-axis-title">
              {t('tradeoff.yAxis')}
            </text>
          </g>
        </svg>
      </div>
    </Panel>
  );
}
