// Panel data: the numbers each chart draws and exports, checked against hand-computed means.

import { describe, expect, it } from 'vitest';
import {
  attentionRow,
  copyVote,
  driftSeries,
  exportFileName,
  gridCsvRows,
  gridMax,
  gridValues,
  mapStatus,
  matrixCsvRows,
  primarySpanIndex,
  responseCsvRows,
  selectedMass,
  stripItems,
  stripTokens,
  timelineCsvRows,
  timelineSeries,
  tokenCsvRows,
  tokenTextParts,
  tokenWeightMax,
  weightBySpanKind,
} from '../../src/ui/panels/data';
import { modelMean, perHeadMean, perLayerMean } from '../../src/analysis/mass';
import appEn from '../../src/i18n/locales/app.en.json';
import appJa from '../../src/i18n/locales/app.ja.json';
import en from '../../src/i18n/locales/panels.en.json';
import ja from '../../src/i18n/locales/panels.ja.json';
import { buildTrace, matrixOf } from '../fixtures/trace';

/** (3 layers, 2 heads): layer means 0.2, 0.6, 0.2; head means 0.8/3, 1.2/3; model mean 1/3. */
const known = [
  [0.1, 0.3],
  [0.5, 0.7],
  [0.2, 0.2],
];

describe('means over layers and heads (the analysis functions the panels use, on the nested form traces store)', () => {
  it('averages heads per layer, layers per head, and both for the model', () => {
    expect(Array.from(perLayerMean(known))).toEqual([expect.closeTo(0.2, 12), expect.closeTo(0.6, 12), expect.closeTo(0.2, 12)]);
    expect(Array.from(perHeadMean(known))).toEqual([expect.closeTo(0.8 / 3, 12), expect.closeTo(1.2 / 3, 12)]);
    expect(modelMean(known)).toBeCloseTo(1 / 3, 12);
  });

  it('picks a cell, a layer, a head or the model by selection', () => {
    expect(selectedMass(known, 1, 1)).toBe(0.7);
    expect(selectedMass(known, 1, 'mean')).toBeCloseTo(0.6, 12);
    expect(selectedMass(known, 'mean', 0)).toBeCloseTo(0.8 / 3, 12);
    expect(selectedMass(known, 'mean', 'mean')).toBeCloseTo(1 / 3, 12);
  });
});

/** Three steps of a 2-layer × 2-head model; the request mass falls and the model gives in at step 2. */
function slippingTrace() {
  return buildTrace({
    nLayer: 2,
    nHead: 2,
    steps: [
      { label: 'plain', lastPrompt: [[0.6, 0.4], [0.8, 0.2]], verdict: 'refused' },
      {
        label: 'role-play',
        lastPrompt: [[0.3, 0.1], [0.5, 0.3]],
        lastPromptSinkAdjusted: [[0.6, 0.2], [0.9, 0.5]],
        verdict: 'refused',
        defended: { lastPrompt: [[0.7, 0.5], [0.6, 0.6]], verdict: 'refused' },
      },
      { label: 'fiction', lastPrompt: [[0.1, 0.1], [0.2, 0.0]], verdict: 'complied', margin: -1.5 },
    ],
  });
}

