// The PoC report: one self-contained HTML file from traces and a temperature sweep, and the facts
// it states (also read by the presenter's "what it costs" slide).

export { renderReport, type ReportInput, type ReportModelFacts } from './html';
export { costFacts, headline, requestOutcome, stepSummaries, sweepRequestCount, type CostFacts, type CostVerdict, type Headline, type RequestOutcome } from './facts';
export { escapeHtml } from './escape';
export type { ReportLanguage } from './words';

/** The report's file name: `slip-lab-report-<model>-<yyyy-mm-dd>.html`. */
export function reportFileName(model: string, date = new Date()): string {
  const slug = model.toLowerCase().replace(/\.gguf$/, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'model';
  return `slip-lab-report-${slug}-${date.toISOString().slice(0, 10)}.html`;
}
