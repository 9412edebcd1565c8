// Layer × head heat map of request mass at the decisive query, with row and column means; a cell,
// a layer's mean or a head's mean is selected by click or keyboard (arrows move, Enter/Space pick).

import { useCallback, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace, TraceRun } from '../../lab/trace';
import { exportCsv, exportPng, exportSvg } from '../export';
import { heatColor, inkOn } from '../palette';
import { formatMass, formatTick, useChartDimensions } from './chart';
import { exportFileName, gridColumns, gridCsvRows, gridMax, gridValues, runLocation, type HeadSelection, type LayerSelection } from './data';
import { Panel } from './Panel';

export interface HeadGridProps {
  readonly trace: Trace;
  /** The step, or its defended run, to show. */
  readonly run: TraceRun;
  readonly layer: LayerSelection;
  readonly head: HeadSelection;
  /** A cell gives (layer, head); the mean column (layer, 'mean'); the mean row ('mean', head); the corner both means. */
  readonly onSelect: (layer: LayerSelection, head: HeadSelection) => void;
  readonly sinkAdjusted?: boolean;
}

const FONT = 12;
const GAP = 1;
const MEAN_GAP = 8;
const LEGEND_HEIGHT = 46;

/** A focus position: rows 0…nLayer-1 are layers and nLayer is the mean row; likewise columns. */
interface Cell {
  readonly row: number;
  readonly col: number;
}

