// The full query × key attention map of one head over the prompt, on a canvas, with span bands on
// both axes and a hover (or keyboard) readout; asks the app to compute the map when it is missing.

import { scaleLinear, scalePow } from 'd3';
import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace, TraceRun, TraceSpanKind } from '../../lab/trace';
import { canvasWithHeading, exportCanvasSvg, exportCsv, exportPng, themeBackground } from '../export';
import { heatColor, heatGradientCss, resolveColor, spanColors } from '../palette';
import { formatMass, measureText, useChartDimensions } from './chart';
import { exportFileName, mapStatus, matrixColumns, matrixCsvRows, primarySpanIndex, runLocation, tokenTextParts, type HeadSelection, type LayerSelection } from './data';
import { Panel } from './Panel';

export interface AttentionMatrixProps {
  readonly trace: Trace;
  /** The step, or its defended run, whose map is shown. */
  readonly run: TraceRun;
  readonly layer: LayerSelection;
  readonly head: HeadSelection;
  /** The live app computes a head's map on request; replay leaves this out. */
  readonly onRequestMap?: (layer: number, head: number) => void;
  /** A requested map is being computed. */
  readonly mapPending?: boolean;
  /** Jump to the head whose map the run already has. */
  readonly onSelectHead?: (layer: number, head: number) => void;
}

type ScaleMode = 'sqrt' | 'linear';

const BAND = 16;
const TITLE = 18;
const FONT = 11;

interface Cursor {
  readonly query: number;
  readonly key: number;
}

/** Contiguous runs of tokens drawn in the same span, for the bands along the axes. */
function spanRuns(run: TraceRun): { start: number; end: number; kind: TraceSpanKind | null; spanIndex: number }[] {
  const runs: { start: number; end: number; kind: TraceSpanKind | null; spanIndex: number }[] = [];
  for (let k = 0; k < run.tokens.length; k++) {
    const spanIndex = primarySpanIndex(run.spans, k);
    const last = runs[runs.length - 1];
    if (last && last.spanIndex === spanIndex) last.end = k + 1;
    else runs.push({ start: k, end: k + 1, kind: spanIndex >= 0 ? run.spans[spanIndex].kind : null, spanIndex });
  }
  return runs;
}

const tokenShown = (run: TraceRun, k: number) =>
  tokenTextParts(run.tokenTexts?.[k] ?? `#${run.tokens[k]}`)
    .map((part) => part.text)
    .join('');

