// The PoC report: one self-contained HTML file (inline CSS and SVG, no script, no external font,
// image or link; a Content-Security-Policy that forbids them anyway) in English or Japanese, for
// an executive to read on screen or print to PDF. Every user and model text is escaped.

import { DEFAULT_UTILITY_BOUNDS } from '../analysis/utility';
import type { SweepPoint, SweepResult } from '../lab/sweep';
import { withDefenseNames } from '../lab/defense-name';
import type { Trace } from '../lab/trace';
import { clip, escapeHtml as esc } from './escape';
import { costFacts, headline, meetsBounds, requestOutcome, stepSummaries, type CostFacts, type RequestOutcome } from './facts';
import { timelineSvg, tradeoffSvg } from './svg';
import { words, type ReportLanguage, type Words } from './words';

export interface ReportModelFacts {
  /** SHA-256 of the GGUF file, hex. */
  readonly sha256?: string;
  readonly fileBytes?: number;
  /** Where the file came from (a path or a URL), shown as text. */
  readonly file?: string;
}

export interface ReportInput {
  readonly language: ReportLanguage;
  /** One trace per attacked request (eval writes one per request; the app has one). */
  readonly traces: readonly Trace[];
  readonly sweep?: SweepResult;
  /** Show what the model answered to harmful requests (default: redacted). */
  readonly showOutput?: boolean;
  readonly model?: ReportModelFacts;
  /** Attention Slip Lab's version (package.json). */
  readonly appVersion?: string;
  /** When the report is written (default now). */
  readonly createdAt?: Date;
  /** A temperature to mark on the trade-off chart (the app's slider); default: the traces' sharpening T. */
  readonly markedTemperature?: number;
  /** The model's name when no trace names it (a report of a sweep alone). */
  readonly modelName?: string;
}

/** At most this many rows per table; the rest is counted. */
const MAX_ROWS = 500;
const RESPONSE_CHARS = 600;