describe('timelineSeries', () => {
  it('gives the model mean, the layer range and the verdict per step', () => {
    const series = timelineSeries(slippingTrace());
    // Step 0: layer means 0.5 and 0.5 → model 0.5. Step 1: 0.2 and 0.4 → 0.3. Step 2: 0.1 and 0.1 → 0.1.
    expect(series.map((p) => p.undefended.mass)).toEqual([expect.closeTo(0.5, 12), expect.closeTo(0.3, 12), expect.closeTo(0.1, 12)]);
    expect(series[1].undefended.layerMin).toBeCloseTo(0.2, 12);
    expect(series[1].undefended.layerMax).toBeCloseTo(0.4, 12);
    expect(series.map((p) => p.undefended.verdict)).toEqual(['refused', 'refused', 'complied']);
    expect(series.map((p) => p.label)).toEqual(['plain', 'role-play', 'fiction']);
    expect(series[0].undefended.selected).toBeNull();
  });

  it('has a defended point only where the step has a defended run', () => {
    const series = timelineSeries(slippingTrace());
    expect(series[0].defended).toBeNull();
    // (0.7 + 0.5) / 2 = 0.6 and (0.6 + 0.6) / 2 = 0.6 → 0.6.
    expect(series[1].defended?.mass).toBeCloseTo(0.6, 12);
    expect(series[2].defended).toBeNull();
  });

  it('tracks the selected layer or head beside the model mean', () => {
    const trace = slippingTrace();
    expect(timelineSeries(trace, { layer: 1, head: 0 }).map((p) => p.undefended.selected)).toEqual([0.8, 0.5, 0.2]);
    const layer0 = timelineSeries(trace, { layer: 0, head: 'mean' }).map((p) => p.undefended.selected);
    expect(layer0).toEqual([expect.closeTo(0.5, 12), expect.closeTo(0.2, 12), expect.closeTo(0.1, 12)]);
    const head1 = timelineSeries(trace, { layer: 'mean', head: 1 }).map((p) => p.undefended.selected);
    expect(head1).toEqual([expect.closeTo(0.3, 12), expect.closeTo(0.2, 12), expect.closeTo(0.05, 12)]);
  });

  it('uses sink-adjusted masses where a run has them and says where it fell back', () => {
    const series = timelineSeries(slippingTrace(), { sinkAdjusted: true });
    // Step 1 sink-adjusted: layer means 0.4 and 0.7 → 0.55.
    expect(series[1].undefended.mass).toBeCloseTo(0.55, 12);
    expect(series[1].undefended.fellBack).toBe(false);
    expect(series[0].undefended.mass).toBeCloseTo(0.5, 12);
    expect(series[0].undefended.fellBack).toBe(true);
    expect(timelineSeries(slippingTrace())[0].undefended.fellBack).toBe(false);
  });

  it('exports one CSV row per step with empty defended cells where there is no defended run', () => {
    const rows = timelineCsvRows(timelineSeries(slippingTrace()));
    expect(rows[1]).toEqual({ step: 1, label: 'role-play', mass: 0.3, defended_mass: 0.6, verdict: 'refused', defended_verdict: 'refused', loss: '' });
    expect(rows[2]).toEqual({ step: 2, label: 'fiction', mass: 0.1, defended_mass: '', verdict: 'complied', defended_verdict: '', loss: '' });
  });

  it('carries GCG\'s target loss per step into the series and the CSV', () => {
    const trace = slippingTrace();
    const withLoss = { ...trace, steps: trace.steps.map((step, i) => ({ ...step, loss: 3 - i / 3 })) };
    const series = timelineSeries(withLoss);
    expect(series.map((p) => p.loss)).toEqual(withLoss.steps.map((s) => s.loss));
    expect(timelineCsvRows(series)[1].loss).toBe(Number((3 - 1 / 3).toFixed(6)));
  });
});

/**
 * Five prompt tokens (sink + 4 request tokens), 2 layers × 2 heads; each head's last-prompt row is
 * given, and two generated tokens with their rows (6 and 7 keys).
 */
function tokenTrace() {
  const rows = [
    [
      [0.6, 0.1, 0.1, 0.1, 0.1],
      [0.2, 0.2, 0.2, 0.2, 0.2],
    ],
    [
      [1.0, 0.0, 0.0, 0.0, 0.0],
      [0.4, 0.3, 0.1, 0.1, 0.1],
    ],
  ];
  return buildTrace({
    nLayer: 2,
    nHead: 2,
    steps: [
      {
        lastPrompt: matrixOf(2, 2, () => 0.4),
        lastPromptRow: rows,
        generatedRows: [
          [0.5, 0.1, 0.1, 0.1, 0.1, 0.1],
          [0.5, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2],
        ],
        generatedTokens: [7, 8],
        generated: [matrixOf(2, 2, (l, h) => 0.1 * (l + h)), matrixOf(2, 2, () => 0.05)],
        verdict: 'complied',
        response: 'Sure, here',
      },
      {
        lastPrompt: matrixOf(2, 2, () => 0.2),
        // Step 1: the request has cooled, and the sink (key 0) takes 0.9 in head (0, 0).
        lastPromptRow: [
          [
            [0.9, 0.05, 0.05, 0.0, 0.0],
            [0.5, 0.2, 0.1, 0.1, 0.1],
          ],
          rows[1],
        ],
      },
    ],
  });
}

