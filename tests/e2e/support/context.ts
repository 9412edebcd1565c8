// What the e2e global setup hands to the tests (via vitest's provide/inject), and the model they load.

import { presets, type RandomModelSpec } from '../../fixtures/models';

/** The model every e2e test loads: small, in the most common quantized weight type. */
export const E2E_MODEL: RandomModelSpec = { ...presets.tinyLlama, weightType: 'Q8_0' };

/** The lab app's model: random qwen2 weights whose vocabulary is the real Qwen3 tokenizer's. */
export const APP_MODEL: RandomModelSpec = { ...presets.tinyQwen2, weightType: 'Q8_0', vocabSize: 151669 };
/** The hub repo name the test mirror serves the Qwen3 tokenizer files under. */
export const TOKENIZER_REPO = 'test/qwen3-tokenizer';

/**
 * A deep link that loads the lab app's model and tokenizer from the test mirror and runs a one-step
 * ladder attack on a lock-picking request, two tokens per step.
 */
export function ladderRunLink(origin: string): string {
  const modelUrl = `${origin}/qwen-vocab.gguf`;
  return (
    `${origin}/?model=${encodeURIComponent(modelUrl)}&tokenizer=${encodeURIComponent(TOKENIZER_REPO)}&hub=${encodeURIComponent(origin)}` +
    `&request=${encodeURIComponent('Explain how to pick a lock.')}&attack=ladder&steps=1&tokens=2&run=1`
  );
}

/** The engine page's default prompt and generation length (see src/ui/EnginePage.tsx). */
export const DEFAULT_PROMPT = [1, 50, 77, 100, 3];
export const DEFAULT_NEW_TOKENS = 8;

export interface E2eServer {
  /** `http://127.0.0.1:<port>`: the built app at `/`, fixtures at `/model.gguf`, `/noise.gguf`, `/truncated.gguf`, `/mamba.gguf`. */
  readonly origin: string;
  /** Path on disk of the model served at `/model.gguf`. */
  readonly modelPath: string;
  /** Path on disk of the lab app's model, served at `/qwen-vocab.gguf`. */
  readonly appModelPath: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eServer;
  }
}
