// Table of the last prompt token's attention: one row per layer, one column per key, mean over heads.

import { interpolateViridis, rgb } from 'd3';
import { useMemo } from 'react';
import type { AttentionRows } from '../engine';
import { tokenLabel } from './tokenText';

/**
 * Mean over heads of the attention of export slot `slot` on keys 0 … keys-1, per layer.
 * `rows.data` is (nLayer, nSlots, nHead, keys).
 */
export function meanOverHeads(rows: AttentionRows, nLayer: number, nHead: number, slot: number, keys: number): Float32Array[] {
  const nSlots = rows.queries.length;
  const perLayer: Float32Array[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const mean = new Float32Array(keys);
    for (let head = 0; head < nHead; head++) {
      const base = ((layer * nSlots + slot) * nHead + head) * rows.keys;
      for (let key = 0; key < keys; key++) mean[key] += rows.data[base + key] / nHead;
    }
    perLayer.push(mean);
  }
  return perLayer;
}

/** Relative luminance (WCAG) of a CSS colour. */
function luminance(color: string): number {
  const { r, g, b } = rgb(color);
  const channel = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** Black or white, whichever contrasts more with the cell colour. */
function inkOn(color: string): string {
  const l = luminance(color);
  return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? '#000' : '#fff';
}

export interface AttentionTableProps {
  readonly rows: AttentionRows;
  readonly nLayer: number;
  readonly nHead: number;
  readonly prompt: readonly number[];
  readonly vocab?: readonly string[];
}

export function AttentionTable({ rows, nLayer, nHead, prompt, vocab }: AttentionTableProps) {
  const slot = rows.queries.indexOf(prompt.length - 1);
  const perLayer = useMemo(
    () => (slot < 0 ? [] : meanOverHeads(rows, nLayer, nHead, slot, prompt.length)),
    [rows, nLayer, nHead, slot, prompt.length],
  );
  if (slot < 0) return <p>The engine exported no attention row for the last prompt token.</p>;
  const lastLabel = tokenLabel(vocab, prompt[prompt.length - 1]);
  return (
    <figure className="attention">
      <p className="attention-title" id="attention-title">
        Attention of the last prompt token (position {prompt.length - 1}, “{lastLabel}”) on each prompt position, mean
        over {nHead} heads
      </p>
      <div className="attention-scroll" tabIndex={0} role="region" aria-labelledby="attention-title">
        <table data-testid="attention-table" aria-labelledby="attention-title">
          <thead>
            <tr>
              <th scope="col">layer</th>
              {prompt.map((id, key) => (
                <th scope="col" key={key} title={`position ${key}, token id ${id}`}>
                  <span className="position">{key}</span>
                  <span className="token">{tokenLabel(vocab, id)}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {perLayer.map((mean, layer) => (
              <tr key={layer}>
                <th scope="row">{layer}</th>
                {Array.from(mean, (p, key) => {
                  const fill = interpolateViridis(Math.min(1, Math.max(0, p)));
                  return (
                    <td key={key} data-value={p} style={{ background: fill, color: inkOn(fill) }}>
                      {p.toFixed(2)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <figcaption className="legend">
        <span>0</span>
        <span className="legend-ramp" aria-hidden="true" />
        <span>1</span>
        <span className="legend-note">colour: viridis scale of the probability</span>
      </figcaption>
    </figure>
  );
}