export function AttentionMatrix({ trace, run, layer, head, onRequestMap, mapPending = false, onSelectHead }: AttentionMatrixProps) {
  const { t } = useTranslation();
  const id = useId();
  const [containerRef, { width: pixelWidth, scale, themeVersion }] = useChartDimensions<HTMLDivElement>();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [scaleMode, setScaleMode] = useState<ScaleMode>('sqrt');
  const [cursor, setCursor] = useState<Cursor | null>(null);
  const location = runLocation(trace, run);
  const status = mapStatus(run, layer, head);
  const data = status === 'ready' ? run.map!.data : null;
  const n = run.tokens.length;
  const runs = useMemo(() => spanRuns(run), [run]);

  // Layout in CSS pixels before the presenter scale.
  const width = pixelWidth / scale;
  const left = TITLE + BAND + 4;
  const top = TITLE + BAND + 4;
  const side = Math.max(120, Math.min(width - left - 8, 760));
  const cssWidth = left + side + 8;
  const cssHeight = top + side + 8;
  const cellSize = n > 0 ? side / n : side;

  const colorScale = useMemo(
    () => (scaleMode === 'sqrt' ? scalePow().exponent(0.5) : scaleLinear()).domain([0, 1]).range([0, 1]).clamp(true),
    [scaleMode],
  );

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !data) return;
    const ratio = (window.devicePixelRatio || 1) * scale;
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    const context = canvas.getContext('2d');
    if (!context) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const background = themeBackground(canvas);
    const ink = resolveColor(canvas, { cssVar: '--slip-ink', fallback: '#1d2330' });
    context.fillStyle = background;
    context.fillRect(0, 0, cssWidth, cssHeight);

    // One pixel per (query, key), scaled up without smoothing; keys after the query (causal mask) stay background.
    const image = new ImageData(n, n);
    const bg = parseRgb(background);
    for (let q = 0; q < n; q++)
      for (let k = 0; k < n; k++) {
        const at = (q * n + k) * 4;
        const [r, g, b] = k > q ? bg : parseRgb(heatColor(colorScale(data[q][k])));
        image.data[at] = r;
        image.data[at + 1] = g;
        image.data[at + 2] = b;
        image.data[at + 3] = 255;
      }
    const pixels = document.createElement('canvas');
    pixels.width = n;
    pixels.height = n;
    pixels.getContext('2d')!.putImageData(image, 0, 0);
    context.imageSmoothingEnabled = false;
    context.drawImage(pixels, left, top, side, side);

    // Span bands with labels where they fit.
    context.font = `600 ${FONT}px ${getComputedStyle(canvas).fontFamily}`;
    context.textBaseline = 'middle';
    for (const span of runs) {
      const from = span.start * cellSize;
      const length = (span.end - span.start) * cellSize;
      const color = span.kind ? resolveColor(canvas, spanColors[span.kind]) : background;
      context.fillStyle = color;
      context.fillRect(left + from, TITLE, length, BAND);
      context.fillRect(TITLE, top + from, BAND, length);
      if (!span.kind) continue;
      const label = t(`span.${span.kind}`);
      if (measureText(label, FONT, { weight: 600 }) + 6 < length) {
        context.fillStyle = '#000';
        context.textAlign = 'left';
        context.fillText(label, left + from + 3, TITLE + BAND / 2 + 1);
        context.save();
        context.translate(TITLE + BAND / 2 + 1, top + from + 3);
        context.rotate(Math.PI / 2);
        context.fillText(label, 0, 0);
        context.restore();
      }
    }
    // Axis titles.
    context.fillStyle = ink;
    context.font = `${FONT + 1}px ${getComputedStyle(canvas).fontFamily}`;
    context.textAlign = 'left';
    context.fillText(t('matrix.keyAxis'), left, TITLE / 2);
    context.save();
    context.translate(TITLE / 2, top);
    context.rotate(-Math.PI / 2);
    context.textAlign = 'right';
    context.fillText(t('matrix.queryAxis'), 0, 0);
    context.restore();
  }, [data, n, runs, colorScale, cssWidth, cssHeight, side, cellSize, left, top, scale, themeVersion, t]);

  const cellFromPointer = (event: PointerEvent<HTMLElement>): Cursor | null => {
    const box = event.currentTarget.getBoundingClientRect();
    const x = (event.clientX - box.left) / scale - left;
    const y = (event.clientY - box.top) / scale - top;
    if (x < 0 || y < 0 || x >= side || y >= side) return null;
    return { query: Math.floor(y / cellSize), key: Math.floor(x / cellSize) };
  };
  const onKeyDown = (event: KeyboardEvent) => {
    const at = cursor ?? { query: n - 1, key: 0 };
    const clamp = (v: number) => Math.min(n - 1, Math.max(0, v));
    const moves: Record<string, Cursor> = {
      ArrowUp: { query: clamp(at.query - 1), key: at.key },
      ArrowDown: { query: clamp(at.query + 1), key: at.key },
      ArrowLeft: { query: at.query, key: clamp(at.key - 1) },
      ArrowRight: { query: at.query, key: clamp(at.key + 1) },
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    setCursor(moves[event.key]);
  };

  const spanName = (k: number) => {
    const index = primarySpanIndex(run.spans, k);
    return index >= 0 ? t(`span.${run.spans[index].kind}`) : t('span.none');
  };
  const readout =
    cursor && data
      ? t('matrix.readout', {
          query: cursor.query,
          queryText: tokenShown(run, cursor.query),
          key: cursor.key,
          keyText: tokenShown(run, cursor.key),
          span: spanName(cursor.key),
          p: cursor.key > cursor.query ? t('matrix.masked') : formatMass(data[cursor.query][cursor.key]),
        })
      : t('matrix.hint');

  const headName = layer !== 'mean' && head !== 'mean' ? t('selection.cell', { layer, head }) : '';
  const variant = `${location.defended ? 'defended-' : ''}l${layer}-h${head}`;
  const subtitle = `${location.defended ? t('run.defended') : t('run.undefended')} · ${t('timeline.stepValue', { step: location.step, label: trace.steps[location.index]?.label ?? '' })}${headName ? ` · ${headName}` : ''}`;
  const headed = () => canvasWithHeading(canvasRef.current!, { title: t('matrix.title'), subtitle });
  const exports = data
    ? {
        svg: () => {
          const canvas = headed();
          const ratio = canvas.width / canvasRef.current!.width;
          exportCanvasSvg(canvas, cssWidth * scale, (canvas.height / canvasRef.current!.height) * cssHeight * scale * ratio, `${t('matrix.title')} · ${subtitle}`, exportFileName('matrix', location.step, 'svg', variant));
        },
        png: () => exportPng(headed(), exportFileName('matrix', location.step, 'png', variant)),
        csv: () => exportCsv(matrixCsvRows(data), matrixColumns, exportFileName('matrix', location.step, 'csv', variant)),
      }
    : undefined;

  const toolbar = data ? (
    <div className="slip-segmented" role="group" aria-label={t('matrix.scale')}>
      {(['sqrt', 'linear'] as const).map((mode) => (
        <button key={mode} type="button" aria-pressed={scaleMode === mode} onClick={() => setScaleMode(mode)}>
          {t(`matrix.${mode}`)}
        </button>
      ))}
    </div>
  ) : null;

  return (
    <Panel name="matrix" title={t('matrix.title')} subtitle={subtitle} info={<p>{t('matrix.info')}</p>} toolbar={toolbar} exports={exports}>
      <div ref={containerRef} className="slip-chart">
        {data ? (
          <>
            <div
              className="slip-matrix"
              style={{ width: cssWidth * scale, height: cssHeight * scale }}
              tabIndex={0}
              role="img"
              aria-labelledby={`${id}-readout`}
              onPointerMove={(event) => setCursor(cellFromPointer(event))}
              onPointerLeave={() => setCursor(null)}
              onKeyDown={onKeyDown}
            >
              <canvas ref={canvasRef} style={{ width: cssWidth * scale, height: cssHeight * scale }} />
              {cursor ? (
                <svg className="slip-matrix-cursor" width={cssWidth * scale} height={cssHeight * scale} viewBox={`0 0 ${cssWidth} ${cssHeight}`} aria-hidden="true">
                  <rect x={left} y={top + cursor.query * cellSize} width={side} height={cellSize} className="slip-cursor-band" />
                  <rect x={left + cursor.key * cellSize} y={top} width={cellSize} height={side} className="slip-cursor-band" />
                  <rect x={left + cursor.key * cellSize} y={top + cursor.query * cellSize} width={cellSize} height={cellSize} className="slip-cursor-cell" />
                </svg>
              ) : null}
            </div>
            <p className="slip-readout" id={`${id}-readout`} aria-live="polite">
              {readout}
            </p>
            <div className="slip-legend-row">
              <span className="slip-legend-scale">
                <span>0</span>
                <span className="slip-ramp" style={{ background: heatGradientCss() }} aria-hidden="true" />
                <span>1</span>
              </span>
              <span className="slip-muted">{scaleMode === 'sqrt' ? t('matrix.legendSqrt') : t('matrix.legendLinear')}</span>
              <span className="slip-legend-item">
                <span className="slip-legend-masked" aria-hidden="true" />
                {t('matrix.maskedLegend')}
              </span>
            </div>
          </>
        ) : (
          <div className="slip-placeholder" role="status">
            <p>
              {status === 'no-head'
                ? t('matrix.noHead')
                : status === 'other-head'
                  ? t('matrix.otherHead', { selected: headName, stored: t('selection.cell', { layer: run.map!.layer, head: run.map!.head }) })
                  : t('matrix.missing', { head: headName })}
            </p>
            <div className="slip-placeholder-actions">
              {status !== 'no-head' && onRequestMap ? (
                <button type="button" className="slip-button slip-button-primary" disabled={mapPending} onClick={() => onRequestMap(layer as number, head as number)}>
                  {mapPending ? t('matrix.computing') : t('matrix.compute', { head: headName })}
                </button>
              ) : null}
              {status === 'other-head' && onSelectHead ? (
                <button type="button" className="slip-button" onClick={() => onSelectHead(run.map!.layer, run.map!.head)}>
                  {t('matrix.showStored', { head: t('selection.cell', { layer: run.map!.layer, head: run.map!.head }) })}
                </button>
              ) : null}
              {status !== 'no-head' && !onRequestMap ? <p className="slip-muted">{t('matrix.replayOnly')}</p> : null}
            </div>
          </div>
        )}
      </div>
    </Panel>
  );
}

/** 'rgb(12, 34, 56)' or '#0c2238' → [r, g, b]; cached, since the heat scale repeats colours. */
const rgbCache = new Map<string, [number, number, number]>();
function parseRgb(color: string): [number, number, number] {
  let value = rgbCache.get(color);
  if (!value) {
    const hex = /^#([0-9a-f]{6})$/i.exec(color.trim());
    const numbers = color.match(/\d+(\.\d+)?/g)?.map(Number) ?? [0, 0, 0];
    value = hex ? [parseInt(hex[1].slice(0, 2), 16), parseInt(hex[1].slice(2, 4), 16), parseInt(hex[1].slice(4, 6), 16)] : [numbers[0], numbers[1], numbers[2]];
    if (rgbCache.size > 4096) rgbCache.clear();
    rgbCache.set(color, value);
  }
  return value;
}
