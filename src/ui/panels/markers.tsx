// Verdict markers: refused is a circle, complied a triangle, so a verdict reads without colour too.

import { symbol, symbolCircle, symbolTriangle } from 'd3';
import { useTranslation } from 'react-i18next';
import type { Verdict } from '../../lab/trace';
import { cssColor, verdictColors } from '../palette';

/** SVG path of the verdict's shape centred on (0, 0), `size` user units across. */
export function verdictPath(verdict: Verdict, size: number): string {
  // d3 symbols take an area: a circle of diameter `size`, a triangle of about the same visual weight.
  return verdict === 'refused'
    ? symbol(symbolCircle, (Math.PI * size * size) / 4)()!
    : symbol(symbolTriangle, size * size * 0.62)()!;
}

export interface VerdictMarkerProps {
  readonly verdict: Verdict;
  readonly x: number;
  readonly y: number;
  readonly size?: number;
  /** Hollow (panel-coloured fill, verdict-coloured outline): the defended run's markers. */
  readonly hollow?: boolean;
}

export function VerdictMarker({ verdict, x, y, size = 11, hollow = false }: VerdictMarkerProps) {
  const color = cssColor(verdictColors[verdict]);
  return (
    <path
      className={`slip-marker slip-marker-${verdict}${hollow ? ' slip-marker-hollow' : ''}`}
      d={verdictPath(verdict, size)}
      transform={`translate(${x},${y})`}
      style={{ fill: hollow ? 'var(--slip-panel-bg, #fff)' : color, stroke: hollow ? color : 'var(--slip-panel-bg, #fff)' }}
    />
  );
}

/** An inline HTML badge: the marker shape and the translated verdict. */
export function VerdictBadge({ verdict, label }: { verdict: Verdict; label?: string }) {
  const { t } = useTranslation();
  return (
    <span className={`slip-verdict slip-verdict-${verdict}`}>
      <svg width="14" height="14" viewBox="-7 -7 14 14" aria-hidden="true">
        <path d={verdictPath(verdict, 11)} style={{ fill: 'currentColor' }} />
      </svg>
      {label ?? t(`verdict.${verdict}`)}
    </span>
  );
}
