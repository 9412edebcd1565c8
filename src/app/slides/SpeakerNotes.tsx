// Speaker notes, for the presenter only: a strip under the slide that N shows and hides (hidden by
// default, so a mirrored projector shows nothing until asked), or a second window (W) to drag onto
// the laptop's own screen while the projector shows the slides. Both follow the slide on screen.

import { useEffect, useState } from 'react';
import { createPortal } from 'react-dom';
import { useTranslation } from 'react-i18next';

export interface NotesContent {
  readonly notes: readonly string[];
  /** "Speaker notes — 3 / 9". */
  readonly heading: string;
}

function NotesList({ notes }: { notes: readonly string[] }) {
  return (
    <ul className="presenter-notes-list">
      {notes.map((note, i) => (
        <li key={i}>{note}</li>
      ))}
    </ul>
  );
}

export function NotesStrip({ content, open }: { content: NotesContent; open: boolean }) {
  const { t } = useTranslation();
  return (
    <aside className="presenter-notes" data-testid="speaker-notes" hidden={!open} aria-label={t('slides.notesTitle')}>
      <NotesList notes={content.notes} />
    </aside>
  );
}

/**
 * Opens a notes window while `open` (a popup the browser may refuse: `onBlocked` says so) and renders
 * the notes into it; closing it by hand reports through `onClosed`.
 */
export function NotesWindow({ content, onClosed }: { content: NotesContent; onClosed: () => void }) {
  const [container, setContainer] = useState<HTMLElement | null>(null);
  useEffect(() => {
    const popup = window.open('', 'slip-lab-speaker-notes', 'popup,width=720,height=520');
    if (!popup) {
      onClosed();
      return;
    }
    const doc = popup.document;
    doc.documentElement.lang = document.documentElement.lang;
    doc.documentElement.dataset.theme = 'dark';
    // The app's own stylesheets (same origin, so the page's Content Security Policy allows them).
    doc.head.replaceChildren(...[...document.querySelectorAll('link[rel="stylesheet"]')].map((link) => link.cloneNode(true)));
    doc.body.replaceChildren();
    doc.body.className = 'presenter-notes-window';
    const root = doc.createElement('div');
    doc.body.append(root);
    setContainer(root);
    const watch = window.setInterval(() => popup.closed && onClosed(), 500);
    // A clicker's keys reach whichever window has the focus: pass them on to the presentation.
    const forward = (event: KeyboardEvent) => {
      if (event.key === 'Tab') return;
      event.preventDefault();
      window.dispatchEvent(new KeyboardEvent('keydown', { key: event.key, shiftKey: event.shiftKey }));
    };
    popup.addEventListener('keydown', forward);
    return () => {
      popup.removeEventListener('keydown', forward);
      window.clearInterval(watch);
      setContainer(null);
      popup.close();
    };
    // Opened once while mounted; the content follows through the portal.
  }, []);
  useEffect(() => {
    if (container) container.ownerDocument.title = content.heading;
  }, [container, content.heading]);
  return container
    ? createPortal(
        <main className="presenter-notes presenter-notes-standalone" data-testid="speaker-notes-window">
          <h1>{content.heading}</h1>
          <NotesList notes={content.notes} />
        </main>,
        container,
      )
    : null;
}
