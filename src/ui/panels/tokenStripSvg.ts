// An SVG rendition of the HTML token strip, for its SVG and PNG export: chips laid out in rows
// with estimated text widths, span outlines, label tags and the colour legend.

import { measureText } from './chart';
import { shownTokenText, tokenTextParts, type StripItem, type StripToken } from './data';

export interface StripSvgOptions {
  readonly items: readonly StripItem[];
  /** Text of a span's label tag. */
  readonly labelOf: (item: Extract<StripItem, { type: 'label' }>) => string;
  /** Chip fill and text colour for a weight (null: not a key of the query). */
  readonly heat: (weight: number | null) => { fill: string; ink: string };
  readonly spanColor: (kind: string) => string;
  readonly title: string;
  readonly subtitle: string;
  readonly legend: { readonly min: string; readonly max: string; readonly note: string; readonly gradient: readonly string[] };
  readonly width: number;
  readonly colors: { readonly background: string; readonly ink: string; readonly muted: string };
  /** The UI font (title, labels) and the monospace font of the chips. */
  readonly fonts: { readonly ui: string; readonly mono: string };
  /** Token Highlighter's layer: a token's underline (opacity, thickness in px), or undefined for none. */
  readonly underline?: (token: StripToken) => { opacity: number; thickness: number } | undefined;
  readonly underlineColor?: string;
}

const FONT = 13;
const CHIP_HEIGHT = 22;
const ROW = CHIP_HEIGHT + 12;
const PAD = 16;

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function stripSvgText(options: StripSvgOptions): { text: string; width: number; height: number } {
  const { width, colors } = options;
  const body: string[] = [];
  let x = PAD;
  let y = PAD + 44; // below the title and subtitle
  const newLine = () => {
    x = PAD;
    y += ROW;
  };
  for (const item of options.items) {
    if (item.type === 'break') {
      newLine();
      continue;
    }
    if (item.type === 'label') {
      const label = options.labelOf(item);
      const w = measureText(label, FONT - 2, { weight: item.kind === 'request' ? 700 : 500, family: options.fonts.ui }) + 10;
      if (x + w > width - PAD) newLine();
      const color = options.spanColor(item.kind);
      body.push(
        `<rect x="${x}" y="${y}" width="${w}" height="${CHIP_HEIGHT}" rx="3" fill="${color}"/>`,
        `<text x="${x + 5}" y="${y + CHIP_HEIGHT / 2}" dy="0.35em" font-family="${escapeXml(options.fonts.ui)}" font-size="${FONT - 2}" font-weight="${item.kind === 'request' ? 700 : 500}" fill="#000">${escapeXml(label)}</text>`,
      );
      x += w + 2;
      continue;
    }
    const { token, groupStart, groupEnd } = item;
    const shown = shownTokenText(token);
    const parts = token.redacted ? [{ text: '•••', marker: true }] : shown === '' ? [{ text: '⋯', marker: true }] : tokenTextParts(shown);
    const w = measureText(parts.map((part) => part.text).join(''), FONT, { family: options.fonts.mono }) + 10;
    if (x + w > width - PAD) newLine();
    const { fill, ink } = options.heat(token.weight);
    body.push(`<rect x="${x}" y="${y}" width="${w}" height="${CHIP_HEIGHT}" rx="2" fill="${fill}"${token.isQuery ? ` stroke="${colors.ink}" stroke-width="2"` : ''}/>`);
    const spans = parts
      .map((part) => `<tspan${part.marker ? ' opacity="0.55"' : ''}>${escapeXml(part.text)}</tspan>`)
      .join('');
    body.push(`<text x="${x + 5}" y="${y + CHIP_HEIGHT / 2}" dy="0.35em" font-family="${escapeXml(options.fonts.mono)}" font-size="${FONT}" fill="${ink}">${spans}</text>`);
    if (token.spanKind) {
      // The span outline: top and bottom edges on every chip, sides where the group opens and closes.
      const color = options.spanColor(token.spanKind);
      const stroke = token.spanKind === 'request' ? 3 : 1.5;
      const top = y - stroke / 2 - 1;
      const bottom = y + CHIP_HEIGHT + stroke / 2 + 1;
      const left = x - 1;
      // Inside a group the edges run on across the gap to the next chip.
      const right = groupEnd ? x + w + 1 : x + w + 3;
      body.push(`<path d="M${left},${top}H${right}M${left},${bottom}H${right}${groupStart ? `M${left},${top}V${bottom}` : ''}${groupEnd ? `M${right},${top}V${bottom}` : ''}" fill="none" stroke="${color}" stroke-width="${stroke}"/>`);
    }
    const underline = options.underline?.(token);
    if (underline) {
      body.push(
        `<rect x="${x}" y="${y + CHIP_HEIGHT + 4}" width="${w}" height="${underline.thickness}" fill="${options.underlineColor ?? '#d55e00'}" fill-opacity="${underline.opacity.toFixed(3)}"/>`,
      );
    }
    x += w + 3;
  }
  const legendY = y + ROW + 10;
  const stops = options.legend.gradient
    .map((color, i, all) => `<stop offset="${(i / (all.length - 1)) * 100}%" stop-color="${color}"/>`)
    .join('');
  const height = legendY + 40;
  const text = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeXml(options.fonts.ui)}">
<defs><linearGradient id="heat">${stops}</linearGradient></defs>
<rect width="${width}" height="${height}" fill="${colors.background}"/>
<text x="${PAD}" y="${PAD + 8}" font-size="${FONT + 4}" font-weight="700" fill="${colors.ink}">${escapeXml(options.title)}</text>
<text x="${PAD}" y="${PAD + 28}" font-size="${FONT - 1}" fill="${colors.muted}">${escapeXml(options.subtitle)}</text>
${body.join('\n')}
<text x="${PAD}" y="${legendY + 11}" font-size="${FONT - 1}" fill="${colors.ink}">${escapeXml(options.legend.min)}</text>
<rect x="${PAD + 30}" y="${legendY}" width="160" height="14" fill="url(#heat)"/>
<text x="${PAD + 196}" y="${legendY + 11}" font-size="${FONT - 1}" fill="${colors.ink}">${escapeXml(options.legend.max)}</text>
<text x="${PAD}" y="${legendY + 32}" font-size="${FONT - 2}" fill="${colors.muted}">${escapeXml(options.legend.note)}</text>
</svg>
`;
  return { text, width, height };
}