describe('attentionRow', () => {
  it('selects one head or averages over heads, layers or both', () => {
    const run = tokenTrace().steps[0];
    expect(attentionRow(run, 1, 1, 'last')).toEqual([0.4, 0.3, 0.1, 0.1, 0.1]);
    // Layer 0, mean over heads: (0.6 + 0.2) / 2, (0.1 + 0.2) / 2, …
    expect(attentionRow(run, 0, 'mean', 'last')).toEqual([0.4, 0.15, 0.15, 0.15, 0.15].map((v) => expect.closeTo(v, 12)));
    // Head 0, mean over layers: (0.6 + 1.0) / 2, (0.1 + 0) / 2, …
    expect(attentionRow(run, 'mean', 0, 'last')).toEqual([0.8, 0.05, 0.05, 0.05, 0.05].map((v) => expect.closeTo(v, 12)));
    // All four heads: (0.6 + 0.2 + 1.0 + 0.4) / 4 = 0.55 on the sink, (0.1 + 0.2 + 0 + 0.3) / 4 = 0.15 on key 1.
    expect(attentionRow(run, 'mean', 'mean', 'last')).toEqual([0.55, 0.15, 0.1, 0.1, 0.1].map((v) => expect.closeTo(v, 12)));
    expect(attentionRow(run, 0, 0, 1)).toEqual([0.5, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2]);
    expect(attentionRow(run, 0, 0, 5)).toBeNull();
  });
});

describe('stripTokens', () => {
  it('gives each prompt token its span and weight, and marks the decisive query', () => {
    const tokens = stripTokens(tokenTrace().steps[0], { layer: 1, head: 1, query: 'last' });
    expect(tokens.map((t) => t.text)).toEqual(['<s>', 'Explain', ' how', ' to', ' harm']);
    expect(tokens.map((t) => t.spanKind)).toEqual(['sink', 'request', 'request', 'request', 'request']);
    expect(tokens.map((t) => t.weight)).toEqual([0.4, 0.3, 0.1, 0.1, 0.1]);
    expect(tokens.map((t) => t.isQuery)).toEqual([false, false, false, false, true]);
    // The request holds 0.3 + 0.1 + 0.1 + 0.1 = 0.6 of this head's attention.
    expect(weightBySpanKind(tokens).request).toBeCloseTo(0.6, 12);
  });

  it('appends the response tokens when a generated token is the query', () => {
    const tokens = stripTokens(tokenTrace().steps[0], { layer: 'mean', head: 'mean', query: 0, decode: (id) => `<${id}>` });
    expect(tokens).toHaveLength(7);
    expect(tokens.slice(5).map((t) => [t.text, t.part, t.spanKind, t.isQuery])).toEqual([
      ['<7>', 'response', 'response', true],
      ['<8>', 'response', 'response', false],
    ]);
    // Row 0 has 6 keys: generated token 1 comes after the query, so it is no key of it.
    expect(tokens[5].weight).toBe(0.1);
    expect(tokens[6].weight).toBeNull();
  });

  it('hides the response text of a compliant run when redacted, in the chips and the CSV', () => {
    const run = tokenTrace().steps[0];
    const tokens = stripTokens(run, { layer: 0, head: 0, query: 1, redacted: true });
    expect(tokens.slice(5).every((t) => t.redacted)).toBe(true);
    expect(tokens.slice(0, 5).some((t) => t.redacted)).toBe(false);
    const rows = tokenCsvRows(tokens);
    expect(rows[6]).toEqual({ index: 6, token: '[redacted]', span: 'response', weight: 0.2 });
    expect(rows[1]).toEqual({ index: 1, token: 'Explain', span: 'request', weight: 0.05 });
  });

  it('falls back to token ids without texts, and to no weight without exported rows', () => {
    const trace = tokenTrace();
    const run = { ...trace.steps[1], tokenTexts: undefined, lastPromptRow: undefined };
    const tokens = stripTokens(run, { layer: 0, head: 0, query: 'last' });
    expect(tokens.map((t) => t.text)).toEqual(['#100', '#101', '#102', '#103', '#104']);
    expect(tokens.every((t) => t.weight === null)).toBe(true);
  });
});

describe('stripItems', () => {
  it('opens each span group with its label, outlines it, and breaks the line after a newline token', () => {
    const trace = buildTrace({
      nLayer: 1,
      nHead: 1,
      tokenTexts: ['<s>', 'sys', '\n', 'Explain', ' harm', '!!', '\n', 'user'],
      spans: [
        { kind: 'sink', start: 0, end: 1, text: '<s>' },
        { kind: 'template', start: 1, end: 3, text: 'sys\n' },
        { kind: 'request', start: 3, end: 5, text: 'Explain harm' },
        { kind: 'template', start: 6, end: 8, text: '\nuser' },
      ],
      steps: [{ lastPrompt: [[0.3]] }],
    });
    const items = stripItems(stripTokens(trace.steps[0], { layer: 0, head: 0, query: 'last' }));
    const described = items.map((item) =>
      item.type === 'label' ? `[${item.kind}]` : item.type === 'break' ? '/' : `${item.token.index}${item.groupStart ? '<' : ''}${item.groupEnd ? '>' : ''}`,
    );
    // '!!' is in no span: no label, a group of its own. The last template span is split by its
    // newline: closed at the line's end, reopened (without a second label) on the next line.
    expect(described).toEqual(['[sink]', '0<>', '[template]', '1<', '2>', '/', '[request]', '3<', '4>', '5<>', '[template]', '6<>', '/', '7<>']);
  });
});

