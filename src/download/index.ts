// Browser model downloads and cache: the public API. Works in a module worker (the engine's) and on
// the main thread; files live in the Origin Private File System under `models/`.
//
//   const { source, cached, note } = await openModelSource(url, { onProgress, signal });
//
// The functions below use one shared OPFS-backed ModelCache; build a `ModelCache` yourself to
// use another store or fetch (tests do).

import { blobSource, urlSource, type ByteSource } from '../gguf/source';
import { STREAMING_NOTE, abortError, storageUnavailableError } from './messages';
import { ModelCache, type CacheLookup } from './model-cache';
import { openOpfsStore } from './opfs-store';
import type { CacheEntry, CachedFile, DownloadOptions, DownloadRequest, OpenedModel, StorageEstimate } from './types';

export { ModelCache, type CacheLookup, type ModelCacheOptions } from './model-cache';
export { memoryStore, type CacheStore, type CacheWriter } from './store';
export { cacheFileName, cacheKey } from './naming';
export type { CacheEntry, CachedFile, DownloadOptions, DownloadProgress, DownloadRequest, OpenedModel, StorageEstimate } from './types';

let shared: Promise<ModelCache | undefined> | undefined;

/** The shared OPFS-backed cache, or undefined where this browser offers no OPFS. */
export function browserModelCache(): Promise<ModelCache | undefined> {
  shared ??= openOpfsStore().then((store) => store && new ModelCache(store));
  return shared;
}

/** Downloads into the cache (resuming partial files) with progress across all files. */
export async function downloadFiles(files: readonly DownloadRequest[], options: DownloadOptions = {}): Promise<CachedFile[]> {
  const cache = await browserModelCache();
  if (!cache) throw storageUnavailableError();
  return cache.downloadFiles(files, options);
}

/** A complete cached file as a ByteSource, without touching the network; undefined if not cached. */
export async function cachedSource(lookup: CacheLookup): Promise<ByteSource | undefined> {
  return (await browserModelCache())?.cachedSource(lookup);
}

export async function isCached(lookup: CacheLookup): Promise<boolean> {
  return (await (await browserModelCache())?.isCached(lookup)) ?? false;
}

export async function listCached(): Promise<CacheEntry[]> {
  return (await (await browserModelCache())?.listCached()) ?? [];
}

export async function deleteCached(lookup: CacheLookup): Promise<boolean> {
  return (await (await browserModelCache())?.deleteCached(lookup)) ?? false;
}

export async function clearCache(): Promise<void> {
  await (await browserModelCache())?.clearCache();
}

/** Origin usage and quota from navigator.storage.estimate(), plus the bytes our cache holds. */
export async function storageEstimate(): Promise<StorageEstimate> {
  const cache = await browserModelCache();
  if (cache) return cache.storageEstimate();
  const { usage, quota } = (await globalThis.navigator?.storage?.estimate?.().catch(() => undefined)) ?? {};
  return { usage, quota, ours: 0 };
}

/** navigator.storage.persist(): asks the browser not to evict the cache; true when granted. */
export async function requestPersistence(): Promise<boolean> {
  return (await (await browserModelCache())?.requestPersistence()) ?? false;
}

/**
 * The model's bytes, from the cache when it holds them (no network), else downloaded into the
 * cache first. Where the browser cannot store files, streams from the network with `urlSource`
 * and says so in `note`.
 */
export async function openModelSource(lookup: CacheLookup, options: DownloadOptions = {}): Promise<OpenedModel> {
  return openModelSourceWith(await browserModelCache(), lookup, options);
}

/** `openModelSource` over a given cache (undefined: no storage), for tests and other stores. */
export async function openModelSourceWith(
  cache: ModelCache | undefined,
  lookup: CacheLookup,
  options: DownloadOptions = {},
  fetchImpl?: typeof fetch,
): Promise<OpenedModel> {
  const request = typeof lookup === 'string' ? { url: lookup } : lookup;
  const hit = await cache?.cachedSource(request);
  if (hit) return { source: hit, cached: true, downloaded: false };
  if (!cache?.store.canWrite) {
    if (options.signal?.aborted) throw abortError(options.signal);
    return { source: urlSource(request.url, fetchImpl), cached: false, downloaded: false, note: STREAMING_NOTE };
  }
  const [file] = await cache.downloadFiles([request], options);
  return { source: blobSource(file.blob, file.url), cached: false, downloaded: true };
}
