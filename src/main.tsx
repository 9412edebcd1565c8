// Browser entry: the lab app, or the engine check page at ?page=engine (adapter, load, raw run).

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { EnginePage } from './ui/EnginePage';
import './ui/i18n';
import './ui/panels/panels.css';
import './app/app.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
const enginePage = new URLSearchParams(location.search).get('page') === 'engine';
// The engine page's own global styles must not leak into the app.
if (enginePage) await import('./ui/engine-page.css');
createRoot(root).render(<StrictMode>{enginePage ? <EnginePage /> : <App />}</StrictMode>);
