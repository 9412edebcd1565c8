// The slipping curve: request mass at the decisive query against attack step, with the layer range,
// verdict markers, the defended run, the selected layer/head and a playhead on the current step.

import { area, easeCubicOut, line, max, scaleLinear, select } from 'd3';
// Adds selection.transition() and .interrupt(): d3 declares itself side-effect free, so a bundler
// drops this augmentation unless it is imported on its own.
import 'd3-transition';
import { useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { DefenseKind } from '../../lab/kinds';
import type { Trace } from '../../lab/trace';
import { exportCsv, exportPng, exportSvg } from '../export';
import { comparedColors, cssColor, runColors } from '../palette';
import { formatMass, formatTick, measureText, prefersReducedMotion, useChartDimensions } from './chart';
import {
  exportFileName,
  timelineColumns,
  timelineCsvRows,
  timelineCsvWithCompared,
  timelineSeries,
  type HeadSelection,
  type LayerSelection,
  type TimelinePoint,
} from './data';
import { VerdictMarker } from './markers';
import { Panel } from './Panel';

export interface SlippingTimelineProps {
  readonly trace: Trace;
  /** Index into trace.steps of the current step. */
  readonly step: number;
  readonly onStepChange: (index: number) => void;
  readonly layer: LayerSelection;
  readonly head: HeadSelection;
  /** Plot the sink-adjusted request mass where the trace has it. */
  readonly sinkAdjusted?: boolean;
  /** Draw the selected layer's or head's line beside the model mean (default true when one is selected). */
  readonly showSelection?: boolean;
}

type LayerDisplay = 'band' | 'lines';

const FONT = 12;
const PLOT_HEIGHT = 230;

interface LegendEntry {
  readonly key: string;
  readonly label: string;
  readonly swatch: 'line' | 'dashed' | 'band' | 'thin' | 'refused' | 'complied' | 'selected' | 'loss' | 'compared0' | 'compared1';
}

/** Legend entries laid out left to right, wrapping to a new row when the width runs out. */
/** Greedy lines of `pieces` (kept whole where they fit) no wider than `width`. */
function fillLines(pieces: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const piece of pieces) {
    if (line && measureText(line + piece, FONT) > width) {
      lines.push(line.trimEnd());
      line = '';
    }
    line += piece;
  }
  if (line) lines.push(line.trimEnd());
  return lines;
}

/**
 * Lines of a legend label no wider than `width` (the long names of combined defenses): broken
 * before the "+" joining two defenses where possible, else after spaces and commas.
 */
function wrapLabel(label: string, width: number): string[] {
  if (measureText(label, FONT) <= width) return [label];
  return fillLines(label.split(/(?=[＋+] )/), width).flatMap((part) =>
    measureText(part, FONT) <= width ? [part] : fillLines(part.split(/(?<=[\s、，,])/), width),
  );
}

function layoutLegend(entries: readonly LegendEntry[], width: number) {
  const rowHeight = FONT + 10;
  let x = 0;
  let y = 0;
  let rowLines = 1;
  const placed = entries.map((entry) => {
    const lines = wrapLabel(entry.label, Math.max(80, width - 44));
    const w = 26 + Math.max(...lines.map((l) => measureText(l, FONT))) + 18;
    if (x > 0 && x + w > width) {
      x = 0;
      y += rowLines * rowHeight;
      rowLines = 1;
    }
    const item = { ...entry, lines, x, y };
    x += w;
    rowLines = Math.max(rowLines, lines.length);
    return item;
  });
  return { placed, height: y + rowLines * rowHeight, lineHeight: rowHeight };
}

