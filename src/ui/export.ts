// Chart export: an SVG element as a standalone .svg (computed styles inlined, so theme variables
// survive), SVG or canvas as a 2× PNG, and panel data as CSV (d3's csvFormat).

import { csvFormat } from 'd3';

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';

/**
 * The presentation properties our charts set through CSS (classes and custom properties). Their
 * computed values are copied onto each element of the clone as SVG presentation attributes: an
 * exported file has no stylesheet, and a `style` attribute written by script is inline style,
 * which the app's Content Security Policy (style-src 'self') refuses.
 */
const inlinedProperties = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-linecap',
  'stroke-linejoin',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'letter-spacing',
  'text-anchor',
  'dominant-baseline',
  'paint-order',
  'shape-rendering',
  'visibility',
  'color',
] as const;

export interface SvgExportOptions {
  /** Background fill; default: the panel's background under the current theme, else white. */
  readonly background?: string;
  /** A heading drawn above the chart, so the file explains itself on a slide. */
  readonly title?: string;
  /** A muted line under the title (step, run, selection). */
  readonly subtitle?: string;
}

/** Height of the exported heading in CSS pixels. */
const HEADING = { title: 48, both: 62 };

/** The panel's own background colour (`--slip-panel-bg`), so a dark-theme export stays dark. */
export function themeBackground(element: Element): string {
  const value = getComputedStyle(element).getPropertyValue('--slip-panel-bg').trim();
  return value || '#ffffff';
}

/** Copies computed styles from `source` onto `target`, depth-first over both (same structure). */
function inlineStyles(source: Element, target: Element): void {
  const computed = getComputedStyle(source);
  if (computed.display === 'none') {
    target.remove();
    return;
  }
  for (const name of inlinedProperties) {
    const value = computed.getPropertyValue(name);
    if (value !== '' && value !== 'normal' && value !== 'auto') target.setAttribute(name, value);
  }
  // The computed values already include any inline style React set; the attribute would override them.
  target.removeAttribute('style');
  target.removeAttribute('class');
  target.removeAttribute('tabindex');
  const sourceChildren = Array.from(source.children);
  const targetChildren = Array.from(target.children);
  sourceChildren.forEach((child, i) => inlineStyles(child, targetChildren[i]));
}

function setAttributes(element: Element, attributes: Record<string, string>): void {
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
}

