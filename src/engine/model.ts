// Loads a GGUF model onto the GPU: validates it against the device, uploads every tensor with
// progress, and returns a LoadedModel whose generate() runs the forward graph.

import { openGguf, type GgufFile } from '../gguf/reader';
import type { ByteSource } from '../gguf/source';
import { typeName, type TensorInfo } from '../gguf/types';
import type { LoadedModel, LoadProgress } from './api';
import { configFromGguf, type ModelConfig } from './config';
import { checkTensorShapes } from './model-checks';
import { CorruptGgufError, DeviceLimitError, TruncatedGgufError, UnsupportedArchitectureError, UnsupportedWeightTypeError } from '../errors';
import { forwardPipelines } from './forward';
import { GpuModel } from './generate';
import { isKernelWeightType, type GpuContext } from './gpu';
import { MAX_HEAD_DIM } from './ops/attention';
import { decodeVector, destroyMatrix, uploadMatrix, uploadVector, type GpuMatrix, type UploadContext } from './weights';

export interface LayerWeights {
  readonly attnNorm: GPUBuffer;
  readonly wq: GpuMatrix;
  readonly wk: GpuMatrix;
  readonly wv: GpuMatrix;
  readonly wo: GpuMatrix;
  readonly bq?: GPUBuffer;
  readonly bk?: GPUBuffer;
  readonly bv?: GPUBuffer;
  /** Qwen3: per-head RMSNorm weights (headDim). */
  readonly qNorm?: GPUBuffer;
  readonly kNorm?: GPUBuffer;
  /** Gemma 2: RMSNorm on the attention / FFN outputs. */
  readonly postAttnNorm?: GPUBuffer;
  readonly postFfnNorm?: GPUBuffer;
  readonly ffnNorm: GPUBuffer;
  readonly wGate: GpuMatrix;
  readonly wUp: GpuMatrix;
  readonly wDown: GpuMatrix;
}

export interface ModelWeights {
  readonly embedding: GpuMatrix;
  readonly layers: readonly LayerWeights[];
  readonly outputNorm: GPUBuffer;
  /** The embedding itself when tied. */
  readonly output: GpuMatrix;
  /** Llama 3 rope_freqs: per-pair frequency divisors (headDim / 2). */
  readonly ropeFactors?: Float32Array;
}

export interface LoadOptions {
  readonly onProgress?: (progress: LoadProgress) => void;
}

function checkSupported(file: GgufFile, config: ModelConfig): void {
  if (config.headDim > MAX_HEAD_DIM || config.headDim % 2 !== 0)
    throw new UnsupportedArchitectureShape(`head_dim ${config.headDim} is not supported (must be even and at most ${MAX_HEAD_DIM})`);
  if (config.nHead % config.nHeadKv !== 0)
    throw new UnsupportedArchitectureShape(`n_head ${config.nHead} is not a multiple of n_head_kv ${config.nHeadKv}`);
  for (const info of file.tensors.values()) {
    if (info.dims.length >= 2 && !isKernelWeightType(info.type))
      throw new UnsupportedWeightTypeError(
        `Tensor ${info.name} is quantized as ${typeName(info.type)}, which this engine cannot run yet; use a file quantized as Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, BF16, F16 or F32.`,
      );
  }
}

class UnsupportedArchitectureShape extends UnsupportedArchitectureError {
  constructor(what: string) {
    super(`This model's shape is unsupported: ${what}; pick another model.`);
  }
}

/** Bytes the weights will take on the GPU (repacked), to refuse a model that cannot fit before uploading. */
function plannedBytes(file: GgufFile): number {
  let total = 0;
  // Repacking widens f16 scales to f32: at most 1.2× (Q4_1); vectors are decoded to f32.
  for (const info of file.tensors.values()) total += info.byteSize * (info.dims.length >= 2 ? 1.2 : 2);
  return total;
}

