// The presenter's slipping chart: attention on the request (model mean at the decisive query)
// against the attack step, drawn up to the step on screen, so each key press adds the next point.
// It fills the box the slide leaves it, with type sized for a projector, and has nothing to
// operate: no export, no toggles, no selected head. The axes cover every step from the start, so
// nothing jumps as the line grows.

import { line, max, scaleLinear } from 'd3';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { modelMean } from '../../analysis/mass';
import type { Trace, Verdict } from '../../lab/trace';
import { measureText } from '../../ui/panels/chart';
import { VerdictMarker } from '../../ui/panels';
import { cssColor, runColors } from '../../ui/palette';
import { percentText } from '../story-text';
import { useBoxSize } from './useBoxSize';

export interface SlideTimelineProps {
  readonly trace: Trace;
  /** Index into trace.steps of the last step drawn. */
  readonly reveal: number;
  /** The step on screen: the playhead, its tag and its value (default: `reveal`). */
  readonly focus?: number;
  /** Draw the defended run over every step too. */
  readonly defended: boolean;
  /** The defense's display name, for the legend. */
  readonly defenseName: string;
  /** The tag over the step on screen ("Step 2 of 3 · Fiction framing"). */
  readonly tag: string;
}

interface StepPoint {
  readonly index: number;
  readonly step: number;
  readonly mass: number;
  readonly verdict: Verdict;
  readonly defended: { readonly mass: number; readonly verdict: Verdict } | null;
}

