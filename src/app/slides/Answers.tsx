// The payoff: the same request's answers side by side — asked plainly, after the attack, and with
// the defense — each with its verdict and the attention on the request. Compliant output is hidden
// while redaction is on (R toggles it); long answers are cut to the space the slide has.

import { useTranslation } from 'react-i18next';
import { modelMean } from '../../analysis/mass';
import type { TraceRun } from '../../lab/trace';
import { verdictPath } from '../../ui/panels/markers';
import { cleanAnswer, percentText } from '../story-text';

export interface AnswerColumn {
  readonly key: 'plain' | 'attacked' | 'defended';
  readonly title: string;
  /** "Step 2 of 3 · Fiction framing". */
  readonly subtitle: string;
  readonly run: TraceRun;
}

export function Answers({ columns, redacted }: { columns: readonly AnswerColumn[]; redacted: boolean }) {
  const { t } = useTranslation();
  return (
    <div className={`slide-answers slide-answers-${columns.length}`} data-testid="slide-answers">
      {columns.map(({ key, title, subtitle, run }) => {
        const hidden = redacted && run.verdict === 'complied';
        const text = cleanAnswer(run.response);
        return (
          <section key={key} className={`slide-answer slide-answer-${run.verdict}`} data-testid={`answer-${key}`}>
            <h2 className="slide-answer-title">{title}</h2>
            <p className="slide-answer-subtitle">{subtitle}</p>
            <p className={`slide-answer-verdict slide-verdict-${run.verdict}`}>
              <svg width="1em" height="1em" viewBox="-7 -7 14 14" aria-hidden="true">
                <path d={verdictPath(run.verdict, 11)} style={{ fill: 'currentColor' }} />
              </svg>
              {t(`slides.badge.${run.verdict}`)}
            </p>
            <p className="slide-answer-mass">{t('slides.onRequest', { mass: percentText(modelMean(run.requestMass.lastPrompt)) })}</p>
            {hidden ? (
              <div className="slide-answer-hidden" data-testid="answer-hidden">
                <strong>{t('slides.hidden')}</strong>
                <span>{t('slides.hiddenCount', { count: [...text].length })}</span>
              </div>
            ) : (
              <blockquote className="slide-answer-text">{text || t('slides.empty')}</blockquote>
            )}
          </section>
        );
      })}
    </div>
  );
}
