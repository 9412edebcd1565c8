// Cache identities and file names: a stable key per download and a safe, readable OPFS file name.

import type { DownloadRequest } from './types';

/** Folder inside the origin private file system that holds every cached model. */
export const CACHE_FOLDER = 'models';
/** Suffix of the JSON sidecar stored next to each data file. */
export const SIDECAR_SUFFIX = '.meta.json';
const MAX_BASENAME = 64;

/** The URL made absolute (against the page or worker location) and stripped of its fragment. */
export function absoluteUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const absolute = new URL(url, base);
  absolute.hash = '';
  return absolute.href;
}

/** The identity of a request in the cache: its key, or else its absolute URL. */
export function cacheKey(request: Pick<DownloadRequest, 'url' | 'key'>): string {
  return request.key ?? absoluteUrl(request.url);
}

/** 64-bit FNV-1a of the UTF-8 bytes, as 16 hex digits: short, stable, dependency-free. */
export function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** The last path segment of a URL, decoded; empty when there is none. */
export function urlBasename(url: string): string {
  let path: string;
  try {
    path = new URL(url, 'http://localhost/').pathname;
  } catch {
    path = url.split(/[?#]/)[0];
  }
  const last = path.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * Reduces a name to `[A-Za-z0-9._-]`, without leading dots, at most 64 characters (keeping the
 * extension), so that it is a valid file name in every browser's OPFS and never hidden.
 */
export function safeBasename(name: string): string {
  let safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  if (safe.length > MAX_BASENAME) {
    const dot = safe.lastIndexOf('.');
    const extension = dot > 0 && safe.length - dot <= 12 ? safe.slice(dot) : '';
    safe = safe.slice(0, MAX_BASENAME - extension.length) + extension;
  }
  if (!safe) safe = 'model';
  // A data file must never look like a sidecar.
  return safe.endsWith(SIDECAR_SUFFIX) ? `${safe}_` : safe;
}

/** `<fnv1a64(key)>-<safe basename of the URL>`, e.g. `0f3a…-qwen2.5-0.5b-instruct-q8_0.gguf`. */
export function cacheFileName(request: Pick<DownloadRequest, 'url' | 'key'>): string {
  return `${fnv1a64(cacheKey(request))}-${safeBasename(urlBasename(request.url))}`;
}

export function sidecarName(fileName: string): string {
  return fileName + SIDECAR_SUFFIX;
}

/** The data file a sidecar describes, or undefined when `name` is not a sidecar. */
export function dataNameOf(name: string): string | undefined {
  return name.endsWith(SIDECAR_SUFFIX) ? name.slice(0, -SIDECAR_SUFFIX.length) : undefined;
}

/** The name shown to people: the request's own, or the URL's file name. */
export function displayName(request: Pick<DownloadRequest, 'url' | 'name'>): string {
  return request.name ?? (urlBasename(request.url) || request.url);
}