export async function loadModel(ctx: GpuContext, source: ByteSource, options: LoadOptions = {}): Promise<LoadedModel> {
  const file = await openGguf(source);
  const config = configFromGguf(file);
  checkTensorShapes(file, config);
  checkSupported(file, config);
  const total = [...file.tensors.values()].reduce((sum, t) => sum + t.byteSize, 0);
  let done = 0;
  const up: UploadContext = {
    ctx,
    file,
    onBytes(bytes, tensor) {
      done += bytes;
      options.onProgress?.({ bytesDone: done, bytesTotal: total, tensor });
    },
  };
  const planned = plannedBytes(file);
  const uploaded: GpuMatrix[] = [];
  const vectors: GPUBuffer[] = [];
  const tensor = (name: string): TensorInfo => {
    const info = file.tensors.get(name);
    if (!info) throw new TruncatedGgufError(`${source.label} has no tensor ${name}; the file is incomplete or not a ${config.arch} model.`);
    return info;
  };
  const matrix = async (name: string) => {
    const m = await uploadMatrix(up, tensor(name));
    uploaded.push(m);
    return m;
  };
  const vector = async (name: string) => {
    const v = await uploadVector(up, tensor(name));
    vectors.push(v);
    return v;
  };
  const optionalVector = (name: string) => (file.tensors.has(name) ? vector(name) : Promise.resolve(undefined));

  ctx.device.pushErrorScope('out-of-memory');
  try {
    const embedding = await matrix('token_embd.weight');
    const layers: LayerWeights[] = [];
    for (let l = 0; l < config.nLayer; l++) {
      const p = `blk.${l}.`;
      layers.push({
        attnNorm: await vector(`${p}attn_norm.weight`),
        wq: await matrix(`${p}attn_q.weight`),
        wk: await matrix(`${p}attn_k.weight`),
        wv: await matrix(`${p}attn_v.weight`),
        wo: await matrix(`${p}attn_output.weight`),
        bq: await optionalVector(`${p}attn_q.bias`),
        bk: await optionalVector(`${p}attn_k.bias`),
        bv: await optionalVector(`${p}attn_v.bias`),
        qNorm: config.qkNorm ? await vector(`${p}attn_q_norm.weight`) : undefined,
        kNorm: config.qkNorm ? await vector(`${p}attn_k_norm.weight`) : undefined,
        postAttnNorm: config.postNorms ? await vector(`${p}post_attention_norm.weight`) : undefined,
        postFfnNorm: config.postNorms ? await vector(`${p}post_ffw_norm.weight`) : undefined,
        ffnNorm: await vector(`${p}ffn_norm.weight`),
        wGate: await matrix(`${p}ffn_gate.weight`),
        wUp: await matrix(`${p}ffn_up.weight`),
        wDown: await matrix(`${p}ffn_down.weight`),
      });
    }
    const outputNorm = await vector('output_norm.weight');
    const output = config.tiedEmbeddings ? embedding : await matrix('output.weight');
    let factors: Float32Array | undefined;
    if (config.ropeFreqFactors) {
      const info = tensor('rope_freqs.weight');
      factors = decodeVector(info.type, await source.read(info.offset, info.byteSize), info.name);
      // Divisors of RoPE frequencies: a zero or NaN here turns every angle non-finite.
      if (!factors.every((f) => f > 0 && Number.isFinite(f)))
        throw new CorruptGgufError(`${source.label} is corrupt: rope_freqs.weight holds a value that is not a finite positive number; download the file again.`);
    }
    const oom = await ctx.device.popErrorScope();
    if (oom)
      throw new DeviceLimitError(
        `The GPU ran out of memory loading this model (about ${(planned / 2 ** 20).toFixed(0)} MiB of weights); close other GPU-heavy tabs or pick a smaller model.`,
      );
    const weights: ModelWeights = { embedding, layers, outputNorm, output, ropeFactors: factors };
    await ctx.precompile(forwardPipelines(ctx, config, weights));
    const weightBytes = uploaded.reduce((s, m) => s + m.bytes, 0) + vectors.reduce((s, v) => s + v.size, 0);
    const vocab = file.metadata['tokenizer.ggml.tokens'];
    return new GpuModel(ctx, config, weights, weightBytes, Array.isArray(vocab) ? vocab.map(String) : undefined, () => {
      for (const m of uploaded) destroyMatrix(m);
      for (const v of vectors) v.destroy();
    });
  } catch (e) {
    await ctx.device.popErrorScope().catch(() => undefined);
    for (const m of uploaded) destroyMatrix(m);
    for (const v of vectors) v.destroy();
    throw e;
  } finally {
    await source.close?.();
  }
}