export function SlippingTimeline({ trace, step, onStepChange, layer, head, sinkAdjusted = false, showSelection = true }: SlippingTimelineProps) {
  const { t } = useTranslation();
  const id = useId();
  const [containerRef, { width: pixelWidth, scale }] = useChartDimensions<HTMLDivElement>();
  const svgRef = useRef<SVGSVGElement>(null);
  const playheadRef = useRef<SVGGElement>(null);
  const [layerDisplay, setLayerDisplay] = useState<LayerDisplay>('band');

  const series = useMemo(() => timelineSeries(trace, { sinkAdjusted, layer, head }), [trace, sinkAdjusted, layer, head]);
  const current = series[Math.min(Math.max(step, 0), series.length - 1)];
  const hasDefended = series.some((point) => point.defended);
  // Defenses run side by side with the defended one, labelled as the trace records them.
  const comparedLabels = useMemo(() => series.find((point) => point.compared.length > 0)?.compared.map((c) => c.label) ?? [], [series]);
  // GCG's target loss rides on a second axis at the right, beside the attention it lowers.
  const hasLoss = series.some((point) => point.loss !== null);
  const hasSelection = showSelection && !(layer === 'mean' && head === 'mean');
  const fellBack = series.some((point) => point.undefended.fellBack || point.defended?.fellBack);
  const defenseLabel = trace.settings.defense.label ?? t(`defense.${trace.settings.defense.kind}`);
  const selectionLabel =
    layer !== 'mean' && head !== 'mean'
      ? t('selection.cell', { layer, head })
      : layer !== 'mean'
        ? t('selection.layer', { layer })
        : t('selection.head', { head });

  const width = pixelWidth / scale;
  const legendEntries: LegendEntry[] = [
    { key: 'mean', label: t('timeline.undefended'), swatch: 'line' },
    ...(hasDefended ? [{ key: 'defended', label: t('timeline.defended', { label: defenseLabel }), swatch: 'dashed' as const }] : []),
    ...comparedLabels.map((label, i) => ({ key: `compared${i}`, label: t('timeline.defended', { label }), swatch: (i === 0 ? 'compared0' : 'compared1') as LegendEntry['swatch'] })),
    { key: 'layers', label: layerDisplay === 'band' ? t('timeline.layerBand') : t('timeline.layerLines'), swatch: layerDisplay === 'band' ? 'band' : 'thin' },
    ...(hasSelection ? [{ key: 'selected', label: selectionLabel, swatch: 'selected' as const }] : []),
    ...(hasLoss ? [{ key: 'loss', label: t('timeline.loss'), swatch: 'loss' as const }] : []),
    { key: 'refused', label: t('verdict.refused'), swatch: 'refused' },
    { key: 'complied', label: t('verdict.complied'), swatch: 'complied' },
  ];
  const margin = { left: 58, right: hasLoss ? 58 : 18, bottom: 46 };
  const legend = layoutLegend(legendEntries, width - margin.left - margin.right);
  const top = legend.height + 30; // room for the playhead's label above the plot
  const innerWidth = Math.max(60, width - margin.left - margin.right);
  const height = top + PLOT_HEIGHT + margin.bottom;

  const x = useMemo(() => {
    const first = series[0]?.step ?? 0;
    const last = series[series.length - 1]?.step ?? 1;
    const pad = first === last ? 1 : 0;
    return scaleLinear()
      .domain([first - pad, last + pad])
      .range([14, innerWidth - 14]);
  }, [series, innerWidth]);
  const y = useMemo(() => {
    const top =
      max(series.flatMap((p) => [p.undefended.layerMax, p.defended?.layerMax ?? 0, p.undefended.selected ?? 0, p.defended?.selected ?? 0, ...p.compared.map((c) => c.point.mass)])) ?? 1;
    return scaleLinear()
      .domain([0, top > 0 ? top * 1.05 : 1])
      .range([PLOT_HEIGHT, 0])
      .nice();
  }, [series]);

  const lossY = useMemo(() => {
    const top = max(series, (p) => p.loss ?? 0) ?? 1;
    return scaleLinear()
      .domain([0, top > 0 ? top * 1.05 : 1])
      .range([PLOT_HEIGHT, 0])
      .nice();
  }, [series]);
  const lossPath = useMemo(
    () =>
      line<TimelinePoint>()
        .defined((p) => p.loss !== null)
        .x((p) => x(p.step))
        .y((p) => lossY(p.loss!))(series) ?? '',
    [series, x, lossY],
  );

  const paths = useMemo(() => {
    const meanLine = line<TimelinePoint>()
      .x((p) => x(p.step))
      .y((p) => y(p.undefended.mass));
    const defendedLine = line<TimelinePoint>()
      .defined((p) => p.defended !== null)
      .x((p) => x(p.step))
      .y((p) => y(p.defended!.mass));
    const band = area<TimelinePoint>()
      .x((p) => x(p.step))
      .y0((p) => y(p.undefended.layerMin))
      .y1((p) => y(p.undefended.layerMax));
    const nLayer = series[0]?.undefended.layerMeans.length ?? 0;
    const layerLines = Array.from({ length: nLayer }, (_, l) =>
      line<TimelinePoint>()
        .x((p) => x(p.step))
        .y((p) => y(p.undefended.layerMeans[l]))(series)!,
    );
    const selected = line<TimelinePoint>()
      .defined((p) => p.undefended.selected !== null)
      .x((p) => x(p.step))
      .y((p) => y(p.undefended.selected!));
    const defendedSelected = line<TimelinePoint>()
      .defined((p) => p.defended?.selected != null)
      .x((p) => x(p.step))
      .y((p) => y(p.defended!.selected!));
    return {
      mean: meanLine(series)!,
      defended: defendedLine(series)!,
      band: band(series)!,
      layerLines,
      selected: selected(series)!,
      defendedSelected: defendedSelected(series)!,
      compared: comparedLabels.map(
        (_, i) =>
          line<TimelinePoint>()
            .defined((p) => p.compared[i] !== undefined)
            .x((p) => x(p.step))
            .y((p) => y(p.compared[i].point.mass))(series) ?? '',
      ),
    };
  }, [series, x, y, comparedLabels]);

  // The y title shrinks rather than run past the plot (the sink-adjusted one is long in English).
  const yTitle = sinkAdjusted ? t('timeline.yAxisSink') : t('timeline.yAxis');
  const yTitleSize = Math.min(12, (12 * (PLOT_HEIGHT - 8)) / measureText(yTitle, 12, { weight: 600 }));
  const xTicks = series.length <= 24 ? series.map((p) => p.step) : x.ticks(10);
  const yTicks = y.ticks(5);
  const playheadX = current ? x(current.step) : 0;

  // The playhead glides to a new step (d3 owns its transform; React never sets it). A resize or
  // the first render only moves it: nothing happened in the story. A layout effect, so the playhead
  // never shows a frame behind the markers React just moved.
  const placedStep = useRef<number | null>(null);
  const currentIndex = current?.index ?? 0;
  useLayoutEffect(() => {
    const node = playheadRef.current;
    if (!node) return;
    const target = `translate(${playheadX},0)`;
    if (placedStep.current === null || placedStep.current === currentIndex || prefersReducedMotion()) {
      select(node).interrupt().attr('transform', target);
    } else {
      select(node).transition().duration(450).ease(easeCubicOut).attr('transform', target);
    }
    placedStep.current = currentIndex;
  }, [playheadX, currentIndex]);

  // Half-way between neighbouring steps: each step's click target.
  const hitAreas = series.map((p, i) => {
    const left = i === 0 ? 0 : (x(series[i - 1].step) + x(p.step)) / 2;
    const right = i === series.length - 1 ? innerWidth : (x(p.step) + x(series[i + 1].step)) / 2;
    return { point: p, left, width: right - left };
  });

  const onKeyDown = (event: KeyboardEvent) => {
    const last = series.length - 1;
    const to =
      event.key === 'ArrowRight' || event.key === 'ArrowUp'
        ? Math.min(last, step + 1)
        : event.key === 'ArrowLeft' || event.key === 'ArrowDown'
          ? Math.max(0, step - 1)
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? last
              : null;
    if (to === null) return;
    event.preventDefault();
    if (to !== step) onStepChange(to);
  };

  const stepText = (index: number) => {
    const p = series[index];
    return p ? t('timeline.stepValue', { step: p.step, label: p.label }) : '';
  };
  const playheadLabel = current ? stepText(current.index) : '';
  const labelWidth = measureText(playheadLabel, FONT, { weight: 600 }) + 12;
  // Keep the label inside the plot: anchor it left, centre or right of the playhead.
  const labelShift = Math.min(Math.max(-labelWidth / 2, -playheadX), innerWidth - playheadX - labelWidth);

  const subtitle = current
    ? [
        t('timeline.current', { step: current.step, total: series[series.length - 1].step, label: current.label }),
        t('timeline.massNow', { mass: formatMass(current.undefended.mass) }),
        ...(current.defended ? [t('timeline.defendedNow', { mass: formatMass(current.defended.mass) })] : []),
        ...current.compared.map((c) => t('timeline.comparedNow', { defense: t(`defense.${c.kind as DefenseKind}`), mass: formatMass(c.point.mass) })),
        ...(current.loss !== null ? [t('timeline.lossNow', { loss: current.loss.toFixed(3) })] : []),
      ].join(' · ')
    : '';
  const fileStep = current?.step ?? 0;
  const heading = { title: t('timeline.title'), subtitle };
  const exports = {
    svg: () => svgRef.current && exportSvg(svgRef.current, exportFileName('timeline', fileStep, 'svg'), heading),
    png: () => (svgRef.current ? exportPng(svgRef.current, exportFileName('timeline', fileStep, 'png'), heading) : undefined),
    csv: () => {
      if (comparedLabels.length === 0) return exportCsv(timelineCsvRows(series), timelineColumns, exportFileName('timeline', fileStep, 'csv'));
      const { rows, columns } = timelineCsvWithCompared(series);
      return exportCsv(rows, columns, exportFileName('timeline', fileStep, 'csv'));
    },
  };

  const toolbar = (
    <div className="slip-segmented" role="group" aria-label={t('timeline.display')}>
      {(['band', 'lines'] as const).map((mode) => (
        <button key={mode} type="button" aria-pressed={layerDisplay === mode} onClick={() => setLayerDisplay(mode)}>
          {t(`timeline.${mode}`)}
        </button>
      ))}
    </div>
  );

  return (
    <Panel name="timeline" title={t('timeline.title')} subtitle={subtitle} info={<p>{t('timeline.info')}</p>} toolbar={toolbar} exports={exports}>
      <div ref={containerRef} className="slip-chart">
        {series.length === 0 ? (
          <p className="slip-empty">{t('timeline.empty')}</p>
        ) : (
          <svg
            ref={svgRef}
            className="slip-svg slip-timeline"
            width={pixelWidth}
            height={height * scale}
            viewBox={`0 0 ${width} ${height}`}
            role="slider"
            tabIndex={0}
            aria-labelledby={`${id}-label`}
            aria-valuemin={0}
            aria-valuemax={series.length - 1}
            aria-valuenow={current?.index ?? 0}
            aria-valuetext={playheadLabel}
            onKeyDown={onKeyDown}
          >
            <title id={`${id}-label`}>{t('timeline.slider')}</title>
            <g className="slip-legend" transform={`translate(${margin.left},6)`}>
              {legend.placed.map((entry) => (
                <g key={entry.key} transform={`translate(${entry.x},${entry.y})`}>
                  <LegendSwatch kind={entry.swatch} />
                  <text x={26} y={FONT / 2 + 4} className="slip-text">
                    {entry.lines.map((line, i) => (
                      <tspan key={i} x={26} dy={i === 0 ? 0 : legend.lineHeight}>
                        {line}
                      </tspan>
                    ))}
                  </text>
                </g>
              ))}
            </g>
            <g transform={`translate(${margin.left},${top})`}>
              <g className="slip-grid-lines">
                {yTicks.map((tick) => (
                  <line key={tick} x1={0} x2={innerWidth} y1={y(tick)} y2={y(tick)} className="slip-gridline" />
                ))}
              </g>
              {layerDisplay === 'band' ? (
                <path d={paths.band} className="slip-band" style={{ fill: cssColor(runColors.undefended) }} />
              ) : (
                paths.layerLines.map((d, l) => <path key={l} d={d} className="slip-layer-line" style={{ stroke: cssColor(runColors.undefended) }} />)
              )}
              {hasDefended ? <path d={paths.defended} className="slip-line slip-line-defended" style={{ stroke: cssColor(runColors.defended) }} /> : null}
              {paths.compared.map((d, i) => (
                <path key={i} d={d} className="slip-line slip-line-compared" style={{ stroke: cssColor(comparedColors[i % comparedColors.length]) }} data-testid="timeline-compared" />
              ))}
              <path d={paths.mean} className="slip-line slip-line-mean" style={{ stroke: cssColor(runColors.undefended) }} />
              {hasLoss ? (
                <g data-testid="timeline-loss">
                  <path d={lossPath} className="slip-line slip-line-loss" />
                  {series.map((p) => (p.loss !== null ? <circle key={p.index} cx={x(p.step)} cy={lossY(p.loss)} r={2.5} className="slip-loss-dot" /> : null))}
                  <g className="slip-axis slip-axis-loss" transform={`translate(${innerWidth},0)`}>
                    {lossY.ticks(5).map((tick) => (
                      <text key={tick} x={8} y={lossY(tick)} dy="0.32em" textAnchor="start" className="slip-text slip-tick">
                        {formatTick(tick)}
                      </text>
                    ))}
                    <text transform={`translate(${44},${PLOT_HEIGHT / 2}) rotate(90)`} textAnchor="middle" className="slip-text slip-axis-title">
                      {t('timeline.lossAxis')}
                    </text>
                  </g>
                </g>
              ) : null}
              {hasSelection ? (
                <>
                  <path d={paths.selected} className="slip-line slip-line-selected" style={{ stroke: cssColor(runColors.selected) }} />
                  {hasDefended ? (
                    <path d={paths.defendedSelected} className="slip-line slip-line-selected slip-line-dashed" style={{ stroke: cssColor(runColors.selected) }} />
                  ) : null}
                </>
              ) : null}
              <g ref={playheadRef} className="slip-playhead" data-testid="timeline-playhead">
                <line y1={-8} y2={PLOT_HEIGHT} className="slip-playhead-line" />
                <g transform={`translate(${labelShift},-26)`}>
                  <rect width={labelWidth} height={FONT + 8} rx={4} className="slip-playhead-tag" />
                  <text x={6} y={FONT + 1} className="slip-text slip-playhead-text">
                    {playheadLabel}
                  </text>
                </g>
              </g>
              {series.map((p) => (
                <g key={p.index} className={p.index === current?.index ? 'slip-step slip-step-current' : 'slip-step'}>
                  {p.defended ? <VerdictMarker verdict={p.defended.verdict} x={x(p.step)} y={y(p.defended.mass)} hollow size={p.index === current?.index ? 13 : 10} /> : null}
                  {p.compared.map((c, i) => (
                    <VerdictMarker key={i} verdict={c.point.verdict} x={x(p.step)} y={y(c.point.mass)} hollow size={p.index === current?.index ? 12 : 9} />
                  ))}
                  <VerdictMarker verdict={p.undefended.verdict} x={x(p.step)} y={y(p.undefended.mass)} size={p.index === current?.index ? 14 : 11} />
                </g>
              ))}
              <g className="slip-axis slip-axis-y">
                {yTicks.map((tick) => (
                  <text key={tick} x={-8} y={y(tick)} dy="0.32em" textAnchor="end" className="slip-text slip-tick">
                    {formatTick(tick)}
                  </text>
                ))}
                <text
                  transform={`translate(${-44},${PLOT_HEIGHT / 2}) rotate(-90)`}
                  textAnchor="middle"
                  className="slip-text slip-axis-title"
                  style={{ fontSize: yTitleSize }}
                >
                  {yTitle}
                </text>
              </g>
              <g className="slip-axis slip-axis-x" transform={`translate(0,${PLOT_HEIGHT})`}>
                <line x1={0} x2={innerWidth} className="slip-axis-line" />
                {xTicks.map((tick) => (
                  <g key={tick} transform={`translate(${x(tick)},0)`}>
                    <line y2={5} className="slip-axis-line" />
                    <text y={18} textAnchor="middle" className="slip-text slip-tick">
                      {tick}
                    </text>
                  </g>
                ))}
                <text x={innerWidth / 2} y={38} textAnchor="middle" className="slip-text slip-axis-title">
                  {t('timeline.xAxis')}
                </text>
              </g>
              <g data-export="exclude">
                {hitAreas.map(({ point, left, width: w }) => (
                  <rect
                    key={point.index}
                    x={left}
                    y={-30}
                    width={w}
                    height={PLOT_HEIGHT + 30}
                    className="slip-hit"
                    onClick={() => onStepChange(point.index)}
                  >
                    <title>
                      {`${stepText(point.index)} — ${t('timeline.massNow', { mass: formatMass(point.undefended.mass) })}, ${t(`verdict.${point.undefended.verdict}`)}` +
                        (point.defended
                          ? `; ${t('timeline.defendedNow', { mass: formatMass(point.defended.mass) })}, ${t(`verdict.${point.defended.verdict}`)}`
                          : '') +
                        point.compared
                          .map((c) => `; ${t('timeline.comparedNow', { defense: t(`defense.${c.kind as DefenseKind}`), mass: formatMass(c.point.mass) })}, ${t(`verdict.${c.point.verdict}`)}`)
                          .join('') +
                        (point.loss !== null ? `; ${t('timeline.lossNow', { loss: point.loss.toFixed(3) })}` : '')}
                    </title>
                  </rect>
                ))}
              </g>
            </g>
          </svg>
        )}
      </div>
      {fellBack ? <p className="slip-note">{t('timeline.sinkMissing')}</p> : null}
    </Panel>
  );
}

