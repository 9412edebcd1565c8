// Vite build of the browser app: React, and shaders/*.wgsl bundled as text (import.meta.glob '?raw').

import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // WebGPU browsers all run ES2022; no legacy transforms needed.
  build: { target: 'es2022', sourcemap: true },
  // ES module workers can split chunks, so the engine worker loads transformers.js only when a
  // tokenizer is needed (an IIFE worker would inline every dynamic import).
  worker: { format: 'es' },
  // Shaders live in /shaders at the project root, outside src/: let the dev server read them.
  server: { fs: { allow: ['.'] } },
});
