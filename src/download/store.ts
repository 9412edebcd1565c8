// The storage the model cache needs, as a small interface: one flat folder of named files that
// can be appended to, read as Blobs and locked. OPFS implements it in the browser (opfs-store.ts);
// the in-memory version below backs unit tests and documents the contract.

export interface CacheWriter {
  /** Appends `chunk` at the current position. May reject with a QuotaExceededError DOMException. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes everything written durable and releases the file. Call it on every path, errors included. */
  close(): Promise<void>;
}

export interface CacheStore {
  /** False where this context cannot write files (e.g. Safari's main thread before version 26). */
  readonly canWrite: boolean;
  /** Names of all files in the folder. */
  names(): Promise<string[]>;
  /** Size of `name` in bytes; undefined when it does not exist. */
  size(name: string): Promise<number | undefined>;
  /** The stored bytes of `name` (a snapshot); undefined when it does not exist. */
  file(name: string): Promise<Blob | undefined>;
  readText(name: string): Promise<string | undefined>;
  /** Replaces `name` with `text` (atomically where the platform allows). */
  writeText(name: string, text: string): Promise<void>;
  /** Opens `name` for appending at `offset`: bytes before it are kept, bytes from it on dropped. */
  openWriter(name: string, offset: number): Promise<CacheWriter>;
  /** Removes `name`; no error when it does not exist. */
  remove(name: string): Promise<void>;
  /** The origin's storage usage and quota, where the platform reports them. */
  estimate(): Promise<{ usage?: number; quota?: number }>;
  /** Asks the browser not to evict this origin's storage under pressure. */
  persist(): Promise<boolean>;
  /** Runs `task` while holding an exclusive lock on `name`, shared with other tabs and workers. */
  exclusive<T>(name: string, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T>;
}

export interface MemoryStoreOptions {
  /** Total bytes the store may hold; writes beyond it fail with QuotaExceededError. */
  readonly capacity?: number;
}

/** An in-memory CacheStore: for tests, and as a reference for the contract above. */
export function memoryStore(options: MemoryStoreOptions = {}): CacheStore & { readonly files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  const locks = new Map<string, Promise<unknown>>();
  const used = () => [...files.values()].reduce((sum, bytes) => sum + bytes.length, 0);
  const quotaError = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');

  return {
    files,
    canWrite: true,
    names: async () => [...files.keys()],
    size: async (name) => files.get(name)?.length,
    file: async (name) => {
      const bytes = files.get(name);
      return bytes && new Blob([bytes.slice() as BlobPart]);
    },
    readText: async (name) => {
      const bytes = files.get(name);
      return bytes && new TextDecoder().decode(bytes);
    },
    writeText: async (name, text) => {
      files.set(name, new TextEncoder().encode(text));
    },
    openWriter: async (name, offset) => {
      files.set(name, (files.get(name) ?? new Uint8Array(0)).slice(0, offset));
      return {
        write: async (chunk) => {
          if (options.capacity !== undefined && used() + chunk.length > options.capacity) throw quotaError();
          const old = files.get(name) ?? new Uint8Array(0);
          const grown = new Uint8Array(old.length + chunk.length);
          grown.set(old);
          grown.set(chunk, old.length);
          files.set(name, grown);
        },
        close: async () => {},
      };
    },
    remove: async (name) => {
      files.delete(name);
    },
    estimate: async () => ({ usage: used(), quota: options.capacity }),
    persist: async () => true,
    exclusive: async (name, signal, task) => {
      // A promise chain per name: tasks on one name run one after another.
      const before = locks.get(name) ?? Promise.resolve();
      const run = before.catch(() => {}).then(() => {
        signal?.throwIfAborted();
        return task();
      });
      locks.set(name, run);
      return run;
    },
  };
}
