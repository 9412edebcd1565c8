// Browser entry: the lab app, or the engine check page at ?page=engine (adapter, load, raw run).

import { StrictMode, Suspense, lazy } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import './i18n';
import './ui/panels/panels.css';
import './app/app.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
const enginePage = new URLSearchParams(location.search).get('page') === 'engine';
// The engine page's own global styles must not leak into the app.
if (enginePage) await import('./ui/engine-page.css');
// The engine check page pulls in the GGUF reader and the engine; the app keeps them in its worker.
const EnginePage = lazy(() => import('./ui/EnginePage').then((m) => ({ default: m.EnginePage })));
createRoot(root).render(
  <StrictMode>
    {enginePage ? (
      <Suspense fallback={null}>
        <EnginePage />
      </Suspense>
    ) : (
      <App />
    )}
  </StrictMode>,
);

// The offline shell (built app only): a second visit or a meeting without a network opens at once.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`).catch(() => undefined);
}
