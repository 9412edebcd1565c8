// The model's response with its verdict (and SmoothLLM's vote), the refusal margin, a redaction
// switch for compliant output, and the drift of request mass across the generated tokens.

import { line, max, scaleLinear } from 'd3';
import { useId, useMemo, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace, TraceRun } from '../../lab/trace';
import { exportCsv, exportPng, exportSvg } from '../export';
import { cssColor, runColors } from '../palette';
import { formatMass, formatSigned, formatTick, useChartDimensions } from './chart';
import { modelMean } from '../../analysis/mass';
import { copyVote, driftSeries, exportFileName, responseColumns, responseCsvRows, runLocation, type QuerySelection } from './data';
import { VerdictBadge } from './markers';
import { Panel } from './Panel';

export interface ResponsePanelProps {
  readonly trace: Trace;
  /** The step, or its defended run, whose response is shown. */
  readonly run: TraceRun;
  /** Hide compliant output behind a neutral block (refusals stay visible). */
  readonly redacted: boolean;
  readonly onRedactedChange: (redacted: boolean) => void;
  /** The token strip's query: its generated token is highlighted in the drift plot. */
  readonly query?: QuerySelection;
  /** Clicking a point of the drift plot makes that generated token the query. */
  readonly onQueryChange?: (query: QuerySelection) => void;
  /** Text of a generated token id, for runs without `generatedTexts` (CSV and tooltips). */
  readonly decodeToken?: (id: number) => string;
}

const PLOT_HEIGHT = 110;

