// "Copy demo link": two links to the scenario on screen, one that opens the lab with the run done,
// one that goes on into presenter mode. Each reproduces the run: model, request, attack, defense and
// their settings, response length, seed and language (demo-link.ts).

import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { getState, useApp } from '../store';
import { loadedModelSources } from './actions';
import { linkSettingsOf, modelLinkOf } from './demo-link';
import { shareLink } from './url';

type Variant = 'lab' | 'present';

export function ShareMenu({ language }: { language: 'en' | 'ja' }) {
  const { t } = useTranslation();
  const loaded = useApp((s) => s.summary !== undefined);
  const [open, setOpen] = useState(false);
  const [links, setLinks] = useState<Record<Variant, string>>({ lab: '', present: '' });
  const [copied, setCopied] = useState<Variant>();
  const [local, setLocal] = useState(false);
  const wrapper = useRef<HTMLDivElement>(null);
  const panelId = useId();

  const toggle = () => {
    if (!open) {
      // The links of the scenario as it is now (settings changed since the run count too).
      const sources = loadedModelSources();
      const model = sources && modelLinkOf(sources.model, sources.tokenizer);
      const link = (present: boolean) => shareLink(location.href, linkSettingsOf(getState(), model, language, present));
      setLinks({ lab: link(false), present: link(true) });
      setLocal(model !== undefined && 'local' in model);
      setCopied(undefined);
    }
    setOpen(!open);
  };

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => wrapper.current && !wrapper.current.contains(event.target as Node) && setOpen(false);
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && setOpen(false);
    document.addEventListener('pointerdown', onPointer);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', onPointer);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  const copy = (variant: Variant, field: HTMLInputElement | null) => {
    const done = () => setCopied(variant);
    // Without clipboard access (an http page, a denied permission) the link is selected for Ctrl+C.
    const select = () => {
      field?.focus();
      field?.select();
    };
    if (navigator.clipboard) void navigator.clipboard.writeText(links[variant]).then(done, select);
    else select();
  };

  return (
    <div className="share-menu" ref={wrapper}>
      <button type="button" onClick={toggle} disabled={!loaded} aria-expanded={open} aria-controls={panelId} data-testid="share">
        {t('shell.share')}
      </button>
      <div id={panelId} className="share-panel" hidden={!open} role="group" aria-label={t('shell.share')}>
        <p className="share-explain">{t('shell.shareExplain')}</p>
        {local && <p className="share-note">{t('shell.shareLocalModel')}</p>}
        {(['lab', 'present'] as const).map((variant) => (
          <ShareRow key={variant} variant={variant} link={links[variant]} copied={copied === variant} onCopy={copy} />
        ))}
      </div>
    </div>
  );
}

function ShareRow({ variant, link, copied, onCopy }: { variant: Variant; link: string; copied: boolean; onCopy: (variant: Variant, field: HTMLInputElement | null) => void }) {
  const { t } = useTranslation();
  const field = useRef<HTMLInputElement>(null);
  const id = useId();
  return (
    <div className="share-row">
      <label htmlFor={id}>{t(variant === 'lab' ? 'shell.shareLab' : 'shell.sharePresent')}</label>
      <div className="share-field">
        <input id={id} ref={field} type="text" readOnly value={link} onFocus={(e) => e.target.select()} data-testid={`share-link-${variant}`} />
        <button type="button" onClick={() => onCopy(variant, field.current)} data-testid={`share-copy-${variant}`}>
          {copied ? t('shell.copied') : t('shell.shareCopyButton')}
        </button>
      </div>
    </div>
  );
}
