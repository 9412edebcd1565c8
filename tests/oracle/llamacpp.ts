// llama.cpp (CPU, through node-llama-cpp) as an independent oracle: teacher-forced next-token distributions.

import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type Token } from 'node-llama-cpp';

export interface LlamaOracleOptions {
  /**
   * KV cache element type. llama.cpp defaults to F16, which rounds K and V to half precision;
   * use F32 to compare against a float32 engine without that rounding.
   */
  readonly kvCacheType?: 'F16' | 'F32';
  /** Context size; defaults to the number of tokens (llama.cpp may round it up to a multiple of 256). */
  readonly contextSize?: number;
  /** Flash attention changes the order of floating point sums; off by default. */
  readonly flashAttention?: boolean;
}

let llamaInstance: Promise<Llama> | undefined;

/** One shared llama.cpp runtime per process (loading the native addon takes a while). */
function sharedLlama(): Promise<Llama> {
  llamaInstance ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  return llamaInstance;
}

/**
 * Feeds `tokens` to llama.cpp in one batch and returns, for every position i, the full
 * next-token distribution p(· | tokens[0..i]) over the whole vocabulary (softmax of the raw
 * logits: greedy sampler, no top-k, no penalties), in float64 indexed by token id.
 */
export async function llamaNextTokenDistributions(
  modelPath: string,
  tokens: readonly number[],
  options: LlamaOracleOptions = {},
): Promise<Float64Array[]> {
  if (tokens.length === 0) return [];
  const llama = await sharedLlama();
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  try {
    const vocabSize = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length;
    if (!vocabSize) throw new Error(`${modelPath} has no tokenizer.ggml.tokens; write it with tests/fixtures/models.ts.`);
    const kvType = options.kvCacheType ?? 'F16';
    const context = await model.createContext({
      // Room past the last token: with a full context llama.cpp shifts it and the last distribution is wrong.
      contextSize: options.contextSize ?? tokens.length + 64,
      batchSize: tokens.length,
      sequences: 1,
      flashAttention: options.flashAttention ?? false,
      experimentalKvCacheKeyType: kvType,
      experimentalKvCacheValueType: kvType,
    });
    try {
      const sequence = context.getSequence();
      const outputs = await sequence.controlledEvaluate(
        tokens.map((token): ControlledEvaluateInputItem => [token as Token, { generateNext: { probabilities: true } }]),
      );
      return tokens.map((_, i) => {
        const probabilities = outputs[i]?.next.probabilities;
        if (!probabilities) throw new Error(`llama.cpp returned no probabilities after token ${i}; check the node-llama-cpp version (3.21.1 expected).`);
        if (probabilities.size !== vocabSize)
          throw new Error(`llama.cpp returned ${probabilities.size} probabilities after token ${i}, not the full vocabulary of ${vocabSize}.`);
        const distribution = new Float64Array(vocabSize);
        for (const [token, p] of probabilities) distribution[token] = p;
        return distribution;
      });
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Releases the shared llama.cpp runtime (call from a test's afterAll to let the process exit promptly). */
export async function disposeLlamaOracle(): Promise<void> {
  const pending = llamaInstance;
  llamaInstance = undefined;
  if (pending) await (await pending).dispose();
}
