// Colour-blind-safe colours for the panels: Okabe–Ito categories as CSS custom properties (themed in
// panels.css), cividis for attention and mass heat maps, and black-or-white ink on a heat colour.

import { interpolateCividis, rgb } from 'd3';
import type { TraceSpanKind, Verdict } from '../lab/trace';

/** Okabe & Ito (2008): eight colours that stay distinct under the common colour-vision deficiencies. */
export const okabeIto = {
  black: '#000000',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
} as const;

/**
 * A categorical colour: the CSS custom property panels.css sets per theme, and the light-theme
 * value as the fallback (for canvas drawing and for a page without panels.css).
 */
export interface ThemedColor {
  readonly cssVar: `--slip-${string}`;
  readonly fallback: string;
}

const themed = (name: string, fallback: string): ThemedColor => ({ cssVar: `--slip-${name}`, fallback });

/** Verdicts: blue for a refusal (safe), vermillion for compliance (harm). Markers also differ in shape. */
export const verdictColors: Record<Verdict, ThemedColor> = {
  refused: themed('refused', okabeIto.blue),
  complied: themed('complied', okabeIto.vermillion),
};

/** Timeline lines: the undefended model in the page's ink, the defended run in bluish green (and dashed). */
export const runColors = {
  undefended: themed('line-undefended', '#1d2330'),
  defended: themed('line-defended', okabeIto.bluishGreen),
  selected: themed('line-selected', okabeIto.reddishPurple),
} as const;

/** Defenses compared side by side with the defended run: orange, then sky blue (dash-dot lines). */
export const comparedColors: readonly ThemedColor[] = [themed('line-compared', okabeIto.orange), themed('line-compared-2', okabeIto.skyBlue)];

/**
 * Span kinds. The request, the span the whole lab is about, gets the strongest hue; the sink and
 * the chat template stay quiet.
 */
export const spanColors: Record<TraceSpanKind, ThemedColor> = {
  sink: themed('span-sink', '#8c8c8c'),
  system: themed('span-system', okabeIto.skyBlue),
  template: themed('span-template', '#c9b800'),
  request: themed('span-request', okabeIto.reddishPurple),
  attack: themed('span-attack', okabeIto.orange),
  response: themed('span-response', okabeIto.bluishGreen),
};

/** `var(--slip-refused, #0072B2)`: for SVG and HTML, where the theme's value applies (and survives export). */
export function cssColor(color: ThemedColor): string {
  return `var(${color.cssVar}, ${color.fallback})`;
}

/** The colour's current value under `element`'s theme, for canvas drawing. */
export function resolveColor(element: Element | null, color: ThemedColor): string {
  if (!element) return color.fallback;
  const value = getComputedStyle(element).getPropertyValue(color.cssVar).trim();
  return value || color.fallback;
}

/**
 * Sequential scale for attention and mass, t in [0, 1]: cividis, which is perceptually uniform and
 * reads the same to deuteranopes; its dark end is navy, not black, so it stays visible on a dark theme.
 */
export function heatColor(t: number): string {
  return interpolateCividis(Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)));
}

/** Relative luminance (WCAG 2) of a CSS colour. */
export function luminance(color: string): number {
  const { r, g, b } = rgb(color);
  const channel = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** Black or white, whichever contrasts more with `background`. */
export function inkOn(background: string): '#000000' | '#ffffff' {
  const l = luminance(background);
  return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

/** CSS gradient of the heat scale, for legends. */
export function heatGradientCss(direction = 'to right', stops = 9): string {
  const colors = Array.from({ length: stops }, (_, i) => heatColor(i / (stops - 1)));
  return `linear-gradient(${direction}, ${colors.join(', ')})`;
}