describe('primarySpanIndex', () => {
  it('draws a token shared by two spans in the request, and a token in no span in none', () => {
    const spans = [
      { kind: 'sink' as const, start: 0, end: 1, text: '' },
      { kind: 'attack' as const, start: 3, end: 6, text: '' },
      { kind: 'request' as const, start: 1, end: 4, text: '' },
    ];
    expect(primarySpanIndex(spans, 3)).toBe(2);
    expect(primarySpanIndex(spans, 4)).toBe(1);
    expect(primarySpanIndex(spans, 0)).toBe(0);
    expect(primarySpanIndex(spans, 6)).toBe(-1);
  });
});

describe('tokenWeightMax', () => {
  it('is the largest non-sink weight over all steps, so the scale is the same at every step', () => {
    // Head (1, 1): non-sink weights at most 0.3 in both steps; head (0, 1): 0.2 at step 0, 0.2 at step 1.
    expect(tokenWeightMax(tokenTrace(), 1, 1, 'last')).toBe(0.3);
    expect(tokenWeightMax(tokenTrace(), 0, 1, 'last')).toBe(0.2);
    // Head (1, 0) puts everything on the sink: the scale falls back to 1.
    expect(tokenWeightMax(tokenTrace(), 1, 0, 'last')).toBe(1);
    // Generated row 1 only exists at step 0; its largest non-sink key is the response token (0.2).
    expect(tokenWeightMax(tokenTrace(), 'mean', 'mean', 1)).toBe(0.2);
  });
});

describe('tokenTextParts', () => {
  it('makes spaces, newlines and control characters visible as dimmed markers', () => {
    expect(tokenTextParts(' how')).toEqual([
      { text: '·', marker: true },
      { text: 'how', marker: false },
    ]);
    expect(tokenTextParts('\n\n')).toEqual([
      { text: '↵', marker: true },
      { text: '↵', marker: true },
    ]);
    expect(tokenTextParts('a\u0000b')).toEqual([
      { text: 'a', marker: false },
      { text: '␀', marker: true },
      { text: 'b', marker: false },
    ]);
    expect(tokenTextParts('')).toEqual([{ text: '∅', marker: true }]);
    expect(tokenTextParts('依頼')).toEqual([{ text: '依頼', marker: false }]);
  });
});

describe('head grid values', () => {
  it('gives the matrix with its row and column means and one scale for the trace', () => {
    const trace = slippingTrace();
    const grid = gridValues(trace.steps[1]);
    expect(grid.layerMeans).toEqual([expect.closeTo(0.2, 12), expect.closeTo(0.4, 12)]);
    expect(grid.headMeans).toEqual([expect.closeTo(0.4, 12), expect.closeTo(0.2, 12)]);
    expect(grid.model).toBeCloseTo(0.3, 12);
    // The largest cell of any run, the defended run included: 0.8 (step 0, layer 1, head 0).
    expect(gridMax(trace)).toBe(0.8);
    // Sink-adjusted: step 1 has 0.9; the other runs fall back to raw masses (0.8, 0.7, …).
    expect(gridMax(trace, true)).toBe(0.9);
    expect(gridValues(trace.steps[1], true).adjusted).toBe(true);
  });

  it('exports one row per (layer, head), layer-major', () => {
    expect(gridCsvRows(known)).toEqual([
      { layer: 0, head: 0, mass: 0.1 },
      { layer: 0, head: 1, mass: 0.3 },
      { layer: 1, head: 0, mass: 0.5 },
      { layer: 1, head: 1, mass: 0.7 },
      { layer: 2, head: 0, mass: 0.2 },
      { layer: 2, head: 1, mass: 0.2 },
    ]);
  });
});

describe('attention matrix', () => {
  it('shows the stored map only for its own head', () => {
    const trace = buildTrace({
      nLayer: 2,
      nHead: 2,
      steps: [{ lastPrompt: matrixOf(2, 2, () => 0.5), map: { layer: 1, head: 0, data: matrixOf(5, 5, (q, k) => (k <= q ? 1 / (q + 1) : 0)) } }],
    });
    const run = trace.steps[0];
    expect(mapStatus(run, 1, 0)).toBe('ready');
    expect(mapStatus(run, 0, 0)).toBe('other-head');
    expect(mapStatus(run, 'mean', 0)).toBe('no-head');
    expect(mapStatus({ ...run, map: undefined }, 1, 0)).toBe('missing');
    const rows = matrixCsvRows(run.map!.data);
    expect(rows).toHaveLength(25);
    expect(rows[5 * 2 + 1]).toEqual({ query: 2, key: 1, p: 0.333333 });
    expect(rows[3]).toEqual({ query: 0, key: 3, p: 0 });
  });
});

