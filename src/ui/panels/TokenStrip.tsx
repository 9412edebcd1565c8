// The prompt as token chips coloured by one query's attention (the decisive query or a generated
// token), spans outlined and labelled; colours ease between steps so the request visibly cools.
// With Token Highlighter, an underline layer shows each user token's influence and the scaled ones.

import { scalePow } from 'd3';
import { useEffect, useId, useMemo, useRef, useState, type CSSProperties } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trace, TraceRun, TraceSpanKind } from '../../lab/trace';
import { exportCsv, exportSvgText, exportSvgTextPng, themeBackground } from '../export';
import { cssColor, heatColor, heatGradientCss, inkOn, resolveColor, spanColors } from '../palette';
import { formatMass, panelFont } from './chart';
import {
  attentionRow,
  exportFileName,
  runLocation,
  stripItems,
  stripTokens,
  tokenColumns,
  tokenCsvRows,
  shownTokenText,
  tokenTextParts,
  tokenWeightMax,
  weightBySpanKind,
  type HeadSelection,
  type LayerSelection,
  type QuerySelection,
  type StripItem,
} from './data';
import { highlighterFor, highlighterMarks, underlineStyle } from './highlighterLayer';
import { Panel } from './Panel';
import { stripSvgText } from './tokenStripSvg';

export interface TokenStripProps {
  /** The step, or its defended run, whose prompt is shown. */
  readonly run: TraceRun;
  /** The whole trace: one colour scale over all its steps. */
  readonly trace: Trace;
  readonly layer: LayerSelection;
  readonly head: HeadSelection;
  /** 'last': the decisive query; g: generated token g (its row is the model mean). */
  readonly query: QuerySelection;
  readonly onQueryChange: (query: QuerySelection) => void;
  /** Text of a generated token id, for runs without `generatedTexts`; `#id` without either. */
  readonly decodeToken?: (id: number) => string;
  /** Hide the response tokens of a compliant run (the redaction switch). */
  readonly redacted?: boolean;
}

const spanOrder: readonly TraceSpanKind[] = ['sink', 'system', 'template', 'request', 'attack', 'response'];