function LegendSwatch({ kind }: { kind: LegendEntry['swatch'] }) {
  const mid = FONT / 2;
  switch (kind) {
    case 'line':
      return <line x1={0} x2={20} y1={mid} y2={mid} className="slip-line slip-line-mean" style={{ stroke: cssColor(runColors.undefended) }} />;
    case 'dashed':
      // The defended run: dashed line, hollow markers.
      return (
        <>
          <line x1={0} x2={20} y1={mid} y2={mid} className="slip-line slip-line-defended" style={{ stroke: cssColor(runColors.defended) }} />
          <VerdictMarker verdict="refused" x={10} y={mid} size={9} hollow />
        </>
      );
    case 'band':
      return <rect x={0} y={mid - 6} width={20} height={12} className="slip-band" style={{ fill: cssColor(runColors.undefended) }} />;
    case 'thin':
      return <line x1={0} x2={20} y1={mid} y2={mid} className="slip-layer-line" style={{ stroke: cssColor(runColors.undefended) }} />;
    case 'selected':
      return <line x1={0} x2={20} y1={mid} y2={mid} className="slip-line slip-line-selected" style={{ stroke: cssColor(runColors.selected) }} />;
    case 'loss':
      return <line x1={0} x2={20} y1={mid} y2={mid} className="slip-line slip-line-loss" />;
    case 'compared0':
    case 'compared1':
      return (
        <>
          <line x1={0} x2={20} y1={mid} y2={mid} className="slip-line slip-line-compared" style={{ stroke: cssColor(comparedColors[kind === 'compared0' ? 0 : 1]) }} />
          <VerdictMarker verdict="refused" x={10} y={mid} size={8} hollow />
        </>
      );
    case 'refused':
    case 'complied':
      return <VerdictMarker verdict={kind} x={10} y={mid} size={11} />;
  }
}
