// The page's engine plumbing: one GPU context per page, model loading from URL or file, prompt parsing.

import { GpuContext, loadModel, type LoadedModel, type LoadProgress } from '../engine';
import { browserPlatform } from '../engine/platform-browser';
import { blobSource, urlSource, type ByteSource } from '../gguf/source';

let context: Promise<GpuContext> | undefined;

/** The page's GPU context, created on first use; rejects with NoWebGPUError when there is no WebGPU. */
export function pageGpuContext(): Promise<GpuContext> {
  context ??= (async () => GpuContext.create(browserPlatform()))();
  return context;
}

export type ModelOrigin = { readonly kind: 'url'; readonly url: string } | { readonly kind: 'file'; readonly file: File };

export function originLabel(origin: ModelOrigin): string {
  return origin.kind === 'url' ? origin.url : origin.file.name;
}

function sourceOf(origin: ModelOrigin): ByteSource {
  return origin.kind === 'url' ? urlSource(new URL(origin.url, location.href).href) : blobSource(origin.file);
}

export async function loadFromOrigin(origin: ModelOrigin, onProgress: (progress: LoadProgress) => void): Promise<LoadedModel> {
  const ctx = await pageGpuContext();
  return loadModel(ctx, sourceOf(origin), { onProgress });
}

/** Comma- or space-separated token ids, each in [0, vocabSize). */
export function parseTokenIds(text: string, vocabSize: number): { ids: number[] } | { error: string } {
  const parts = text.split(/[\s,]+/).filter((part) => part.length > 0);
  if (parts.length === 0) return { error: 'Enter at least one prompt token id, for example 1,50,77.' };
  const ids: number[] = [];
  for (const part of parts) {
    const id = Number(part);
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
      return { error: `“${part}” is not a token id of this model; use whole numbers from 0 to ${vocabSize - 1}.` };
    ids.push(id);
  }
  return { ids };
}