describe('response', () => {
  it('gives the model-mean request mass per generated token', () => {
    const run = tokenTrace().steps[0];
    // g = 0: cells 0, 0.1, 0.1, 0.2 → 0.1. g = 1: all 0.05.
    expect(driftSeries(run)).toEqual([
      { index: 0, mass: expect.closeTo(0.1, 12) },
      { index: 1, mass: expect.closeTo(0.05, 12) },
    ]);
    expect(responseCsvRows(run, { decode: (id) => `tok${id}` })).toEqual([
      { generated_index: 0, token: 'tok7', mass: 0.1 },
      { generated_index: 1, token: 'tok8', mass: 0.05 },
    ]);
    expect(responseCsvRows(run, { redacted: true }).map((r) => r.token)).toEqual(['[redacted]', '[redacted]']);
    // The trace's own token texts win over a decoder.
    const withTexts = { ...run, generatedTexts: ['Sure', ','] };
    expect(responseCsvRows(withTexts, { decode: (id) => `tok${id}` }).map((r) => r.token)).toEqual(['Sure', ',']);
    expect(driftSeries(tokenTrace().steps[1])).toEqual([]);
  });

  it('counts the SmoothLLM copies that refused', () => {
    const copy = (verdict: 'refused' | 'complied') => ({ prompt: 'p', response: 'r', verdict });
    const trace = buildTrace({
      nLayer: 1,
      nHead: 1,
      steps: [{ lastPrompt: [[0.2]], copies: [...Array(7).fill(copy('refused')), ...Array(3).fill(copy('complied'))] }],
    });
    expect(copyVote(trace.steps[0])).toEqual({ refused: 7, total: 10 });
    expect(copyVote(tokenTrace().steps[0])).toBeNull();
  });
});

describe('exportFileName', () => {
  it('names the panel, the attack step and the run', () => {
    expect(exportFileName('timeline', 0, 'svg')).toBe('slip-lab-timeline-step0.svg');
    expect(exportFileName('tokens', 12, 'csv', 'defended')).toBe('slip-lab-tokens-step12-defended.csv');
    expect(exportFileName('matrix', 3, 'png', 'L2 H5')).toBe('slip-lab-matrix-step3-l2-h5.png');
  });
});

describe('trace fixture builder', () => {
  it('rejects numbers of the wrong shape, as the Trace schema does', () => {
    expect(() => buildTrace({ nLayer: 2, nHead: 2, steps: [{ lastPrompt: [[0.1, 0.2]] }] })).toThrow(/layer/);
  });
});

describe('locales', () => {
  /** Every key path, plural suffixes folded (Japanese has only `_other`, English `_one` and `_other`). */
  function keys(resource: object, prefix = ''): string[] {
    return Object.entries(resource).flatMap(([key, value]) =>
      typeof value === 'object' && value !== null ? keys(value, `${prefix}${key}.`) : [`${prefix}${key.replace(/_(zero|one|two|few|many|other)$/, '')}`],
    );
  }

  it('has the same keys in English and Japanese', () => {
    expect([...new Set(keys(ja))].sort()).toEqual([...new Set(keys(en))].sort());
  });

  it('shares no top-level namespace with the app shell, whose resources i18n.ts merges shallowly', () => {
    expect(Object.keys(en).filter((key) => key in appEn)).toEqual([]);
    expect(Object.keys(ja).filter((key) => key in appJa)).toEqual([]);
  });

  it('uses the same interpolation variables in both languages', () => {
    const variables = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
    const flat = (resource: object, prefix = ''): [string, string][] =>
      Object.entries(resource).flatMap(([key, value]) => (typeof value === 'object' ? flat(value, `${prefix}${key}.`) : [[`${prefix}${key}`, String(value)] as [string, string]]));
    const japanese = new Map(flat(ja));
    for (const [key, text] of flat(en)) {
      const other = japanese.get(key) ?? japanese.get(key.replace(/_one$/, '_other'));
      expect(other, key).toBeDefined();
      expect(variables(other!).filter((v) => v !== 'count'), key).toEqual(variables(text).filter((v) => v !== 'count'));
    }
  });
});