/** A standalone SVG document: xmlns, explicit size, inlined styles, a background rectangle. */
export function serializeSvg(svg: SVGSVGElement, options: SvgExportOptions = {}): { text: string; width: number; height: number } {
  const box = svg.getBoundingClientRect();
  const width = Math.round(box.width || Number(svg.getAttribute('width')) || 640);
  const height = Math.round(box.height || Number(svg.getAttribute('height')) || 400);
  const clone = svg.cloneNode(true) as SVGSVGElement;
  inlineStyles(svg, clone);
  // Hit areas, focus rings and other screen-only parts say so with data-export="exclude".
  clone.querySelectorAll('[data-export="exclude"]').forEach((element) => element.remove());
  clone.setAttribute('xmlns', SVG_NS);
  clone.setAttribute('xmlns:xlink', XLINK_NS);
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  if (!clone.getAttribute('viewBox')) clone.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const [x, y0, w, h0] = clone.getAttribute('viewBox')!.split(/[\s,]+/).map(Number);
  let y = y0;
  let h = h0;
  let fullHeight = height;
  if (options.title) {
    // Grow the viewBox upwards by the heading, in user units (the chart may be drawn scaled).
    const unitsPerPixel = h0 / height;
    const heading = (options.subtitle ? HEADING.both : HEADING.title) * unitsPerPixel;
    y -= heading;
    h += heading;
    fullHeight = Math.round(height + heading / unitsPerPixel);
    const style = getComputedStyle(svg);
    const ink = style.getPropertyValue('--slip-ink').trim() || '#1d2330';
    const muted = style.getPropertyValue('--slip-muted').trim() || '#555e6e';
    const heading1 = document.createElementNS(SVG_NS, 'text');
    heading1.setAttribute('x', String(x + 12 * unitsPerPixel));
    heading1.setAttribute('y', String(y + 26 * unitsPerPixel));
    setAttributes(heading1, { fill: ink, 'font-family': style.fontFamily, 'font-size': `${18 * unitsPerPixel}px`, 'font-weight': '700' });
    heading1.textContent = options.title;
    clone.insertBefore(heading1, clone.firstChild);
    if (options.subtitle) {
      const heading2 = document.createElementNS(SVG_NS, 'text');
      heading2.setAttribute('x', String(x + 12 * unitsPerPixel));
      heading2.setAttribute('y', String(y + 46 * unitsPerPixel));
      setAttributes(heading2, { fill: muted, 'font-family': style.fontFamily, 'font-size': `${13 * unitsPerPixel}px` });
      heading2.textContent = options.subtitle;
      clone.insertBefore(heading2, heading1.nextSibling);
    }
    clone.setAttribute('height', String(fullHeight));
    clone.setAttribute('viewBox', `${x} ${y} ${w} ${h}`);
  }
  const background = document.createElementNS(SVG_NS, 'rect');
  background.setAttribute('x', String(x));
  background.setAttribute('y', String(y));
  background.setAttribute('width', String(w));
  background.setAttribute('height', String(h));
  background.setAttribute('fill', options.background ?? themeBackground(svg));
  clone.insertBefore(background, clone.firstChild);
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}\n`;
  return { text, width, height: fullHeight };
}

/** Saves a blob under `filename` through a temporary link. */
export function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers; a minute is plenty.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function svgBlob(svg: SVGSVGElement, options: SvgExportOptions = {}): Blob {
  return new Blob([serializeSvg(svg, options).text], { type: 'image/svg+xml;charset=utf-8' });
}

export function exportSvg(svg: SVGSVGElement, filename: string, options: SvgExportOptions = {}): void {
  downloadBlob(svgBlob(svg, options), filename);
}

function canvasBlob(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The browser could not encode the chart as PNG; try SVG or CSV instead.'))), 'image/png'),
  );
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error('The browser could not render the chart to an image; try the SVG export instead.'));
    image.src = url;
  });
}

/** Rasterises SVG document text of `width` × `height` CSS pixels at `scale`× (2× by default: sharp on slides). */
export async function svgTextToPngBlob(text: string, width: number, height: number, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml;charset=utf-8' }));
  try {
    const image = await loadImage(url);
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('The browser gave no 2D canvas for the PNG export; try SVG instead.');
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    return await canvasBlob(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The SVG element rendered onto a canvas at `scale`× its on-screen size. */
export function svgToPngBlob(svg: SVGSVGElement, scale = 2, options: SvgExportOptions = {}): Promise<Blob> {
  const { text, width, height } = serializeSvg(svg, options);
  return svgTextToPngBlob(text, width, height, scale);
}

/** Saves SVG document text built by hand (panels drawn in HTML export an SVG rendition of themselves). */
export function exportSvgText(text: string, filename: string): void {
  downloadBlob(new Blob([text], { type: 'image/svg+xml;charset=utf-8' }), filename);
}

/** PNG of hand-built SVG document text. */
export async function exportSvgTextPng(text: string, width: number, height: number, filename: string): Promise<void> {
  downloadBlob(await svgTextToPngBlob(text, width, height, 2), filename);
}

/** PNG of an SVG chart (re-rendered at 2×) or of a canvas (already drawn at device resolution). */
export async function exportPng(source: SVGSVGElement | HTMLCanvasElement, filename: string, options: SvgExportOptions = {}): Promise<void> {
  const blob = source instanceof HTMLCanvasElement ? await canvasBlob(source) : await svgToPngBlob(source, 2, options);
  downloadBlob(blob, filename);
}

/**
 * A copy of `canvas` with the heading drawn above it (in the canvas's own resolution), so an
 * exported canvas chart explains itself like the SVG ones.
 */
export function canvasWithHeading(canvas: HTMLCanvasElement, heading: { title: string; subtitle?: string }): HTMLCanvasElement {
  const ratio = canvas.clientWidth > 0 ? canvas.width / canvas.clientWidth : 1;
  const headingHeight = (heading.subtitle ? HEADING.both : HEADING.title) * ratio;
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = Math.round(canvas.height + headingHeight);
  const context = out.getContext('2d');
  if (!context) throw new Error('The browser gave no 2D canvas for the export; try CSV instead.');
  const style = getComputedStyle(canvas);
  context.fillStyle = themeBackground(canvas);
  context.fillRect(0, 0, out.width, out.height);
  context.fillStyle = style.getPropertyValue('--slip-ink').trim() || '#1d2330';
  context.font = `700 ${18 * ratio}px ${style.fontFamily}`;
  context.fillText(heading.title, 12 * ratio, 26 * ratio);
  if (heading.subtitle) {
    context.fillStyle = style.getPropertyValue('--slip-muted').trim() || '#555e6e';
    context.font = `${13 * ratio}px ${style.fontFamily}`;
    context.fillText(heading.subtitle, 12 * ratio, 46 * ratio);
  }
  context.drawImage(canvas, 0, headingHeight);
  return out;
}

/** A canvas wrapped in an SVG document (an embedded PNG), for panels drawn on a canvas. */
export function canvasSvgText(canvas: HTMLCanvasElement, width: number, height: number, title: string): string {
  const href = canvas.toDataURL('image/png');
  const escaped = title.replace(/[<&>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="${SVG_NS}" xmlns:xlink="${XLINK_NS}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<title>${escaped}</title><image width="${width}" height="${height}" href="${href}" xlink:href="${href}"/></svg>\n`
  );
}

export function exportCanvasSvg(canvas: HTMLCanvasElement, width: number, height: number, title: string, filename: string): void {
  downloadBlob(new Blob([canvasSvgText(canvas, width, height, title)], { type: 'image/svg+xml;charset=utf-8' }), filename);
}

/**
 * CSV text of `rows` in `columns` order. It starts with a UTF-8 byte-order mark: Excel (common
 * among our Japanese readers) otherwise opens UTF-8 token text as mojibake.
 */
export function csvText<Row extends object>(rows: readonly Row[], columns: readonly (keyof Row & string)[]): string {
  return `\uFEFF${csvFormat(rows as unknown as { [key: string]: unknown }[], [...columns])}\n`;
}

export function exportCsv<Row extends object>(rows: readonly Row[], columns: readonly (keyof Row & string)[], filename: string): void {
  downloadBlob(new Blob([csvText(rows, columns)], { type: 'text/csv;charset=utf-8' }), filename);
}