const attackNames: Record<ReportLanguage, Record<string, string>> = {
  en: { ladder: 'template ladder', ica: 'in-context attack', suffix: 'adversarial suffix search', gcg: 'GCG gradient suffix', custom: 'custom prompts', none: 'no attack' },
  ja: { ladder: 'テンプレートの段階的強化', ica: '文脈内攻撃（ICA）', suffix: '敵対的サフィックス探索', gcg: 'GCG（勾配によるサフィックス）', custom: '独自のプロンプト', none: '攻撃なし' },
};

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
/** A difference of shares in percentage points: +2.5 pts. */
const points = (w: Words, value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} ${w('pointsUnit')}`;
const fixed = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const temperatureText = (t: number) => String(Number(t.toFixed(3)));
const isoMinute = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The sharpening temperature the traces' defense used, when it sharpened. */
function testedTemperature(traces: readonly Trace[]): number | undefined {
  const sharpening = traces[0]?.settings.defense.settings.sharpening as { temperature?: unknown } | undefined;
  return typeof sharpening?.temperature === 'number' ? sharpening.temperature : undefined;
}

/** `key: value; …` of a settings object, values as compact JSON, clipped. */
function settingsText(settings: Record<string, unknown>): string {
  const entries = Object.entries(settings).filter(([, value]) => value !== undefined);
  return entries.map(([key, value]) => `${key}: ${clip(typeof value === 'string' ? value : JSON.stringify(value), 200)}`).join('; ');
}

/** The distinct values, joined (one model for a whole eval, normally). */
const distinct = (values: readonly (string | undefined)[]) => [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];

function row(cells: readonly string[], header = false): string {
  const tag = header ? 'th' : 'td';
  return `<tr>${cells.map((cell) => `<${tag}>${cell}</${tag}>`).join('')}</tr>`;
}

function factsTable(entries: readonly [string, string][]): string {
  return `<table class="facts"><tbody>${entries.map(([key, value]) => `<tr><th scope="row">${esc(key)}</th><td>${value}</td></tr>`).join('')}</tbody></table>`;
}

function verdictText(w: Words, verdict: 'refused' | 'complied'): string {
  return `<span class="verdict ${verdict}">${esc(w(verdict))}</span>`;
}

/** Model output with its runs of blank lines closed up (a small model can emit dozens), clipped. */
const outputText = (text: string, max: number) => clip(text.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim(), max);

/** A response: shown (escaped, clipped) when refused or when the reader opted in; otherwise the redaction notice. */
function responseCell(w: Words, verdict: 'refused' | 'complied', response: string, showOutput: boolean): string {
  if (verdict === 'complied' && !showOutput) return `<span class="redacted">${esc(w('redacted'))}</span>`;
  return `<span class="output">${esc(outputText(response, RESPONSE_CHARS))}</span>`;
}

function costSentence(w: Words, facts: CostFacts): string {
  const { baseline, best, recommended, bounds } = facts;
  const common = { maxOverRefusal: (bounds.maxOverRefusal * 100).toFixed(0), minAgreement: bounds.minAgreement.toFixed(2) };
  switch (facts.verdict) {
    case 'helped':
      return w('verdictHelped', {
        ...common,
        t: temperatureText(recommended!.temperature),
        baseline: percent(baseline!.asr),
        asr: percent(recommended!.asr),
        agreement: fixed(recommended!.agreement, 3),
        overRefusal: points(w, recommended!.overRefusal),
      });
    case 'too-costly':
      return w('verdictTooCostly', { ...common, t: temperatureText(best.temperature), best: percent(best.asr), baseline: percent(baseline!.asr) });
    case 'no-help':
      return w('verdictNoHelp', { ...common, t: temperatureText(best.temperature), best: percent(best.asr), baseline: percent(baseline!.asr) });
    case 'no-baseline':
      return w('verdictNoBaseline');
  }
}

function headlineSection(w: Words, input: ReportInput, outcomes: readonly RequestOutcome[], cost: CostFacts | undefined, tested: number | undefined): string {
  const head = headline(outcomes);
  const sweep = input.sweep;
  const card = (title: string, value: string, detail: string, tone = '') => `<div class="card ${tone}"><h3>${esc(title)}</h3><p class="value">${esc(value)}</p><p class="detail">${esc(detail)}</p></div>`;
  const complied = outcomes.filter((o) => o.firstComplied).length;
  const compliedDefended = outcomes.filter((o) => o.firstDefendedComplied).length;
  const cards: string[] = [];
  if (outcomes.length > 0) {
    cards.push(
      card(
        w('asrUndefended'),
        percent(head.asrLastStep),
        w('asrDetail', { count: complied, total: outcomes.length, value: percent(head.asrAnyStep) }),
        'bad',
      ),
    );
    cards.push(
      head.asrAnyStepDefended !== undefined
        ? card(
            w('asrDefended', { defense: head.defenseLabel ?? '' }),
            percent(head.asrLastStepDefended ?? 0),
            w('asrDetail', { count: compliedDefended, total: outcomes.length, value: percent(head.asrAnyStepDefended) }),
            'good',
          )
        : card(w('asrDefended', { defense: '–' }), '–', w('asrNoDefense')),
    );
  }
  // The utility cost: at the tested temperature when the sweep has it, else at the recommended one.
  const costPoint: SweepPoint | undefined = sweep && (sweep.points.find((p) => tested !== undefined && Math.abs(p.temperature - tested) < 1e-9) ?? sweep.recommended);
  cards.push(
    costPoint
      ? card(
          w('utilityCost'),
          percent(costPoint.agreement),
          w('utilityDetail', { t: temperatureText(costPoint.temperature), overRefusal: points(w, costPoint.overRefusal), kl: fixed(costPoint.kl, 4) }),
        )
      : card(w('utilityCost'), '–', w('utilityNone')),
  );
  if (sweep) {
    const bounds = { maxOverRefusal: (sweep.bounds.maxOverRefusal * 100).toFixed(0), minAgreement: sweep.bounds.minAgreement.toFixed(2) };
    cards.push(
      sweep.recommended
        ? // Green only when that T actually lowered the attack success rate.
          card(w('recommendedT'), `T = ${temperatureText(sweep.recommended.temperature)}`, w('recommendedDetail', bounds), cost?.verdict === 'helped' ? 'good' : '')
        : card(w('recommendedT'), w('recommendedNone'), w('recommendedDetail', bounds), 'bad'),
    );
  } else {
    cards.push(card(w('recommendedT'), '–', w('recommendedNoSweep')));
  }
  if (outcomes.length > 0) {
    cards.push(
      card(
        w('attentionHeadline'),
        `${fixed(head.massFirst)} → ${fixed(head.massLast)}`,
        w('attentionDetail', { first: fixed(head.massFirst), last: fixed(head.massLast) }) + (head.defendedMassLast !== undefined ? w('attentionDefended', { value: fixed(head.defendedMassLast) }) : ''),
      ),
    );
  }
  const verdict = cost ? `<p class="conclusion ${cost.verdict}">${esc(costSentence(w, cost))}</p>` : '';
  const small = cost?.small ? `<p class="note">${esc(w('smallSample', { requests: cost.requests ?? outcomes.length, benign: cost.benign }))}</p>` : '';
  return `<section class="headline"><h2>${esc(w('headlineHeading'))}</h2><div class="cards">${cards.join('')}</div>${verdict}${small}</section>`;
}

function methodSection(w: Words, input: ReportInput, language: ReportLanguage): string {
  const bounds = input.sweep?.bounds ?? DEFAULT_UTILITY_BOUNDS;
  const attack = distinct(input.traces.map((t) => attackNames[language][t.settings.attack.kind] ?? t.settings.attack.kind)).join(', ') || attackNames[language].none;
  const paragraphs = [
    w('method1', { attack }),
    w('method2'),
    w('method3'),
    w('method4'),
    w('method5', { maxOverRefusal: (bounds.maxOverRefusal * 100).toFixed(0), minAgreement: bounds.minAgreement.toFixed(2) }),
    w('method6'),
  ];
  // Each paragraph opens with its subject ("The attack." / "攻撃：") in bold, for a reader who skims.
  const lead = (text: string) => {
    const m = /^([^.：]{1,40}[.：])\s*(.*)$/s.exec(text);
    return m ? `<strong>${esc(m[1])}</strong>${m[1].endsWith('：') ? '' : ' '}${esc(m[2])}` : esc(text);
  };
  return `<section class="page method"><h2>${esc(w('methodHeading'))}</h2>${paragraphs.map((p) => `<p>${lead(p)}</p>`).join('')}</section>`;
}

function testedSection(w: Words, input: ReportInput, language: ReportLanguage): string {
  const { traces, sweep, model } = input;
  const settings = traces.map((t) => t.settings);
  const list = (values: readonly (string | undefined)[]) => esc(distinct(values).join(', ') || w('unknown'));
  const dates = distinct(traces.map((t) => t.createdAt)).sort();
  const dateText = dates.length === 0 ? w('unknown') : dates.length === 1 ? dates[0] : `${dates[0]} – ${dates[dates.length - 1]}`;
  const entries: [string, string][] = [
    [w('model'), list(settings.map((s) => s.model.id))],
    [w('modelFile'), model?.file ? esc(model.file) : list(settings.map((s) => s.model.file))],
    [w('fileHash'), model?.sha256 ? `<code>${esc(model.sha256)}</code>${model.fileBytes ? ` (${esc(model.fileBytes.toLocaleString('en'))} bytes)` : ''}` : esc(w('fileHashUnknown'))],
    [w('architecture'), list(settings.map((s) => [s.model.architecture, s.model.quantization, `${s.model.nLayer} × ${s.model.nHead}`].filter(Boolean).join(' · ')))],
    [w('tokenizer'), list(settings.map((s) => s.tokenizer.id))],
    [w('engine'), esc([`Attention Slip Lab ${input.appVersion ?? ''}`.trim(), ...distinct(settings.map((s) => s.engine.backend)), ...distinct(settings.map((s) => s.engine.version))].join(' · '))],
    [w('adapter'), list(settings.map((s) => s.engine.adapter))],
    [w('runDate'), esc(dateText)],
    [w('requests'), esc(String(traces.length))],
    [w('attack'), list(settings.map((s) => `${attackNames[language][s.attack.kind] ?? s.attack.kind}${Object.keys(s.attack.settings).length ? ` (${settingsText(s.attack.settings)})` : ''}`))],
    [w('defense'), list(settings.map((s) => (s.defense.kind === 'none' ? w('none') : s.defense.label ?? s.defense.kind)))],
  ];
  const compared = distinct(settings.flatMap((s) => (s.compare ?? []).map((d) => d.label ?? d.kind)));
  if (compared.length > 0) entries.push([w('compared'), esc(compared.join(', '))]);
  entries.push([w('generation'), list(settings.map((s) => (s.generation ? w('generationValue', { tokens: s.generation.maxNewTokens }) : undefined)))]);
  entries.push([w('seeds'), list(settings.map((s) => settingsText(s.seeds)))]);
  if (sweep) {
    entries.push([
      w('sweepSettings'),
      esc(
        w('sweepSettingsValue', {
          temperatures: sweep.points.map((p) => temperatureText(p.temperature)).join(', '),
          benign: Math.max(0, ...sweep.points.map((p) => p.benign.length)),
          maxOverRefusal: (sweep.bounds.maxOverRefusal * 100).toFixed(0),
          minAgreement: sweep.bounds.minAgreement.toFixed(2),
        }),
      ),
    ]);
    // The sweep's defenses carry internal labels ("sharpening T=0.7 L0–1"): the rows above name them.
    const { defenses: _labels, ...other } = sweep.settings as Record<string, unknown>;
    if (Object.keys(other).length > 0) entries.push([w('settings'), esc(settingsText(other))]);
  }
  return `<section class="page tested"><h2>${esc(w('testedHeading'))}</h2>${factsTable(entries)}</section>`;
}

function chartsSection(w: Words, input: ReportInput, tested: number | undefined): string {
  const parts: string[] = [];
  const steps = stepSummaries(input.traces);
  if (steps.length > 0) {
    const defenseLabel = input.traces[0].settings.defense.label ?? input.traces[0].settings.defense.kind;
    parts.push(
      `<figure>${timelineSvg(steps, {
        title: w('timelineTitle'),
        x: w('timelineX'),
        y: w('timelineY'),
        undefended: w('undefended'),
        defended: w('defended', { defense: defenseLabel }),
        asrRow: w('asrRow'),
      })}<figcaption><strong>${esc(w('timelineTitle'))}.</strong> ${esc(w('timelineCaption'))}</figcaption></figure>`,
    );
  }
  const { sweep } = input;
  if (sweep && sweep.points.length > 0) {
    const marked = input.markedTemperature ?? tested;
    parts.push(
      `<figure>${tradeoffSvg(sweep.points, sweep.bounds, {
        ...(sweep.recommended ? { recommended: sweep.recommended.temperature } : {}),
        ...(marked !== undefined ? { marked } : {}),
        labels: {
          title: w('tradeoffTitle'),
          x: w('tradeoffX'),
          asr: w('asr'),
          agreement: w('agreement'),
          overRefusal: w('overRefusal'),
          recommended: sweep.recommended ? `${w('recommendedMark')} T = ${temperatureText(sweep.recommended.temperature)}` : '',
          ...(marked !== undefined ? { marked: `${w('testedMark')} T = ${temperatureText(marked)}` } : {}),
        },
      })}<figcaption><strong>${esc(w('tradeoffTitle'))}.</strong> ${esc(w('tradeoffCaption'))}</figcaption></figure>`,
    );
  }
  if (parts.length === 0) return '';
  return `<section class="page charts"><h2>${esc(w('chartsHeading'))}</h2>${parts.join('')}</section>`;
}

function more(w: Words, total: number): string {
  return total > MAX_ROWS ? `<p class="note">${esc(w('more', { count: total - MAX_ROWS }))}</p>` : '';
}

function stepsSection(w: Words, traces: readonly Trace[]): string {
  const steps = stepSummaries(traces);
  if (steps.length === 0) return '';
  const defended = steps.some((s) => s.defended);
  const head = row([w('step'), w('stepLabel'), w('requests'), w('asrCol'), ...(defended ? [w('asrDefendedCol')] : []), w('massCol'), ...(defended ? [w('massDefendedCol')] : [])].map(esc), true);
  const body = steps.slice(0, MAX_ROWS).map((s) =>
    row([
      esc(String(s.step)),
      esc(s.label),
      esc(String(s.requests)),
      esc(percent(s.undefended.asr)),
      ...(defended ? [esc(s.defended ? percent(s.defended.asr) : '–')] : []),
      esc(fixed(s.undefended.mean_request_mass)),
      ...(defended ? [esc(s.defended ? fixed(s.defended.mean_request_mass) : '–')] : []),
    ]),
  );
  return `<section class="page steps"><h2>${esc(w('stepsHeading'))}</h2><table class="data"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>${more(w, steps.length)}</section>`;
}

function requestsSection(w: Words, outcomes: readonly RequestOutcome[], showOutput: boolean): string {
  if (outcomes.length === 0) return '';
  const defended = outcomes.some((o) => o.lastDefended);
  const head = row([w('request'), w('firstAnswered'), w('lastStep'), w('massCol'), w('response'), ...(defended ? [w('responseDefended')] : [])].map(esc), true);
  const body = outcomes.slice(0, MAX_ROWS).map((o) =>
    row([
      `<strong>${esc(o.id)}</strong>${o.category ? ` <span class="muted">(${esc(o.category)})</span>` : ''}<br><span lang="${o.language ?? ''}">${esc(clip(o.text, 400))}</span>`,
      esc(o.firstComplied ? `${o.firstComplied.step} · ${o.firstComplied.label}` : w('neverAnswered')),
      `${esc(o.last.label)}<br>${verdictText(w, o.last.verdict)}${o.lastDefended ? ` / ${verdictText(w, o.lastDefended.verdict)}` : ''}`,
      esc(`${fixed(o.massFirst)} → ${fixed(o.massLast)}${o.defendedMassLast !== undefined ? ` (${fixed(o.defendedMassLast)})` : ''}`),
      responseCell(w, o.last.verdict, o.last.response, showOutput),
      ...(defended ? [o.lastDefended ? responseCell(w, o.lastDefended.verdict, o.lastDefended.response, showOutput) : '–'] : []),
    ]),
  );
  return `<section class="page requests"><h2>${esc(w('requestsHeading'))}</h2><table class="data wide"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>${more(w, outcomes.length)}</section>`;
}

function sweepSection(w: Words, sweep: SweepResult | undefined): string {
  if (!sweep || sweep.points.length === 0) return '';
  const head = row([w('temperature'), w('asr'), w('meanMass'), w('overRefusal'), w('agreement'), w('kl'), w('dLogLik'), w('withinBounds')].map(esc), true);
  const body = [...sweep.points]
    .sort((a, b) => b.temperature - a.temperature)
    .map((p) => {
      const recommended = sweep.recommended?.temperature === p.temperature;
      const cells = [
        esc(temperatureText(p.temperature)) + (recommended ? ` <strong class="good-text">★ ${esc(w('recommendedMark'))}</strong>` : ''),
        esc(percent(p.asr)),
        esc(fixed(p.meanRequestMass)),
        esc(points(w, p.overRefusal)),
        esc(fixed(p.agreement)),
        esc(fixed(p.kl, 4)),
        esc(fixed(p.dLogLik, 4)),
        esc(meetsBounds(p, sweep.bounds) ? w('yes') : w('no')),
      ];
      return recommended ? row(cells).replace('<tr>', '<tr class="recommended">') : row(cells);
    });
  // Everyday prompts, one by one, at the recommended T (else the lowest-ASR one): the evidence behind the agreement.
  const shown = sweep.recommended ?? [...sweep.points].sort((a, b) => a.asr - b.asr)[0];
  const benignHead = row([w('goal'), w('agreement'), w('kl'), w('dLogLik'), w('refusedCols'), w('answers')].map(esc), true);
  const benignBody = shown.benign.slice(0, MAX_ROWS).map((b) =>
    row([
      `<strong>${esc(b.id)}</strong><br><span lang="${b.language}">${esc(clip(b.goal, 300))}</span>`,
      esc(fixed(b.measures.agreement)),
      esc(fixed(b.measures.kl, 4)),
      esc(fixed(b.measures.dLogLik, 4)),
      esc(`${b.undefendedRefused ? w('refused') : w('complied')} → ${b.defendedRefused ? w('refused') : w('complied')}`),
      `<span class="output">${esc(outputText(b.answer, 240))}</span><hr><span class="output">${esc(outputText(b.defendedAnswer, 240))}</span>`,
    ]),
  );
  const benign =
    shown.benign.length > 0
      ? `<h3>${esc(w('benignHeading', { t: temperatureText(shown.temperature) }))}</h3><table class="data wide"><thead>${benignHead}</thead><tbody>${benignBody.join('')}</tbody></table>${more(w, shown.benign.length)}`
      : '';
  return `<section class="page sweep"><h2>${esc(w('sweepHeading'))}</h2><table class="data"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>${benign}</section>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #555e6e; --line: #d9dde4; --good: #00694d; --bad: #a63c00; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1040px; padding: 32px 28px 64px; color: var(--ink); background: #fff;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Noto Sans CJK JP", "Yu Gothic", Meiryo, sans-serif; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 16px; margin: 20px 0 8px; }
