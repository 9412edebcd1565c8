// One error for the user: the English sentence from the engine (what went wrong and what to do),
// headed in Japanese by a translated summary of its kind, so a Japanese reader knows what happened.

import { useTranslation } from 'react-i18next';
import type { UiError } from '../store';

/** Error class names with a translated headline in `errors.*`. */
const KNOWN = new Set([
  'NotGgufError',
  'TruncatedGgufError',
  'CorruptGgufError',
  'NonFiniteOutputError',
  'UnsupportedArchitectureError',
  'UnsupportedWeightTypeError',
  'DeviceLimitError',
  'NoWebGPUError',
  'DeviceLostError',
  'DownloadError',
  'EngineInputError',
  'GpuValidationError',
  'TokenizerLoadError',
  'TokenizerMismatchError',
  'PromptLayoutError',
  'TraceFormatError',
  'ScenarioFormatError',
  'FileReadError',
  'AttackInputError',
  'DefenseConfigError',
  'ChoiceError',
  'EmptyRequest',
]);

export function ErrorMessage({ error, testId }: { error: UiError; testId?: string }) {
  const { t, i18n } = useTranslation();
  const kind = KNOWN.has(error.name) ? error.name : 'Error';
  if (kind === 'EmptyRequest') {
    return (
      <p className="error" role="alert" data-testid={testId}>
        {t('scenario.emptyRequest')}
      </p>
    );
  }
  const english = (i18n.resolvedLanguage ?? 'en') === 'en';
  return (
    <div className="error" role="alert" data-testid={testId}>
      {!english && <strong className="error-headline">{t(`errors.${kind}` as 'errors.Error')}</strong>}
      <span lang="en" className={english ? undefined : 'error-detail'}>
        {error.message}
      </span>
    </div>
  );
}
