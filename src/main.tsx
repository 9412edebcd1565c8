// Browser entry: mounts the engine check page.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { EnginePage } from './ui/EnginePage';
import './ui/engine-page.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <EnginePage />
  </StrictMode>,
);
