// "Check this computer": before a meeting, run tiny random models through this device's WebGPU
// engine and through the float64 reference, compare every logit and attention probability, and
// time a decode step of the model the demo will use. Runs in the engine worker (it owns the GPU).

import type { LoadedModel } from '../engine/api';
import type { GpuContext } from '../engine/gpu';
import { loadModel } from '../engine/model';
import { openGguf } from '../gguf/reader';
import { blobSource } from '../gguf/source';
import { encodeGguf } from '../gguf/writer';
import { loadReferenceModel, referenceForward } from '../reference/forward';
import { buildRandomModel, type RandomModelSpec } from './random-model';

/** Largest relative logit error (max |Δ| / max |ref| per position) a healthy adapter stays under. */
export const LOGIT_TOLERANCE = 1e-3;
/** Largest absolute attention-probability error a healthy adapter stays under. */
export const ATTENTION_TOLERANCE = 1e-4;

/** Two small models over the paths real demo models take: Q8_0 with biases and NeoX RoPE; Q4_K with adjacent-pair RoPE and grouped heads. */
const CHECKS: readonly { readonly label: string; readonly spec: RandomModelSpec }[] = [
  {
    label: 'qwen2 Q8_0',
    spec: { arch: 'qwen2', weightType: 'Q8_0', nLayer: 2, nEmbd: 96, nHead: 4, nHeadKv: 2, headDim: 24, nFf: 160, vocabSize: 300, contextLength: 64, ropeTheta: 1e6, rmsEps: 1e-6, tied: true, seed: 41 },
  },
  {
    label: 'llama Q4_K',
    spec: { arch: 'llama', weightType: 'Q4_K', nLayer: 2, nEmbd: 256, nHead: 4, nHeadKv: 2, headDim: 64, nFf: 512, vocabSize: 320, contextLength: 64, ropeTheta: 10000, rmsEps: 1e-5, tied: false, seed: 42 },
  },
];
const PROMPT = [1, 17, 200, 45, 9, 133, 77, 250, 3, 61, 120, 299];

export interface SelfTestCheck {
  readonly label: string;
  readonly logitError: number;
  readonly attentionError: number;
  readonly passed: boolean;
}

export interface SelfTestResult {
  readonly passed: boolean;
  /** One sentence when it failed: what is wrong and what to do. */
  readonly reason?: string;
  readonly checks: readonly SelfTestCheck[];
  readonly worstLogitError: number;
  readonly worstAttentionError: number;
  readonly adapter: { readonly description: string; readonly features: readonly string[]; readonly limits: Readonly<Record<string, number>> };
  /** Milliseconds per decode step of the loaded model, when one is loaded. */
  readonly decodeMs?: number;
  readonly decodeModel?: string;
  readonly checkedAt: string;
}

function compareRun(got: { logits: readonly Float32Array[]; attention: Float32Array; queries: number; keys: number }, want: ReturnType<typeof referenceForward>, nHead: number) {
  let logitError = 0;
  got.logits.forEach((row, position) => {
    const ref = want.logits[position];
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Number.isFinite(row[i]) ? Math.abs(row[i] - ref[i]) : Infinity);
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    logitError = Math.max(logitError, diff / scale);
  });
  let attentionError = 0;
  want.attention.forEach((heads, layer) =>
    heads.forEach((rows, head) =>
      rows.forEach((row, query) => {
        const base = ((layer * got.queries + query) * nHead + head) * got.keys;
        for (let k = 0; k < row.length; k++) {
          const value = got.attention[base + k];
          attentionError = Math.max(attentionError, Number.isFinite(value) ? Math.abs(value - row[k]) : Infinity);
        }
      }),
    ),
  );
  return { logitError, attentionError };
}

async function checkModel(ctx: GpuContext, label: string, spec: RandomModelSpec): Promise<SelfTestCheck> {
  const bytes = encodeGguf(buildRandomModel(spec)).bytes;
  const file = new Blob([bytes as BlobPart]);
  const reference = await loadReferenceModel(await openGguf(blobSource(file, `self-test ${label}`)));
  const model = await loadModel(ctx, blobSource(file, `self-test ${label}`));
  try {
    const result = await model.generate(PROMPT, { maxNewTokens: 0, logits: 'all-prompt', attention: { rows: 'all-prompt' }, reuse: 'none' });
    const rows = result.attention!.rows;
    const errors = compareRun({ logits: result.logits, attention: rows.data, queries: rows.queries.length, keys: rows.keys }, referenceForward(reference, PROMPT), spec.nHead);
    return { label, ...errors, passed: errors.logitError <= LOGIT_TOLERANCE && errors.attentionError <= ATTENTION_TOLERANCE };
  } finally {
    model.dispose();
  }
}

/** Milliseconds per greedy decode step of `model`: 8 steps after a 4-token prompt, less the prefill alone. */
async function decodeStepMs(model: LoadedModel): Promise<number> {
  const prompt = [1, 2, 3, 4].map((t) => t % model.config.vocabSize);
  const time = async (steps: number) => {
    const started = performance.now();
    await model.generate(prompt, { maxNewTokens: steps, logits: 'none', reuse: 'none' });
    return performance.now() - started;
  };
  await time(1); // warm up
  const prefill = await time(0);
  return Math.max(0, (await time(8)) - prefill) / 8;
}

export async function runSelfTest(ctx: GpuContext, loaded?: { model: LoadedModel; name: string }): Promise<SelfTestResult> {
  const checks: SelfTestCheck[] = [];
  for (const { label, spec } of CHECKS) checks.push(await checkModel(ctx, label, spec));
  const worstLogitError = Math.max(...checks.map((c) => c.logitError));
  const worstAttentionError = Math.max(...checks.map((c) => c.attentionError));
  const failed = checks.filter((c) => !c.passed);
  const decodeMs = loaded ? await decodeStepMs(loaded.model) : undefined;
  return {
    passed: failed.length === 0,
    ...(failed.length
      ? {
          reason: `This GPU computed ${failed.map((c) => c.label).join(' and ')} differently from the reference (worst logit error ${worstLogitError.toExponential(1)}, attention ${worstAttentionError.toExponential(1)}); update the graphics driver or use another browser or computer before presenting.`,
        }
      : {}),
    checks,
    worstLogitError,
    worstAttentionError,
    adapter: { description: ctx.adapter.description, features: ctx.adapter.features, limits: ctx.adapter.limits },
    ...(decodeMs !== undefined && loaded ? { decodeMs, decodeModel: loaded.name } : {}),
    checkedAt: new Date().toISOString(),
  };
}
