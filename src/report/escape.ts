// Text for the report's HTML and SVG: every user or model string passes through escapeHtml, so a
// request holding `<script>` or `<img onerror=…>` is shown as those characters and never parsed.

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * `text` safe inside an element or a quoted attribute. C0 control characters other than tab and
 * newline (and lone surrogates) become U+FFFD: model output can hold any byte, and a NUL or a
 * stray surrogate makes some viewers stop rendering the file.
 */
export function escapeHtml(text: string): string {
  return String(text)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/[&<>"']/g, (char) => entities[char]);
}

/** The first `max` characters of `text` (whole code points), with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max).join('').trimEnd()}…`;
}