export function SlideTimeline({ trace, reveal, focus = reveal, defended, defenseName, tag }: SlideTimelineProps) {
  const { t } = useTranslation();
  const [boxRef, { width, height }] = useBoxSize<HTMLDivElement>();
  const points = useMemo<StepPoint[]>(
    () =>
      trace.steps.map((s, index) => ({
        index,
        step: s.step,
        mass: modelMean(s.requestMass.lastPrompt),
        verdict: s.verdict,
        defended: s.defended ? { mass: modelMean(s.defended.requestMass.lastPrompt), verdict: s.defended.verdict } : null,
      })),
    [trace],
  );

  // Type scales with the box: legible from the back of a room at 1024×768, not huge at 1920×1080.
  const font = Math.round(Math.max(14, Math.min(26, width / 46, height / 13)));
  const marker = Math.round(font * 0.95);
  // The legend a notch smaller than the axes, so it stays on one row.
  const legendFont = Math.round(font * 0.85);
  const hasDefended = defended && points.some((p) => p.defended);

  const legend = useMemo(() => {
    const entries = [
      { key: 'undefended', label: t('slides.chart.undefended'), kind: 'line' as const },
      ...(hasDefended ? [{ key: 'defended', label: t('slides.chart.defended', { defense: defenseName }), kind: 'dashed' as const }] : []),
      { key: 'refused', label: t('slides.badge.refused'), kind: 'refused' as const },
      { key: 'complied', label: t('slides.badge.complied'), kind: 'complied' as const },
    ];
    let x = 0;
    let row = 0;
    const rowWidth = Math.max(200, width - font * 4);
    const placed = entries.map((entry) => {
      const w = legendFont * 2.2 + measureText(entry.label, legendFont) + legendFont * 1.6;
      if (x > 0 && x + w > rowWidth) {
        x = 0;
        row += 1;
      }
      const item = { ...entry, x, y: row * legendFont * 1.5 };
      x += w;
      return item;
    });
    return { placed, height: (row + 1) * legendFont * 1.5 };
  }, [t, hasDefended, defenseName, width, font, legendFont]);

  const margin = { left: font * 4.4, right: font * 1.2, top: legend.height + font * 2.6, bottom: font * 3.4 };
  const plotWidth = Math.max(80, width - margin.left - margin.right);
  const plotHeight = Math.max(60, height - margin.top - margin.bottom);

  const x = useMemo(() => {
    const first = points[0]?.step ?? 0;
    const last = points[points.length - 1]?.step ?? 1;
    const pad = first === last ? 1 : 0;
    return scaleLinear()
      .domain([first - pad, last + pad])
      .range([font * 1.2, plotWidth - font * 1.2]);
  }, [points, plotWidth, font]);
  // One scale for every slide (the defended run included), so the axis never moves during the story.
  const y = useMemo(() => {
    const top = max(points.flatMap((p) => [p.mass, p.defended?.mass ?? 0])) ?? 1;
    return scaleLinear()
      .domain([0, top > 0 ? top * 1.15 : 1])
      .range([plotHeight, 0])
      .nice(4);
  }, [points, plotHeight]);

  const shown = points.slice(0, reveal + 1);
  const current = points[Math.min(focus, points.length - 1)];
  const undefendedPath = line<StepPoint>()
    .x((p) => x(p.step))
    .y((p) => y(p.mass))(shown);
  const defendedPath = hasDefended
    ? line<StepPoint>()
        .defined((p) => p.defended !== null)
        .x((p) => x(p.step))
        .y((p) => y(p.defended!.mass))(points)
    : null;
  const yTicks = y.ticks(4);
  const yFormat = y.tickFormat(4, '%');
  const xTicks = points.length <= 16 ? points.map((p) => p.step) : x.ticks(10);
  const baseline = points[0];
  const tagWidth = measureText(tag, font, { weight: 700 }) + font;
  const currentX = current ? x(current.step) : 0;
  const tagX = Math.min(Math.max(currentX - tagWidth / 2, 0), plotWidth - tagWidth);
  const valueText = current ? percentText(current.mass) : '';
  const defendedValue = hasDefended && current?.defended ? percentText(current.defended.mass) : '';
  const valueWidth = measureText(valueText, font * 1.1, { weight: 700 });
  // The value sits right of its point, or left where the plot ends.
  const valueLeft = Boolean(current && currentX + marker + valueWidth > plotWidth);
  // With the defended value beside it, the higher one is labelled above its point, the lower below.
  const undefendedBelow = Boolean(defendedValue && current?.defended && current.defended.mass >= current.mass);

  return (
    <div ref={boxRef} className="slide-chart" data-testid="slide-timeline">
      {width > 0 && height > 0 && current ? (
        <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${t('slides.chart.label')}: ${tag}, ${valueText}`} style={{ fontSize: font }}>
          <g className="slide-legend" transform={`translate(${margin.left},${font * 0.4})`} style={{ fontSize: legendFont }}>
            {legend.placed.map((entry) => (
              <g key={entry.key} transform={`translate(${entry.x},${entry.y})`}>
                {entry.kind === 'line' || entry.kind === 'dashed' ? (
                  <line
                    x1={0}
                    x2={legendFont * 1.7}
                    y1={legendFont * 0.6}
                    y2={legendFont * 0.6}
                    className={entry.kind === 'line' ? 'slide-line' : 'slide-line slide-line-defended'}
                    style={{ stroke: cssColor(entry.kind === 'line' ? runColors.undefended : runColors.defended) }}
                  />
                ) : (
                  <VerdictMarker verdict={entry.kind} x={legendFont * 0.85} y={legendFont * 0.6} size={legendFont} />
                )}
                <text x={legendFont * 2.2} y={legendFont * 0.95} className="slide-text">
                  {entry.label}
                </text>
              </g>
            ))}
          </g>
          <g transform={`translate(${margin.left},${margin.top})`}>
            {yTicks.map((tick) => (
              <g key={tick}>
                <line x1={0} x2={plotWidth} y1={y(tick)} y2={y(tick)} className="slide-gridline" />
                <text x={-font * 0.5} y={y(tick)} dy="0.32em" textAnchor="end" className="slide-text slide-muted">
                  {yFormat(tick)}
                </text>
              </g>
            ))}
            <text transform={`translate(${-margin.left + font * 1.1},${plotHeight / 2}) rotate(-90)`} textAnchor="middle" className="slide-text slide-muted">
              {t('slides.chart.yAxis')}
            </text>
            <line x1={0} x2={plotWidth} y1={plotHeight} y2={plotHeight} className="slide-axis" />
            {xTicks.map((tick) => {
              const revealed = tick <= (points[reveal]?.step ?? 0);
              return (
                <text key={tick} x={x(tick)} y={plotHeight + font * 1.3} textAnchor="middle" className={revealed ? 'slide-text' : 'slide-text slide-future'}>
                  {tick}
                </text>
              );
            })}
            <text x={plotWidth / 2} y={plotHeight + font * 2.8} textAnchor="middle" className="slide-text slide-muted">
              {t('slides.chart.xAxis')}
            </text>

            {reveal > 0 && baseline && !hasDefended ? (
              <g className="slide-baseline">
                <line x1={x(baseline.step)} x2={plotWidth} y1={y(baseline.mass)} y2={y(baseline.mass)} className="slide-reference" />
                <text x={plotWidth} y={y(baseline.mass) - font * 0.45} textAnchor="end" className="slide-text slide-muted slide-halo">
                  {t('slides.chart.plain', { mass: percentText(baseline.mass) })}
                </text>
              </g>
            ) : null}

            <line x1={currentX} x2={currentX} y1={-font * 0.4} y2={plotHeight} className="slide-playhead" />
            <g transform={`translate(${tagX},${-font * 2})`}>
              <rect width={tagWidth} height={font * 1.5} rx={font * 0.3} className="slide-tag" />
              <text x={font / 2} y={font * 1.08} className="slide-text slide-tag-text" data-testid="slide-timeline-tag">
                {tag}
              </text>
            </g>

            {defendedPath ? <path d={defendedPath} className="slide-line slide-line-defended" style={{ stroke: cssColor(runColors.defended) }} /> : null}
            {hasDefended
              ? points.map((p) => (p.defended ? <VerdictMarker key={`d${p.index}`} verdict={p.defended.verdict} x={x(p.step)} y={y(p.defended.mass)} size={marker} hollow /> : null))
              : null}
            <path d={undefendedPath ?? ''} className="slide-line" style={{ stroke: cssColor(runColors.undefended) }} />
            {shown.map((p) => (
              <g key={p.index} className={p.index === current.index ? 'slide-point slide-point-current' : 'slide-point'} data-testid="slide-point">
                <VerdictMarker verdict={p.verdict} x={x(p.step)} y={y(p.mass)} size={p.index === current.index ? marker * 1.5 : marker} />
              </g>
            ))}
            <text
              x={valueLeft ? currentX - marker * 0.4 : currentX + marker}
              y={y(current.mass) + (undefendedBelow ? font * 1.4 + (valueLeft ? marker * 0.6 : 0) : -font * 0.6 - (valueLeft ? marker * 0.9 : 0))}
              textAnchor={valueLeft ? 'end' : 'start'}
              className="slide-text slide-value"
              style={{ fontSize: font * 1.1 }}
            >
              {valueText}
            </text>
            {defendedValue && current.defended ? (
              <text
                x={valueLeft ? currentX - marker : currentX + marker}
                y={y(current.defended.mass) + (current.defended.mass >= current.mass ? -font * 0.9 : font * 1.5)}
                textAnchor={valueLeft ? 'end' : 'start'}
                className="slide-text slide-value"
                style={{ fontSize: font * 1.1, fill: cssColor(runColors.defended) }}
              >
                {defendedValue}
              </text>
            ) : null}
          </g>
        </svg>
      ) : null}
    </div>
  );
}
