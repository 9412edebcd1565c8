// The models we recommend for demos: where each GGUF lives on the Hub, how big it is, which
// tokenizer and chat template go with it, and what the engine needs to run it.

import type { Architecture } from '../src/engine/config';
import { formatBytes } from '../src/util/format';

export type CatalogueQuant = 'Q4_K_M' | 'Q8_0';

export interface CatalogueModel {
  /** Stable id used in URLs: `?model=<id>`. */
  readonly id: string;
  readonly name: string;
  readonly arch: Architecture;
  /** Parameters, in billions. */
  readonly params: number;
  readonly quant: CatalogueQuant;
  /** Hub repository holding the GGUF file. */
  readonly repo: string;
  readonly file: string;
  readonly revision: string;
  /** Approximate download size in bytes. */
  readonly sizeBytes: number;
  /** Hub repository with tokenizer.json / tokenizer_config.json (ungated mirrors where the original is gated). */
  readonly tokenizerRepo: string;
  /** Safety-tuned chat model (refuses harmful requests), as the demo needs. */
  readonly instruct: true;
  /**
   * What was checked from a machine that can reach the Hub. Nothing was, from where this list
   * was written: repo and file names follow each publisher's naming, sizes are estimates
   * (params × bits per weight), and the first load reports the real size.
   */
  readonly verified: { readonly file: boolean; readonly size: boolean };
}

const MB = 1e6;
const unverified = { file: false, size: false } as const;

export const CATALOGUE: readonly CatalogueModel[] = [
  {
    id: 'qwen2.5-0.5b-instruct-q8_0', name: 'Qwen2.5 0.5B Instruct', arch: 'qwen2', params: 0.49, quant: 'Q8_0',
    repo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', file: 'qwen2.5-0.5b-instruct-q8_0.gguf', revision: 'main',
    sizeBytes: 676 * MB, tokenizerRepo: 'Qwen/Qwen2.5-0.5B-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'qwen2.5-0.5b-instruct-q4_k_m', name: 'Qwen2.5 0.5B Instruct', arch: 'qwen2', params: 0.49, quant: 'Q4_K_M',
    repo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', file: 'qwen2.5-0.5b-instruct-q4_k_m.gguf', revision: 'main',
    sizeBytes: 491 * MB, tokenizerRepo: 'Qwen/Qwen2.5-0.5B-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'qwen2.5-1.5b-instruct-q4_k_m', name: 'Qwen2.5 1.5B Instruct', arch: 'qwen2', params: 1.54, quant: 'Q4_K_M',
    repo: 'Qwen/Qwen2.5-1.5B-Instruct-GGUF', file: 'qwen2.5-1.5b-instruct-q4_k_m.gguf', revision: 'main',
    sizeBytes: 1117 * MB, tokenizerRepo: 'Qwen/Qwen2.5-1.5B-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'llama-3.2-1b-instruct-q4_k_m', name: 'Llama 3.2 1B Instruct', arch: 'llama', params: 1.24, quant: 'Q4_K_M',
    repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF', file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf', revision: 'main',
    sizeBytes: 808 * MB, tokenizerRepo: 'unsloth/Llama-3.2-1B-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'llama-3.2-1b-instruct-q8_0', name: 'Llama 3.2 1B Instruct', arch: 'llama', params: 1.24, quant: 'Q8_0',
    repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF', file: 'Llama-3.2-1B-Instruct-Q8_0.gguf', revision: 'main',
    sizeBytes: 1321 * MB, tokenizerRepo: 'unsloth/Llama-3.2-1B-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'smollm2-360m-instruct-q8_0', name: 'SmolLM2 360M Instruct', arch: 'llama', params: 0.36, quant: 'Q8_0',
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct-GGUF', file: 'smollm2-360m-instruct-q8_0.gguf', revision: 'main',
    sizeBytes: 386 * MB, tokenizerRepo: 'HuggingFaceTB/SmolLM2-360M-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'smollm2-1.7b-instruct-q4_k_m', name: 'SmolLM2 1.7B Instruct', arch: 'llama', params: 1.71, quant: 'Q4_K_M',
    repo: 'HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF', file: 'smollm2-1.7b-instruct-q4_k_m.gguf', revision: 'main',
    sizeBytes: 1056 * MB, tokenizerRepo: 'HuggingFaceTB/SmolLM2-1.7B-Instruct', instruct: true, verified: unverified,
  },
  {
    id: 'gemma-2-2b-it-q4_k_m', name: 'Gemma 2 2B IT', arch: 'gemma2', params: 2.61, quant: 'Q4_K_M',
    repo: 'bartowski/gemma-2-2b-it-GGUF', file: 'gemma-2-2b-it-Q4_K_M.gguf', revision: 'main',
    sizeBytes: 1709 * MB, tokenizerRepo: 'unsloth/gemma-2-2b-it', instruct: true, verified: unverified,
  },
  {
    id: 'qwen3-0.6b-q8_0', name: 'Qwen3 0.6B', arch: 'qwen3', params: 0.6, quant: 'Q8_0',
    repo: 'Qwen/Qwen3-0.6B-GGUF', file: 'Qwen3-0.6B-Q8_0.gguf', revision: 'main',
    sizeBytes: 639 * MB, tokenizerRepo: 'Qwen/Qwen3-0.6B', instruct: true, verified: unverified,
  },
  // Gemma 3: Google's own repositories are gated (a license to accept), so the GGUFs come from
  // ggml-org and unsloth, and the tokenizer from unsloth's ungated copy. Sizes are the exact bytes
  // public listings give (shared/CATALOGUE-FACTS.md, 2026-12); no file was downloaded from here.
  {
    id: 'gemma-3-270m-it-q8_0', name: 'Gemma 3 270M IT', arch: 'gemma3', params: 0.27, quant: 'Q8_0',
    repo: 'ggml-org/gemma-3-270m-it-GGUF', file: 'gemma-3-270m-it-Q8_0.gguf', revision: 'main',
    sizeBytes: 291_545_600, tokenizerRepo: 'unsloth/gemma-3-270m-it', instruct: true, verified: unverified,
  },
  {
    id: 'gemma-3-270m-it-q4_k_m', name: 'Gemma 3 270M IT', arch: 'gemma3', params: 0.27, quant: 'Q4_K_M',
    repo: 'unsloth/gemma-3-270m-it-GGUF', file: 'gemma-3-270m-it-Q4_K_M.gguf', revision: 'main',
    sizeBytes: 253_115_424, tokenizerRepo: 'unsloth/gemma-3-270m-it', instruct: true, verified: unverified,
  },
  {
    id: 'gemma-3-1b-it-q4_k_m', name: 'Gemma 3 1B IT', arch: 'gemma3', params: 1.0, quant: 'Q4_K_M',
    repo: 'ggml-org/gemma-3-1b-it-GGUF', file: 'gemma-3-1b-it-Q4_K_M.gguf', revision: 'main',
    sizeBytes: 806_058_240, tokenizerRepo: 'unsloth/gemma-3-1b-it', instruct: true, verified: unverified,
  },
  {
    id: 'gemma-3-1b-it-q8_0', name: 'Gemma 3 1B IT', arch: 'gemma3', params: 1.0, quant: 'Q8_0',
    repo: 'ggml-org/gemma-3-1b-it-GGUF', file: 'gemma-3-1b-it-Q8_0.gguf', revision: 'main',
    sizeBytes: 1_069_306_368, tokenizerRepo: 'unsloth/gemma-3-1b-it', instruct: true, verified: unverified,
  },
];