export function ResponsePanel({ trace, run, redacted, onRedactedChange, query = 'last', onQueryChange, decodeToken }: ResponsePanelProps) {
  const { t } = useTranslation();
  const id = useId();
  const svgRef = useRef<SVGSVGElement>(null);
  const [containerRef, { width: pixelWidth, scale }] = useChartDimensions<HTMLDivElement>();
  const location = runLocation(trace, run);
  const hidden = redacted && run.verdict === 'complied';
  const vote = copyVote(run);
  const drift = useMemo(() => driftSeries(run), [run]);
  const decisive = useMemo(() => modelMean(run.requestMass.lastPrompt), [run]);

  const width = pixelWidth / scale;
  const margin = { left: 48, right: 16, top: 12, bottom: 36 };
  const innerWidth = Math.max(60, width - margin.left - margin.right);
  const height = margin.top + PLOT_HEIGHT + margin.bottom;
  const x = scaleLinear()
    .domain([0, Math.max(1, drift.length - 1)])
    .range([6, innerWidth - 6]);
  const y = scaleLinear()
    .domain([0, Math.max(decisive, max(drift, (d) => d.mass) ?? 0) * 1.1 || 1])
    .range([PLOT_HEIGHT, 0])
    .nice();
  const path = line<(typeof drift)[number]>()
    .x((d) => x(d.index))
    .y((d) => y(d.mass))(drift);

  const marginMeaning = run.margin >= 0 ? t('response.marginRefusal') : t('response.marginAffirmation');
  // The margin weighs the first token only, the verdict the whole answer: say so where they part.
  const disagreement =
    run.verdict === 'complied' && run.margin >= 0
      ? 'response.marginDisagreesComplied'
      : run.verdict === 'refused' && run.margin < 0
        ? 'response.marginDisagreesRefused'
        : undefined;
  const subtitle = `${location.defended ? t('run.defended') : t('run.undefended')} · ${t('timeline.stepValue', { step: location.step, label: trace.steps[location.index]?.label ?? '' })}`;
  const variant = location.defended ? 'defended' : undefined;
  const heading = { title: t('response.driftTitle'), subtitle: `${subtitle} · ${t(`verdict.${run.verdict}`)}` };
  const exports = {
    ...(drift.length > 0
      ? {
          svg: () => svgRef.current && exportSvg(svgRef.current, exportFileName('response', location.step, 'svg', variant), heading),
          png: () => (svgRef.current ? exportPng(svgRef.current, exportFileName('response', location.step, 'png', variant), heading) : undefined),
        }
      : {}),
    csv: () => exportCsv(responseCsvRows(run, { decode: decodeToken, redacted }), responseColumns, exportFileName('response', location.step, 'csv', variant)),
  };

  const toolbar = (
    <button type="button" role="switch" aria-checked={redacted} className="slip-switch" onClick={() => onRedactedChange(!redacted)}>
      <span className="slip-switch-track" aria-hidden="true">
        <span className="slip-switch-thumb" />
      </span>
      {t('response.redact')}
    </button>
  );

  return (
    <Panel name="response" title={t('response.title')} subtitle={subtitle} info={<p>{t('response.info')}</p>} toolbar={toolbar} exports={exports}>
      <div ref={containerRef} className="slip-response-body">
      <div className="slip-response-facts">
        <VerdictBadge verdict={run.verdict} />
        {vote ? <span className="slip-fact">{t('response.vote', { refused: vote.refused, total: vote.total })}</span> : null}
        <span className="slip-fact" title={t('response.marginHelp')}>
          {t('response.margin')} <strong>{formatSigned(run.margin)}</strong> <span className="slip-muted">{t('response.marginMeaning', { meaning: marginMeaning })}</span>
        </span>
      </div>
      {disagreement ? (
        <p className="slip-response-note" role="note" data-testid="margin-note">
          {t(disagreement)}
        </p>
      ) : null}
      {hidden ? (
        <div className="slip-redacted" role="note" data-testid="response-redacted">
          <strong>{t('response.hiddenTitle')}</strong>
          <span>{t('response.hiddenBody', { count: [...run.response].length })}</span>
        </div>
      ) : (
        <blockquote className="slip-response-text" data-testid="response-text">
          {run.response || <span className="slip-muted">{t('response.empty')}</span>}
        </blockquote>
      )}

      {drift.length > 0 ? (
        <div className="slip-chart slip-drift">
          <svg
            ref={svgRef}
            className="slip-svg"
            width={pixelWidth}
            height={height * scale}
            viewBox={`0 0 ${width} ${height}`}
            aria-labelledby={`${id}-drift`}
          >
            <title id={`${id}-drift`}>{t('response.driftTitle')}</title>
            <g transform={`translate(${margin.left},${margin.top})`}>
              {y.ticks(3).map((tick) => (
                <g key={tick}>
                  <line x1={0} x2={innerWidth} y1={y(tick)} y2={y(tick)} className="slip-gridline" />
                  <text x={-8} y={y(tick)} dy="0.32em" textAnchor="end" className="slip-text slip-tick">
                    {formatTick(tick)}
                  </text>
                </g>
              ))}
              <line x1={0} x2={innerWidth} y1={y(decisive)} y2={y(decisive)} className="slip-reference-line" />
              <text x={innerWidth} y={y(decisive) - 5} textAnchor="end" className="slip-text slip-muted-text">
                {t('response.decisive', { mass: formatMass(decisive) })}
              </text>
              <path d={path ?? ''} className="slip-line slip-line-thin" style={{ stroke: cssColor(runColors.undefended) }} />
              {drift.map((d) => {
                const current = query === d.index;
                return (
                  <g key={d.index} className={onQueryChange ? 'slip-clickable' : undefined} onClick={onQueryChange ? () => onQueryChange(current ? 'last' : d.index) : undefined}>
                    <circle cx={x(d.index)} cy={y(d.mass)} r={current ? 5.5 : 3} className={current ? 'slip-drift-point slip-drift-current' : 'slip-drift-point'} />
                    <rect data-export="exclude" x={x(d.index) - 6} y={0} width={12} height={PLOT_HEIGHT} className="slip-hit">
                      <title>{t('response.driftPoint', { index: d.index, mass: formatMass(d.mass) })}</title>
                    </rect>
                  </g>
                );
              })}
              <line x1={0} x2={innerWidth} y1={PLOT_HEIGHT} y2={PLOT_HEIGHT} className="slip-axis-line" />
              {x.ticks(Math.min(8, drift.length)).filter(Number.isInteger).map((tick) => (
                <text key={tick} x={x(tick)} y={PLOT_HEIGHT + 15} textAnchor="middle" className="slip-text slip-tick">
                  {tick}
                </text>
              ))}
              <text x={innerWidth / 2} y={PLOT_HEIGHT + 31} textAnchor="middle" className="slip-text slip-axis-title">
                {t('response.driftX')}
              </text>
            </g>
          </svg>
          <p className="slip-caption">{t('response.driftCaption')}</p>
        </div>
      ) : (
        <p className="slip-note">{t('response.noDrift')}</p>
      )}

      {run.copies && run.copies.length > 0 ? (
        <details className="slip-copies">
          <summary>{t('response.copies', { count: run.copies.length })}</summary>
          <ol>
            {run.copies.map((copy, i) => (
              <li key={i}>
                <VerdictBadge verdict={copy.verdict} />
                {redacted && copy.verdict === 'complied' ? (
                  <span className="slip-muted"> {t('response.hiddenShort')}</span>
                ) : (
                  <span className="slip-copy-text"> {copy.response}</span>
                )}
              </li>
            ))}
          </ol>
        </details>
      ) : null}
      </div>
    </Panel>
  );
}
