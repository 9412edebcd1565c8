// The model cache's files in the Origin Private File System (`navigator.storage.getDirectory()`,
// folder `models/`), written through a sync access handle in a worker or a writable stream on the
// main thread, and locked across tabs with the Web Locks API.

import { CACHE_FOLDER } from './naming';
import type { CacheStore, CacheWriter } from './store';

/** Writes reach the disk at least this often through a sync access handle. */
const SYNC_FLUSH_BYTES = 8 << 20;
const SYNC_FLUSH_MS = 1000;
/** A writable stream gets chunks in blocks this large: each write is a round trip to the browser process. */
const STREAM_BLOCK_BYTES = 1 << 20;
/** First checkpoint of a writable stream; later ones come each time the file doubles. */
const STREAM_FIRST_CHECKPOINT_BYTES = 64 << 20;
const LOCK_PREFIX = 'attention-slip-lab:model-cache:';

/** `keys()` is in the async-iterable DOM typings, which this project does not load. */
interface IterableDirectory {
  keys(): AsyncIterableIterator<string>;
}

const isNotFound = (e: unknown) => (e as { name?: string } | null)?.name === 'NotFoundError';

/** Sync access handles exist only in dedicated workers, where they write in place (no swap file). */
function canUseSyncHandles(): boolean {
  return typeof FileSystemFileHandle !== 'undefined' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
}

function canUseWritables(): boolean {
  return typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype;
}

/**
 * The OPFS-backed store, or undefined where the browser offers no OPFS (Firefox private windows
 * reject `getDirectory()`, older browsers lack it).
 */
export async function openOpfsStore(): Promise<CacheStore | undefined> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (typeof storage?.getDirectory !== 'function') return undefined;
  let folder: FileSystemDirectoryHandle;
  try {
    folder = await (await storage.getDirectory()).getDirectoryHandle(CACHE_FOLDER, { create: true });
  } catch {
    return undefined;
  }
  return opfsStore(folder, storage);
}

function opfsStore(folder: FileSystemDirectoryHandle, storage: StorageManager): CacheStore {
  const handle = async (name: string, create = false) => {
    try {
      return await folder.getFileHandle(name, { create });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  return {
    canWrite: canUseSyncHandles() || canUseWritables(),
    async names() {
      const names: string[] = [];
      for await (const name of (folder as unknown as IterableDirectory).keys()) names.push(name);
      return names;
    },
    async size(name) {
      return (await (await handle(name))?.getFile())?.size;
    },
    async file(name) {
      return (await handle(name))?.getFile();
    },
    async readText(name) {
      return (await (await handle(name))?.getFile())?.text();
    },
    async writeText(name, text) {
      const file = (await handle(name, true))!;
      const bytes = new TextEncoder().encode(text);
      if (canUseWritables()) {
        // Committed by close() with a rename: readers see the old or the new sidecar, never half.
        const writable = await file.createWritable();
        await writable.write(bytes);
        await writable.close();
      } else {
        const access = await file.createSyncAccessHandle();
        try {
          access.truncate(0);
          access.write(bytes, { at: 0 });
          access.flush();
        } finally {
          access.close();
        }
      }
    },
    async openWriter(name, offset) {
      const file = (await handle(name, true))!;
      if (canUseSyncHandles()) return syncHandleWriter(await file.createSyncAccessHandle(), offset);
      return streamWriter(file, offset);
    },
    async remove(name) {
      try {
        await folder.removeEntry(name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
    async estimate() {
      const { usage, quota } = (await storage.estimate?.()) ?? {};
      return { usage, quota };
    },
    async persist() {
      try {
        return (await storage.persisted?.()) || ((await storage.persist?.()) ?? false);
      } catch {
        return false;
      }
    },
    exclusive(name, signal, task) {
      const locks = (globalThis.navigator as Navigator | undefined)?.locks;
      if (!locks) return task();
      return locks.request(LOCK_PREFIX + name, { signal }, task);
    },
  };
}

/**
 * Worker path: writes go straight into the file, and `flush()` every few MB or second makes them
 * durable, so closing the tab mid-download loses at most the last second.
 */
function syncHandleWriter(access: FileSystemSyncAccessHandle, offset: number): CacheWriter {
  try {
    access.truncate(offset);
    access.flush();
  } catch (e) {
    access.close();
    throw e;
  }
  let position = offset;
  let unflushed = 0;
  let flushedAt = performance.now();
  return {
    async write(chunk) {
      for (let written = 0; written < chunk.length; ) written += access.write(chunk.subarray(written), { at: position + written });
      position += chunk.length;
      unflushed += chunk.length;
      if (unflushed >= SYNC_FLUSH_BYTES || performance.now() - flushedAt >= SYNC_FLUSH_MS) {
        access.flush();
        unflushed = 0;
        flushedAt = performance.now();
      }
    },
    async close() {
      try {
        access.flush();
      } finally {
        access.close();
      }
    },
  };
}

/**
 * Main-thread path: `createWritable({ keepExistingData: true })` writes into a copy (Chromium's
 * swap file) that `close()` commits. Reopening copies the whole file (measured in Chromium 156 on
 * Linux: 1.5 s for 200 MB on disk, 3 s in an incognito profile), so checkpoints come at 64 MB and
 * then each time the file doubles: the copying adds up to about one file size, and a tab closed
 * without warning loses at most the bytes since the last checkpoint (up to half). Aborts, errors
 * and completion always close, so they lose nothing. Prefer the worker path for large models.
 */
async function streamWriter(file: FileSystemFileHandle, offset: number): Promise<CacheWriter> {
  const open = async (at: number) => {
    const writable = await file.createWritable({ keepExistingData: at > 0 });
    if (at > 0) {
      await writable.truncate(at);
      await writable.seek(at);
    }
    return writable;
  };
  if (offset === 0) {
    // Commit the emptied file now: an uncommitted truncation would leave old bytes behind a crash.
    await (await file.createWritable({ keepExistingData: false })).close();
  }
  let writable = await open(offset);
  let committed = offset;
  let position = offset;
  let block: Uint8Array[] = [];
  let blockBytes = 0;

  const writeBlock = async () => {
    if (blockBytes === 0) return;
    const joined = new Uint8Array(blockBytes);
    let at = 0;
    for (const part of block) {
      joined.set(part, at);
      at += part.length;
    }
    block = [];
    blockBytes = 0;
    await writable.write(joined);
  };

  return {
    async write(chunk) {
      block.push(chunk);
      blockBytes += chunk.length;
      position += chunk.length;
      if (blockBytes >= STREAM_BLOCK_BYTES) await writeBlock();
      if (position - committed >= Math.max(STREAM_FIRST_CHECKPOINT_BYTES, committed)) {
        await writeBlock();
        await writable.close();
        committed = position;
        writable = await open(position);
      }
    },
    async close() {
      // The first failure is the one to report; closing still commits what was written before it.
      let failure: unknown;
      await writeBlock().catch((e) => (failure = e));
      await writable.close().catch((e) => (failure ??= e));
      if (failure !== undefined) throw failure;
    },
  };
}
