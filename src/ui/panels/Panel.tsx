// The frame every panel shares: title, an info popover, a toolbar slot and an export menu (SVG, PNG, CSV).

import { createContext, useContext, useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import { useTranslation } from 'react-i18next';
import type { PanelName } from './data';
import '../../i18n'; // panels always have their text, whichever entry imports them first
import './panels.css';

/** Each exporter saves a file (or resolves once saved); a thrown error is shown under the menu. */
export interface PanelExports {
  readonly svg?: () => unknown;
  readonly png?: () => unknown;
  readonly csv?: () => unknown;
}

export interface PanelProps {
  /** Which panel: its test id is `panel-<name>`. */
  readonly name: PanelName;
  readonly title: string;
  /** A short line under the title (the step, the selected head). */
  readonly subtitle?: ReactNode;
  /** What the panel shows and how to read it, behind the ⓘ button. */
  readonly info: ReactNode;
  /** Panel-specific controls, right of the title. */
  readonly toolbar?: ReactNode;
  readonly exports?: PanelExports;
  readonly children: ReactNode;
}

const formats = ['svg', 'png', 'csv'] as const;
type ExportFormat = (typeof formats)[number];

/**
 * false inside a presenter slide: panels show their chart without the ⓘ button, toolbar and export
 * menu (a slide carries nothing to operate), their title and subtitle kept for screen readers only
 * (the slide's headline and takeaway say it on screen).
 */
export const PanelChrome = createContext(true);

export function Panel({ name, title, subtitle, info, toolbar, exports, children }: PanelProps) {
  const chrome = useContext(PanelChrome);
  const id = useId();
  const titleId = `${id}-title`;
  const available = formats.filter((format) => exports?.[format]);
  return (
    <section className="slip-panel" aria-labelledby={titleId} data-testid={`panel-${name}`}>
      <header className={chrome ? 'slip-panel-header' : 'slip-panel-header slip-visually-hidden'}>
        <div className="slip-panel-heading">
          <h2 id={titleId} className="slip-panel-title">
            {title}
          </h2>
          {chrome ? <InfoButton title={title}>{info}</InfoButton> : null}
          {subtitle ? <p className="slip-panel-subtitle">{subtitle}</p> : null}
        </div>
        {chrome ? (
          <div className="slip-panel-tools">
            {toolbar}
            {available.length > 0 ? <ExportMenu title={title} formats={available} exports={exports!} /> : null}
          </div>
        ) : null}
      </header>
      <div className="slip-panel-body">{children}</div>
    </section>
  );
}

/** ⓘ: toggles a popover with the panel's explanation; Escape or a click elsewhere closes it. */
function InfoButton({ title, children }: { title: string; children: ReactNode }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const popoverId = useId();
  const wrapper = useRef<HTMLSpanElement>(null);
  useOutsideClose(open, wrapper, () => setOpen(false));
  return (
    <span className="slip-info" ref={wrapper}>
      <button
        type="button"
        className="slip-icon-button"
        aria-label={t('panel.info', { title })}
        aria-expanded={open}
        aria-controls={popoverId}
        onClick={() => setOpen((value) => !value)}
        onKeyDown={(event) => event.key === 'Escape' && setOpen(false)}
      >
        <span aria-hidden="true">i</span>
      </button>
      <div id={popoverId} role="note" className="slip-popover" hidden={!open}>
        {children}
      </div>
    </span>
  );
}

function ExportMenu({ title, formats: available, exports }: { title: string; formats: readonly ExportFormat[]; exports: PanelExports }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const menuId = useId();
  const wrapper = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const items = useRef<(HTMLButtonElement | null)[]>([]);
  useOutsideClose(open, wrapper, () => setOpen(false));
  useEffect(() => {
    if (open) items.current[0]?.focus();
  }, [open]);

  const close = () => {
    setOpen(false);
    trigger.current?.focus();
  };
  const run = async (format: ExportFormat) => {
    close();
    setError(null);
    try {
      await exports[format]?.();
    } catch (failure) {
      setError(t('export.failed', { message: (failure as Error).message }));
    }
  };
  // Menu keyboard pattern: arrows move between items, Escape closes and returns to the button.
  const onMenuKey = (event: KeyboardEvent) => {
    const index = items.current.findIndex((item) => item === document.activeElement);
    const move = (to: number) => items.current[(to + available.length) % available.length]?.focus();
    if (event.key === 'ArrowDown') move(index + 1);
    else if (event.key === 'ArrowUp') move(index - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(available.length - 1);
    else if (event.key === 'Escape' || event.key === 'Tab') close();
    else return;
    event.preventDefault();
  };

  return (
    <div className="slip-export" ref={wrapper}>
      <button
        ref={trigger}
        type="button"
        className="slip-button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        aria-label={t('export.menu', { title })}
        onClick={() => setOpen((value) => !value)}
      >
        {t('export.button')}
        <span aria-hidden="true" className="slip-caret">
          ▾
        </span>
      </button>
      <div id={menuId} role="menu" className="slip-menu" hidden={!open} onKeyDown={onMenuKey} aria-label={t('export.menu', { title })}>
        {available.map((format, i) => (
          <button
            key={format}
            ref={(element) => {
              items.current[i] = element;
            }}
            type="button"
            role="menuitem"
            tabIndex={-1}
            className="slip-menu-item"
            aria-label={t('export.as', { title, format: t(`export.${format}`) })}
            onClick={() => void run(format)}
          >
            {t(`export.${format}`)}
          </button>
        ))}
      </div>
      {error ? (
        <p role="alert" className="slip-export-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** Calls `close` on a pointer-down outside `ref` or Escape anywhere, while `open`. */
function useOutsideClose(open: boolean, ref: RefObject<HTMLElement | null>, close: () => void) {
  // The latest `close` without re-subscribing on every render.
  const closeRef = useRef(close);
  useEffect(() => {
    closeRef.current = close;
  });
  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (ref.current && !ref.current.contains(event.target as Node)) closeRef.current();
    };
    const onKey = (event: globalThis.KeyboardEvent) => event.key === 'Escape' && closeRef.current();
    document.addEventListener('pointerdown', onPointer);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', onPointer);
      document.removeEventListener('keydown', onKey);
    };
  }, [open, ref]);
}
