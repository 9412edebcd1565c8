// Shared chart plumbing: the container's width and presenter scale (ResizeObserver plus a watch on
// data-presenter / data-theme), reduced-motion, text-width estimates and number formats.

import { format } from 'd3';
import { useEffect, useRef, useState, type RefObject } from 'react';

export interface ChartDimensions {
  /** CSS pixels available to the chart. */
  readonly width: number;
  /**
   * Presenter scale (`--slip-scale` from panels.css: 1, or larger under data-presenter="true").
   * Charts lay out in `width / scale` user units and draw with a viewBox, so type and strokes
   * grow together and nothing has to be re-tuned for the projector.
   */
  readonly scale: number;
  /** Changes whenever the theme or presenter attribute changes: canvases redraw on it. */
  readonly themeVersion: number;
}

// Only the two switches: watching 'style' or 'class' would fire on every React render of the page.
const watchedAttributes = ['data-presenter', 'data-theme'];

function readScale(element: Element): number {
  const value = parseFloat(getComputedStyle(element).getPropertyValue('--slip-scale'));
  return Number.isFinite(value) && value > 0 ? value : 1;
}

/** Width and presenter scale of the element `ref` points at, kept current. */
export function useChartDimensions<T extends HTMLElement>(fallbackWidth = 640): [RefObject<T | null>, ChartDimensions] {
  const ref = useRef<T>(null);
  const [dimensions, setDimensions] = useState<ChartDimensions>({ width: fallbackWidth, scale: 1, themeVersion: 0 });
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = (themeChanged: boolean) =>
      setDimensions((previous) => {
        const width = Math.max(160, Math.floor(element.clientWidth || fallbackWidth));
        const scale = readScale(element);
        const themeVersion = previous.themeVersion + (themeChanged ? 1 : 0);
        return width === previous.width && scale === previous.scale && themeVersion === previous.themeVersion
          ? previous
          : { width, scale, themeVersion };
      });
    measure(false);
    const resize = new ResizeObserver(() => measure(false));
    resize.observe(element);
    // The presenter and theme switches live on an ancestor (often <html>): watch the whole document.
    const attributes = new MutationObserver(() => measure(true));
    attributes.observe(document.documentElement, { attributes: true, subtree: true, attributeFilter: watchedAttributes });
    return () => {
      resize.disconnect();
      attributes.disconnect();
    };
  }, [fallbackWidth]);
  return [ref, dimensions];
}

/** True when the user asked the system for less motion: transitions then jump. */
export function prefersReducedMotion(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
}

/**
 * A rough rendered width of `text` at `fontSize` px in a sans-serif UI font: CJK and full-width
 * characters are one em, Latin about 0.58 em. Good enough to lay out legends and margins without
 * measuring the DOM (which the export and the first render cannot wait for).
 */
export function estimateTextWidth(text: string, fontSize: number): number {
  let ems = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code >= 0x1100 && (code <= 0x115f || (code >= 0x2e80 && code <= 0xa4cf) || (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) || (code >= 0xffe0 && code <= 0xffe6) || code >= 0x20000))
      ems += 1;
    else if (/[ilIj.,:;'|!·]/.test(char)) ems += 0.3;
    else if (/[mwMW@]/.test(char)) ems += 0.85;
    else if (/[A-Z0-9]/.test(char)) ems += 0.64;
    else ems += 0.55;
  }
  return ems * fontSize;
}

let measureContext: CanvasRenderingContext2D | null | undefined;

/** The panels' font stack (`--slip-font` from panels.css), for canvas text. */
export function panelFont(kind: 'ui' | 'mono' = 'ui'): string {
  const fallback = kind === 'ui' ? 'system-ui, sans-serif' : 'ui-monospace, monospace';
  if (typeof document === 'undefined') return fallback;
  const value = getComputedStyle(document.documentElement).getPropertyValue(kind === 'ui' ? '--slip-font' : '--slip-mono').trim();
  return value || fallback;
}

/**
 * The rendered width of `text`: measured on a canvas in the browser (exact for the fonts the page
 * has), estimated elsewhere. Bold and monospace text are measured as such.
 */
export function measureText(text: string, fontSize: number, options: { weight?: number; family?: string } = {}): number {
  if (measureContext === undefined) measureContext = typeof document === 'undefined' ? null : document.createElement('canvas').getContext('2d');
  if (!measureContext) return estimateTextWidth(text, fontSize) * ((options.weight ?? 400) >= 600 ? 1.08 : 1);
  measureContext.font = `${options.weight ?? 400} ${fontSize}px ${options.family ?? panelFont()}`;
  return measureContext.measureText(text).width;
}

/** Masses and probabilities: three decimals. */
export const formatMass = format('.3f');
/** Legend and axis ticks: at most two significant figures. */
export const formatTick = format('.2~f');
/** A signed margin, e.g. +2.50. */
export const formatSigned = format('+.2f');