export function TokenStrip({ run, trace, layer, head, query, onQueryChange, decodeToken, redacted = false }: TokenStripProps) {
  const { t } = useTranslation();
  const id = useId();
  const stripRef = useRef<HTMLDivElement>(null);
  const location = runLocation(trace, run);

  const tokens = useMemo(() => stripTokens(run, { layer, head, query, decode: decodeToken, redacted }), [run, layer, head, query, decodeToken, redacted]);
  const items = useMemo(() => stripItems(tokens), [tokens]);
  const weightMax = useMemo(() => tokenWeightMax(trace, layer, head, query), [trace, layer, head, query]);
  const hasRow = attentionRow(run, layer, head, query) !== null;
  const byKind = useMemo(() => weightBySpanKind(tokens), [tokens]);
  const highlighter = useMemo(() => highlighterFor(trace, run), [trace, run]);
  const [showHighlighter, setShowHighlighter] = useState(true);
  const marks = useMemo(() => (highlighter && showHighlighter ? highlighterMarks(highlighter) : undefined), [highlighter, showHighlighter]);
  const markOf = (token: { index: number; part: string }) => (token.part === 'prompt' ? marks?.get(token.index) : undefined);
  // Square-root scale: a single token rarely gets more than a few percent, and sqrt spreads the low end.
  const scale = useMemo(() => scalePow().exponent(0.5).domain([0, weightMax]).range([0, 1]).clamp(true), [weightMax]);
  const heat = (weight: number | null) => {
    if (weight === null) return null;
    const fill = heatColor(scale(weight));
    return { fill, ink: inkOn(fill) };
  };

  // A long prompt (many in-context demos) scrolls: bring the request into view on each new run.
  useEffect(() => {
    const strip = stripRef.current;
    const request = strip?.querySelector<HTMLElement>('.slip-span-tag-request');
    if (!strip || !request || strip.scrollHeight <= strip.clientHeight) return;
    strip.scrollTop = Math.max(0, request.offsetTop - request.offsetHeight * 2);
  }, [run]);

  const generatedQueries = (run.generatedRows ?? []).map((_, g) => g);
  const queryLabel = (q: QuerySelection) => {
    if (q === 'last') return t('tokens.queryLast');
    const token = tokens.find((tok) => tok.part === 'response' && tok.index === run.tokens.length + q);
    const text = redacted && run.verdict === 'complied' ? '' : (token?.text ?? '').replace(/\s+/g, ' ').trim();
    return text ? t('tokens.queryGenerated', { index: q, text }) : t('tokens.queryGeneratedBare', { index: q });
  };
  const selectionText =
    query !== 'last'
      ? t('tokens.generatedMean')
      : layer === 'mean' && head === 'mean'
        ? t('selection.model')
        : layer !== 'mean' && head !== 'mean'
          ? t('selection.cell', { layer, head })
          : layer !== 'mean'
            ? t('selection.layer', { layer })
            : t('selection.head', { head });

  const spanLabel = (item: Extract<StripItem, { type: 'label' }>) => {
    const span = run.spans[item.spanIndex];
    const base = t(`span.${item.kind}`);
    return span?.segment && span.segment !== item.kind && span.segment !== 'request' && span.segment !== 'system'
      ? `${base} · ${t(`segment.${span.segment}`)}`
      : base;
  };

  const variant = location.defended ? 'defended' : undefined;
  const title = t('tokens.title');
  const subtitle = `${location.defended ? t('run.defended') : t('run.undefended')} · ${t('timeline.stepValue', { step: location.step, label: trace.steps[location.index]?.label ?? '' })} · ${selectionText}`;
  const exportRendition = () => {
    const element = stripRef.current;
    return stripSvgText({
      items,
      labelOf: spanLabel,
      heat: (weight) => heat(weight) ?? { fill: resolveColor(element, { cssVar: '--slip-nokey', fallback: '#e9ecf1' }), ink: '#555' },
      spanColor: (kind) => resolveColor(element, spanColors[kind as TraceSpanKind]),
      title,
      subtitle: `${subtitle} · ${queryLabel(query)}`,
      legend: { min: '0', max: formatMass(weightMax), note: t('tokens.scaleNote'), gradient: Array.from({ length: 9 }, (_, i) => heatColor(i / 8)) },
      width: Math.max(480, element?.clientWidth ?? 720),
      colors: {
        background: element ? themeBackground(element) : '#ffffff',
        ink: resolveColor(element, { cssVar: '--slip-ink', fallback: '#1d2330' }),
        muted: resolveColor(element, { cssVar: '--slip-muted', fallback: '#5b6475' }),
      },
      fonts: { ui: panelFont('ui'), mono: panelFont('mono') },
      ...(marks
        ? {
            underline: (token) => {
              const mark = markOf(token);
              return mark && underlineStyle(mark);
            },
            underlineColor: resolveColor(element, { cssVar: '--slip-highlight', fallback: '#d55e00' }),
          }
        : {}),
    });
  };
  const exports = {
    svg: () => exportSvgText(exportRendition().text, exportFileName('tokens', location.step, 'svg', variant)),
    png: () => {
      const { text, width, height } = exportRendition();
      return exportSvgTextPng(text, width, height, exportFileName('tokens', location.step, 'png', variant));
    },
    csv: () => exportCsv(tokenCsvRows(tokens), tokenColumns, exportFileName('tokens', location.step, 'csv', variant)),
  };

  const toolbar = (
    <>
      {highlighter ? (
        <label className="slip-field">
          <input type="checkbox" checked={showHighlighter} onChange={(event) => setShowHighlighter(event.target.checked)} data-testid="highlighter-layer" />
          <span>{t('tokens.highlighterLayer')}</span>
        </label>
      ) : null}
      <label className="slip-field">
      <span>{t('tokens.query')}</span>
      <select
        value={String(query)}
        onChange={(event) => onQueryChange(event.target.value === 'last' ? 'last' : Number(event.target.value))}
      >
        <option value="last">{queryLabel('last')}</option>
        {generatedQueries.map((g) => (
          <option key={g} value={g}>
            {queryLabel(g)}
          </option>
        ))}
      </select>
      </label>
    </>
  );

  // Where the query's attention goes, by span kind: the strip's headline number.
  const shares = spanOrder.filter((kind) => (byKind[kind] ?? 0) > 0).map((kind) => ({ kind, share: byKind[kind]! }));
  const shareTotal = shares.reduce((a, b) => a + b.share, 0);

  return (
    <Panel name="tokens" title={title} subtitle={subtitle} info={<p>{t('tokens.info')}</p>} toolbar={toolbar} exports={exports}>
      {!hasRow ? (
        <p className="slip-note" role="status">
          {query === 'last' ? t('tokens.noRow') : t('tokens.noGeneratedRow', { index: query })}
        </p>
      ) : (
        <div className="slip-shares" aria-label={t('tokens.sharesLabel')}>
          <div className="slip-share-bar" aria-hidden="true">
            {shares.map(({ kind, share }) => (
              <span
                key={kind}
                className={`slip-share slip-share-${kind}`}
                style={{ flexGrow: share, background: cssColor(spanColors[kind]) }}
              />
            ))}
            {shareTotal < 0.999 ? <span className="slip-share slip-share-other" style={{ flexGrow: 1 - shareTotal }} /> : null}
          </div>
          <ul className="slip-share-labels">
            {shares.map(({ kind, share }) => (
              <li key={kind} className={kind === 'request' ? 'slip-share-label slip-share-label-request' : 'slip-share-label'}>
                <span className="slip-swatch" style={{ background: cssColor(spanColors[kind]) }} aria-hidden="true" />
                {t(`span.${kind}`)} <strong>{Math.round(share * 100)}%</strong>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div
        ref={stripRef}
        className={marks ? 'slip-strip slip-strip-highlighter' : 'slip-strip'}
        role="list"
        aria-labelledby={`${id}-caption`}
        data-testid="token-strip"
      >
        {items.map((item) => {
          if (item.type === 'break') return <span key={item.key} className="slip-strip-break" aria-hidden="true" />;
          if (item.type === 'label')
            return (
              <span
                key={item.key}
                className={`slip-span-tag slip-span-tag-${item.kind}`}
                style={{ background: cssColor(spanColors[item.kind]) }}
                aria-hidden="true"
              >
                {spanLabel(item)}
              </span>
            );
          const { token, groupStart, groupEnd } = item;
          const colors = heat(token.weight);
          const mark = markOf(token);
          const underline = mark && underlineStyle(mark);
          const style = {
            '--chip-bg': colors?.fill,
            '--chip-ink': colors?.ink,
            '--span-color': token.spanKind ? cssColor(spanColors[token.spanKind]) : undefined,
            ...(underline ? { '--hl-opacity': underline.opacity, '--hl-thickness': `${underline.thickness}px` } : {}),
          } as CSSProperties;
          const classes = [
            'slip-chip',
            token.spanKind ? `slip-chip-span slip-chip-${token.spanKind}` : '',
            groupStart ? 'slip-chip-first' : '',
            groupEnd ? 'slip-chip-last' : '',
            colors ? '' : 'slip-chip-nokey',
            token.isQuery ? 'slip-chip-query' : '',
            token.redacted ? 'slip-chip-redacted' : '',
            mark ? 'slip-chip-hl' : '',
            mark?.scaled ? 'slip-chip-hl-scaled' : '',
            token.continues ? 'slip-chip-continues' : '',
            token.continuedByNext ? 'slip-chip-continued' : '',
          ]
            .filter(Boolean)
            .join(' ');
          const spanName = token.spanKind ? t(`span.${token.spanKind}`) : t('span.none');
          const weightText = token.weight === null ? t('tokens.notKey') : formatMass(token.weight);
          const shownText = token.redacted ? t('response.redactedToken') : token.text;
          const description =
            t('tokens.chip', { index: token.index, text: JSON.stringify(shownText), span: spanName, weight: weightText }) +
            (token.continues ? t('tokens.chipContinues', { character: token.continues }) : '') +
            (mark ? t(mark.scaled ? 'tokens.chipScaled' : 'tokens.chipInfluence', { influence: formatInfluence(mark.influence), beta: highlighter?.scale }) : '');
          // A redacted chip keeps its colour (the attention is the point) but shows no text.
          const content = token.redacted ? (
            <span className="slip-ws">•••</span>
          ) : (
            // A token that only carries the rest of the previous token's character shows a joiner.
            (shownTokenText(token) === '' ? [{ text: '⋯', marker: true }] : tokenTextParts(shownTokenText(token))).map((part, i) => (
              <span key={i} className={part.marker ? 'slip-ws' : 'slip-chip-text'}>
                {part.text}
              </span>
            ))
          );
          // A response chip is a button (it picks the query); the list item wraps it so it keeps that role.
          return token.part === 'response' ? (
            <span key={item.key} role="listitem" className="slip-chip-item">
              <button
                type="button"
                className={classes}
                style={style}
                title={description}
                aria-label={description}
                aria-pressed={token.isQuery}
                onClick={() => onQueryChange(token.index - run.tokens.length)}
              >
                {content}
              </button>
            </span>
          ) : (
            <span key={item.key} role="listitem" className={classes} style={style} title={description} aria-label={description}>
              {content}
            </span>
          );
        })}
      </div>
      <div className="slip-legend-row" id={`${id}-caption`}>
        <span className="slip-legend-scale">
          <span>0</span>
          <span className="slip-ramp" style={{ background: heatGradientCss() }} aria-hidden="true" />
          <span>{formatMass(weightMax)}</span>
        </span>
        <span className="slip-legend-item">
          <span className="slip-legend-query" aria-hidden="true" />
          {query === 'last' ? t('tokens.queryMarkLast') : t('tokens.queryMark')}
        </span>
        <span className="slip-muted">{t('tokens.scaleNote')}</span>
        {marks && highlighter ? (
          <>
            <span className="slip-legend-item" data-testid="highlighter-legend">
              <span className="slip-legend-hl" aria-hidden="true" />
              {t('tokens.highlighterInfluence')}
            </span>
            <span className="slip-legend-item">
              <span className="slip-legend-hl slip-legend-hl-scaled" aria-hidden="true" />
              {t('tokens.highlighterScaled', { count: highlighter.scaled.length, total: highlighter.positions.length, beta: highlighter.scale })}
            </span>
          </>
        ) : null}
      </div>
    </Panel>
  );
}

/** A gradient norm, with three significant digits (they span orders of magnitude between models). */
function formatInfluence(value: number): string {
  return value === 0 ? '0' : value.toPrecision(3);
}
