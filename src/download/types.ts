// Shapes shared by the download manager, its cache and its callers (structured-cloneable, so a
// worker can post them to the page as they are).

import type { ByteSource } from '../gguf/source';

/** One file to fetch. */
export interface DownloadRequest {
  readonly url: string;
  /**
   * Identity in the cache; defaults to the absolute URL without its fragment. Pass a stable key
   * (e.g. a catalogue id) when the URL itself changes between visits, such as a signed link.
   */
  readonly key?: string;
  /** Human-readable name used in progress and error sentences (default: the URL's file name). */
  readonly name?: string;
  /** Size announced by a catalogue; used only until the server reports the real one. */
  readonly expectedSize?: number;
}

/** Progress across all files of one `downloadFiles` call. */
export interface DownloadProgress {
  /** Bytes on disk for all files, including what an earlier visit had already stored. */
  readonly bytesDone: number;
  /** Sum of the files' sizes (an estimate until every server has answered). */
  readonly bytesTotal: number;
  /** Network speed, exponentially smoothed over a few seconds; 0 until measured. */
  readonly bytesPerSecond: number;
  /** Time to finish at the smoothed speed; undefined while the speed is unknown. */
  readonly secondsLeft: number | undefined;
  /** URL of the file being fetched (the last one once all are done). */
  readonly file: string;
  readonly filesDone: number;
  readonly filesTotal: number;
}

export interface DownloadOptions {
  /** Called at most ~10 times a second, and always once when everything is done. */
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Aborting keeps the partial file so that the next call resumes it. */
  readonly signal?: AbortSignal;
}

/** What the cache holds for one URL: listed by `listCached`. */
export interface CacheEntry {
  readonly key: string;
  readonly url: string;
  /** Human-readable name (see DownloadRequest.name). */
  readonly name: string;
  /** Name of the data file in the cache folder. */
  readonly fileName: string;
  /** Bytes stored so far. */
  readonly bytes: number;
  /** Size of the whole file, when the server has told us. */
  readonly totalBytes: number | undefined;
  readonly complete: boolean;
  /** When the entry was last written (ms since the epoch). */
  readonly savedAt: number;
  /** The file is open for writing in another tab or worker, so its size could not be read. */
  readonly busy?: boolean;
}

/** A finished download: its cache entry and the stored bytes. */
export interface CachedFile extends CacheEntry {
  readonly complete: true;
  /** The cached bytes (an OPFS File snapshot): wrap it with `blobSource` or use `cachedSource`. */
  readonly blob: Blob;
}

export interface StorageEstimate {
  /** Bytes this origin uses (all storage kinds), from navigator.storage.estimate(); undefined if unknown. */
  readonly usage: number | undefined;
  /** Bytes this origin may use; undefined if unknown. */
  readonly quota: number | undefined;
  /** Bytes held by our model cache folder. */
  readonly ours: number;
}

/**
 * What `openModelSource` hands back. `cached` or `downloaded`: reads come from the cache, no
 * network needed any more. Neither: the model streams from the network, and `note` says why.
 */
export interface OpenedModel {
  readonly source: ByteSource;
  /** The cache already held the whole file: nothing was downloaded. */
  readonly cached: boolean;
  /** This call downloaded the file (or its missing part) into the cache; reads now come from there. */
  readonly downloaded: boolean;
  /** One sentence for the user when the model streams from the network instead of the cache. */
  readonly note?: string;
}