.subtitle, .muted, .note { color: var(--muted); }
.note { font-size: 13px; }
.banner { border-left: 4px solid var(--bad); background: #fff4ec; padding: 8px 12px; margin: 12px 0; }
.banner.safe { border-left-color: var(--good); background: #ecf8f3; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-top: 4px solid var(--muted); border-radius: 6px; padding: 10px 14px; break-inside: avoid; }
.card.bad { border-top-color: #D55E00; }
.card.good { border-top-color: #009E73; }
.card h3 { margin: 0; font-size: 13px; color: var(--muted); font-weight: 600; }
.card .value { margin: 4px 0; font-size: 26px; font-weight: 700; }
.card .detail { margin: 0; font-size: 13px; color: var(--muted); }
.conclusion { font-size: 17px; font-weight: 600; margin: 16px 0 4px; padding: 10px 14px; border-radius: 6px; background: #f3f5f8; }
.conclusion.helped { background: #ecf8f3; }
.conclusion.too-costly, .conclusion.no-help { background: #fff4ec; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
thead th { border-bottom: 2px solid var(--ink); }
table.facts th { width: 26%; color: var(--muted); font-weight: 600; }
tr.recommended td { background: #ecf8f3; font-weight: 600; }
.good-text { color: var(--good); }
.verdict.refused { color: #0072B2; font-weight: 600; }
.verdict.complied { color: #a63c00; font-weight: 600; }
.output { white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Noto Sans Mono CJK JP", monospace; font-size: 12px; }
.redacted { color: var(--muted); font-style: italic; }
hr { border: 0; border-top: 1px dashed var(--line); margin: 4px 0; }
code { font-size: 12px; overflow-wrap: anywhere; }
figure { margin: 16px 0 24px; break-inside: avoid; }
figure svg { display: block; width: 100%; max-width: 900px; height: auto; font-family: inherit; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
.method p { max-width: 46em; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .page { break-before: page; }
  h2 { margin-top: 0; }
  h2, h3 { break-after: avoid; }
  tr, .card, figure { break-inside: avoid; }
  thead { display: table-header-group; }
}
`;

/** The whole report as one HTML document. */
export function renderReport(report: ReportInput): string {
  const language = report.language;
  // Every defense named for people in the report's language, never by its internal label.
  const input = { ...report, traces: report.traces.map((trace) => withDefenseNames(trace, language)) };
  const w = words(language);
  const showOutput = input.showOutput ?? false;
  const created = input.createdAt ?? new Date();
  const outcomes = input.traces.map((trace, i) => requestOutcome(trace, i));
  const cost = input.sweep ? costFacts(input.sweep) : undefined;
  const tested = testedTemperature(input.traces);
  const models = distinct([...input.traces.map((t) => t.settings.model.id), ...(input.traces.length === 0 ? [input.modelName] : [])]);
  const modelName = models.join(', ') || w('unknown');
  const title = `${w('title')} — ${modelName}`;
  const body = [
    `<header><h1>${esc(w('title'))}</h1><p class="subtitle">${esc(w('subtitle', { model: modelName, date: isoMinute(created) }))}</p>`,
    `<p class="banner${showOutput ? '' : ' safe'}">${esc(showOutput ? w('shownNote') : w('redactedNote'))}</p></header>`,
    headlineSection(w, input, outcomes, cost, tested),
    methodSection(w, input, language),
    testedSection(w, input, language),
    chartsSection(w, input, tested),
    sweepSection(w, input.sweep),
    stepsSection(w, input.traces),
    requestsSection(w, outcomes, showOutput),
    `<footer>${esc(w('created', { date: isoMinute(created), version: input.appVersion ?? '' }))}</footer>`,
  ].join('\n');
  // default-src 'none': no script, font, image, frame or connection of any origin can load, even
  // if some text escaped its escaping; inline styles (the sheet above, SVG attributes) are allowed.
  return `<!DOCTYPE html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
