// What the e2e global setup hands to the tests (via vitest's provide/inject), and the model they load.

import { presets, type RandomModelSpec } from '../../fixtures/models';

/** The model every e2e test loads: small, in the most common quantized weight type. */
export const E2E_MODEL: RandomModelSpec = { ...presets.tinyLlama, weightType: 'Q8_0' };

/** The app's default prompt and generation length (see src/ui/EnginePage.tsx). */
export const DEFAULT_PROMPT = [1, 50, 77, 100, 3];
export const DEFAULT_NEW_TOKENS = 8;

export interface E2eServer {
  /** `http://127.0.0.1:<port>`: the built app at `/`, fixtures at `/model.gguf`, `/noise.gguf`, `/truncated.gguf`, `/mamba.gguf`. */
  readonly origin: string;
  /** Path on disk of the model served at `/model.gguf`. */
  readonly modelPath: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eServer;
  }
}