export const DEFAULT_HUB = 'https://huggingface.co';

/** `<hub>/<repo>/resolve/<revision>/<file>`, the Hub's download layout (mirrors use it too). */
export function modelUrl(model: CatalogueModel, hub: string = DEFAULT_HUB): string {
  return `${hub.replace(/\/+$/, '')}/${model.repo}/resolve/${model.revision}/${model.file}`;
}

export function findModel(id: string): CatalogueModel | undefined {
  return CATALOGUE.find((m) => m.id === id);
}

/** GPU bytes a catalogue model needs, roughly: its file repacked (up to 12 % larger) plus a long run's KV cache and activations. */
export function roughGpuBytes(model: CatalogueModel): number {
  return model.sizeBytes * 1.12 + 256e6;
}

/** The largest catalogue model that fits `budgetBytes`, to suggest instead of one that does not. */
export function largestFitting(budgetBytes: number): CatalogueModel | undefined {
  return [...CATALOGUE].sort((a, b) => b.sizeBytes - a.sizeBytes).find((m) => roughGpuBytes(m) <= budgetBytes);
}

/** The sentence for a model that needs `needs` GPU bytes on a device that can spare `budget`, naming a catalogue model that fits. */
export function tooBigSentence(label: string, needs: number, budget: number): string {
  const smaller = largestFitting(budget);
  return (
    `${label} needs about ${formatBytes(needs)} of GPU memory, more than this device can spare (about ${formatBytes(budget)}); ` +
    (smaller ? `pick a smaller model such as ${smaller.name} ${smaller.quant} (${formatBytes(smaller.sizeBytes)}).` : 'no catalogue model fits it, so use a computer with more memory.')
  );
}
