// The catalogue only lists models the engine can run, with consistent, resolvable entries.

import { describe, expect, it } from 'vitest';
import { CATALOGUE, findModel, modelUrl } from '../../models/catalogue';
import { isSupportedArchitecture } from '../../src/engine/config';

describe('model catalogue', () => {
  it('covers every model the demo recommends, each with a supported architecture and a browser-sized quantization', () => {
    const names = new Set(CATALOGUE.map((m) => m.name));
    for (const name of ['Qwen2.5 0.5B Instruct', 'Qwen2.5 1.5B Instruct', 'Llama 3.2 1B Instruct', 'SmolLM2 360M Instruct', 'SmolLM2 1.7B Instruct', 'Gemma 2 2B IT', 'Qwen3 0.6B', 'Gemma 3 270M IT', 'Gemma 3 1B IT'])
      expect(names).toContain(name);
    for (const m of CATALOGUE) {
      expect(isSupportedArchitecture(m.arch)).toBe(true);
      expect(['Q4_K_M', 'Q8_0']).toContain(m.quant);
      expect(m.file.toLowerCase()).toContain(m.quant.toLowerCase());
      expect(m.file.endsWith('.gguf')).toBe(true);
      // Size consistent with parameters × bits per weight (Q4_K_M ≈ 4.5–8, Q8_0 ≈ 8.5–12: some files keep embeddings in F16).
      const bitsPerWeight = (m.sizeBytes * 8) / (m.params * 1e9);
      expect(bitsPerWeight).toBeGreaterThan(m.quant === 'Q8_0' ? 8 : 4.5);
      expect(bitsPerWeight).toBeLessThan(m.quant === 'Q8_0' ? 12 : 8.5);
    }
    expect(new Set(CATALOGUE.map((m) => m.id)).size).toBe(CATALOGUE.length);
  });

  it('builds Hub-style URLs for the default hub and for a mirror', () => {
    const m = findModel('qwen2.5-0.5b-instruct-q8_0')!;
    expect(modelUrl(m)).toBe('https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf');
    expect(modelUrl(m, 'http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf');
    expect(findModel('nope')).toBeUndefined();
  });
});