export function HeadGrid({ trace, run, layer, head, onSelect, sinkAdjusted = false }: HeadGridProps) {
  const { t } = useTranslation();
  const id = useId();
  const [containerRef, { width: pixelWidth, scale }] = useChartDimensions<HTMLDivElement>();
  const svgRef = useRef<SVGSVGElement>(null);
  const cellRefs = useRef(new Map<string, SVGRectElement>());
  const location = runLocation(trace, run);

  const grid = useMemo(() => gridValues(run, sinkAdjusted), [run, sinkAdjusted]);
  const top = useMemo(() => gridMax(trace, sinkAdjusted), [trace, sinkAdjusted]);
  const nLayer = grid.matrix.length;
  const nHead = grid.matrix[0]?.length ?? 0;

  const selectedCell: Cell = { row: layer === 'mean' ? nLayer : layer, col: head === 'mean' ? nHead : head };
  const [focus, setFocus] = useState<Cell | null>(null);
  const [hover, setHover] = useState<Cell | null>(null);
  const active = focus ?? selectedCell;

  // Layout in user units (the viewBox scales it for the presenter).
  const width = pixelWidth / scale;
  const margin = { left: 40, top: 34, right: 12 };
  const available = width - margin.left - margin.right - MEAN_GAP;
  const cell = Math.max(10, Math.min(40, Math.floor(available / (nHead + 1)) - GAP));
  const pitch = cell + GAP;
  const gridWidth = nHead * pitch;
  const gridHeight = nLayer * pitch;
  const meanX = gridWidth + MEAN_GAP;
  const meanY = gridHeight + MEAN_GAP;
  const showValues = cell >= 30;
  const rowLabelEvery = pitch >= FONT + 2 ? 1 : Math.ceil((FONT + 2) / pitch);
  const colLabelEvery = pitch >= 24 ? 1 : Math.ceil(24 / pitch);
  const height = margin.top + meanY + pitch + 16 + LEGEND_HEIGHT;
  const drawnWidth = Math.max(width, margin.left + meanX + pitch + margin.right);

  const valueAt = ({ row, col }: Cell): number =>
    row === nLayer && col === nHead ? grid.model : row === nLayer ? grid.headMeans[col] : col === nHead ? grid.layerMeans[row] : grid.matrix[row][col];
  const describe = (position: Cell): string => {
    const { row, col } = position;
    const where =
      row === nLayer && col === nHead
        ? t('selection.model')
        : row === nLayer
          ? t('selection.head', { head: col })
          : col === nHead
            ? t('selection.layer', { layer: row })
            : t('selection.cell', { layer: row, head: col });
    return `${where}: ${formatMass(valueAt(position))}`;
  };
  const select = ({ row, col }: Cell) => onSelect(row === nLayer ? 'mean' : row, col === nHead ? 'mean' : col);
  const key = ({ row, col }: Cell) => `${row}:${col}`;

  const moveFocus = useCallback((to: Cell) => {
    setFocus(to);
    cellRefs.current.get(`${to.row}:${to.col}`)?.focus();
  }, []);
  const onKeyDown = (event: KeyboardEvent) => {
    const { row, col } = active;
    const clampRow = (r: number) => Math.min(nLayer, Math.max(0, r));
    const clampCol = (c: number) => Math.min(nHead, Math.max(0, c));
    let to: Cell | null = null;
    if (event.key === 'ArrowUp') to = { row: clampRow(row - 1), col };
    else if (event.key === 'ArrowDown') to = { row: clampRow(row + 1), col };
    else if (event.key === 'ArrowLeft') to = { row, col: clampCol(col - 1) };
    else if (event.key === 'ArrowRight') to = { row, col: clampCol(col + 1) };
    else if (event.key === 'Home') to = { row, col: 0 };
    else if (event.key === 'End') to = { row, col: nHead };
    else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select(active);
      return;
    }
    if (!to) return;
    event.preventDefault();
    moveFocus(to);
  };

  const isSelected = ({ row, col }: Cell) =>
    (selectedCell.row === row || selectedCell.row === nLayer) && (selectedCell.col === col || selectedCell.col === nHead);
  const position = (c: Cell) => ({ x: c.col === nHead ? meanX : c.col * pitch, y: c.row === nLayer ? meanY : c.row * pitch });

  const cells: Cell[] = [];
  for (let row = 0; row <= nLayer; row++) for (let col = 0; col <= nHead; col++) cells.push({ row, col });

  // The outline of the selection: one cell (the corner for the model mean), or a whole row or column with its mean.
  const outline = (() => {
    const { row, col } = selectedCell;
    if (row === nLayer && col === nHead) return { ...position(selectedCell), w: cell, h: cell };
    if (row === nLayer) return { x: col * pitch, y: 0, w: cell, h: meanY + cell };
    if (col === nHead) return { x: 0, y: row * pitch, w: meanX + cell, h: cell };
    return { ...position(selectedCell), w: cell, h: cell };
  })();

  const legendTicks = [0, top / 2, top];
  const legendWidth = Math.min(220, Math.max(120, gridWidth));
  const variant = location.defended ? 'defended' : undefined;
  const readout = hover ?? focus;
  const subtitle = `${location.defended ? t('run.defended') : t('run.undefended')} · ${t('timeline.stepValue', { step: location.step, label: trace.steps[location.index]?.label ?? '' })}`;
  const heading = { title: t('grid.title'), subtitle };
  const exports = {
    svg: () => svgRef.current && exportSvg(svgRef.current, exportFileName('grid', location.step, 'svg', variant), heading),
    png: () => (svgRef.current ? exportPng(svgRef.current, exportFileName('grid', location.step, 'png', variant), heading) : undefined),
    csv: () => exportCsv(gridCsvRows(grid.matrix), gridColumns, exportFileName('grid', location.step, 'csv', variant)),
  };

  return (
    <Panel name="grid" title={t('grid.title')} subtitle={subtitle} info={<p>{t('grid.info')}</p>} exports={exports}>
      <div ref={containerRef} className="slip-chart slip-scroll">
        <svg
          ref={svgRef}
          className="slip-svg slip-grid"
          width={drawnWidth * scale}
          height={height * scale}
          viewBox={`0 0 ${drawnWidth} ${height}`}
          aria-labelledby={`${id}-title`}
        >
          <title id={`${id}-title`}>{t('grid.title')}</title>
          <g transform={`translate(${margin.left},${margin.top})`}>
            <text x={gridWidth / 2} y={-22} textAnchor="middle" className="slip-text slip-axis-title">
              {t('grid.heads')}
            </text>
            <text transform={`translate(${-30},${gridHeight / 2}) rotate(-90)`} textAnchor="middle" className="slip-text slip-axis-title">
              {t('grid.layers')}
            </text>
            {Array.from({ length: nHead }, (_, h) =>
              h % colLabelEvery === 0 ? (
                <text key={h} x={h * pitch + cell / 2} y={-6} textAnchor="middle" className="slip-text slip-tick">
                  {h}
                </text>
              ) : null,
            )}
            <text x={meanX + cell / 2} y={-6} textAnchor="middle" className="slip-text slip-tick slip-strong">
              {t('grid.mean')}
            </text>
            {Array.from({ length: nLayer }, (_, l) =>
              l % rowLabelEvery === 0 ? (
                <text key={l} x={-6} y={l * pitch + cell / 2} dy="0.32em" textAnchor="end" className="slip-text slip-tick">
                  {l}
                </text>
              ) : null,
            )}
            <text x={-6} y={meanY + cell / 2} dy="0.32em" textAnchor="end" className="slip-text slip-tick slip-strong">
              {t('grid.mean')}
            </text>
            <g role="grid" aria-label={t('grid.gridLabel')} aria-rowcount={nLayer + 1} aria-colcount={nHead + 1} onKeyDown={onKeyDown}>
              {Array.from({ length: nLayer + 1 }, (_, row) => (
                <g key={row} role="row" aria-rowindex={row + 1}>
                  {cells
                    .filter((c) => c.row === row)
                    .map((c) => {
                      const value = valueAt(c);
                      const fill = heatColor(value / top);
                      const { x, y } = position(c);
                      const isActive = active.row === c.row && active.col === c.col;
                      return (
                        <g key={key(c)}>
                          <rect
                            ref={(element) => {
                              if (element) cellRefs.current.set(key(c), element);
                              else cellRefs.current.delete(key(c));
                            }}
                            x={x}
                            y={y}
                            width={cell}
                            height={cell}
                            className={c.row === nLayer || c.col === nHead ? 'slip-cell slip-cell-mean' : 'slip-cell'}
                            style={{ fill }}
                            role="gridcell"
                            aria-colindex={c.col + 1}
                            aria-selected={isSelected(c)}
                            aria-label={describe(c)}
                            tabIndex={isActive ? 0 : -1}
                            onClick={() => {
                              setFocus(c);
                              select(c);
                            }}
                            onFocus={() => setFocus(c)}
                            onPointerEnter={() => setHover(c)}
                            onPointerLeave={() => setHover(null)}
                          >
                            <title>{describe(c)}</title>
                          </rect>
                          {showValues ? (
                            <text x={x + cell / 2} y={y + cell / 2} dy="0.35em" textAnchor="middle" className="slip-cell-value" style={{ fill: inkOn(fill) }}>
                              {formatMass(value).replace(/^0/, '')}
                            </text>
                          ) : null}
                        </g>
                      );
                    })}
                </g>
              ))}
            </g>
            <g className="slip-selection" pointerEvents="none">
              <rect x={outline.x - 1.5} y={outline.y - 1.5} width={outline.w + 3} height={outline.h + 3} className="slip-selection-halo" />
              <rect x={outline.x - 1.5} y={outline.y - 1.5} width={outline.w + 3} height={outline.h + 3} className="slip-selection-ring" />
            </g>
            {focus ? (
              <rect
                data-export="exclude"
                pointerEvents="none"
                x={position(focus).x - 3.5}
                y={position(focus).y - 3.5}
                width={cell + 7}
                height={cell + 7}
                className="slip-focus-ring"
              />
            ) : null}
            <g transform={`translate(0,${meanY + cell + 18})`} className="slip-grid-legend">
              <defs>
                <linearGradient id={`${id}-ramp`}>
                  {Array.from({ length: 9 }, (_, i) => (
                    <stop key={i} offset={`${(i / 8) * 100}%`} stopColor={heatColor(i / 8)} />
                  ))}
                </linearGradient>
              </defs>
              <rect width={legendWidth} height={12} style={{ fill: `url(#${id}-ramp)` }} />
              {legendTicks.map((tick) => (
                <text key={tick} x={(tick / top) * legendWidth} y={26} textAnchor={tick === 0 ? 'start' : tick === top ? 'end' : 'middle'} className="slip-text slip-tick">
                  {formatTick(tick)}
                </text>
              ))}
              <text x={legendWidth + 10} y={10} className="slip-text slip-muted-text">
                {sinkAdjusted && grid.adjusted ? t('grid.legendSink') : t('grid.legend')}
              </text>
            </g>
          </g>
        </svg>
      </div>
      <p className="slip-readout" aria-live="polite">
        {readout ? describe(readout) : t('grid.hint')}
      </p>
    </Panel>
  );
}
