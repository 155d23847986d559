/**
 * Hashes many files at once on a small pool of worker threads (file-hash-worker.ts), one file per
 * worker at a time: verifying a store of multi-gigabyte blobs is sha256-bound, and one thread
 * hashes one file about as fast as sha256sum does. Small files are hashed here, where a worker
 * round trip would cost more than the hash.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface FileHash {
  /** sha256 hex of the bytes read. */
  hex: string;
  /** Bytes read (the file's size when it was hashed). */
  size: number;
}

/** Below this, hashing on the calling thread beats a worker round trip. */
const SMALL_FILE = 1024 * 1024;

type Reply =
  | { id: number; bytes: number }
  | { id: number; hex: string; size: number }
  | { id: number; error: { code?: string; message: string } };

interface Job {
  path: string;
  onBytes?: (n: number) => void;
  resolve: (h: FileHash) => void;
  reject: (e: Error) => void;
}

/** The default pool size: hashing is CPU-bound, so one per core, but no more than 4. */
export const defaultHashConcurrency = () => Math.max(1, Math.min(4, availableParallelism()));

export class FileHasher {
  readonly #size: number;
  readonly #idle: Worker[] = [];
  readonly #all: Worker[] = [];
  readonly #queue: Array<Job & { id: number }> = [];
  readonly #running = new Map<number, { job: Job; worker: Worker }>();
  #nextId = 1;
  #closed: Error | undefined;

  constructor(concurrency = defaultHashConcurrency()) {
    this.#size = Math.max(1, Math.floor(concurrency));
  }

  /**
   * sha256 of the file at `path`, read to its end. Rejects with the file-system error (its `code`
   * kept: ENOENT, EISDIR, EACCES) when the file cannot be read. `sizeHint` (from a stat) lets small
   * files skip the worker.
   */
  hash(path: string, opts: { sizeHint?: number; onBytes?: (n: number) => void } = {}): Promise<FileHash> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (opts.sizeHint !== undefined && opts.sizeHint < SMALL_FILE) return hashSmall(path, opts.onBytes);
    return new Promise<FileHash>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, path, onBytes: opts.onBytes, resolve, reject });
      this.#pump();
    });
  }

  /** Stops the workers; jobs not finished reject with `reason`. */
  async close(reason: Error = new Error('file hasher closed')): Promise<void> {
    this.#closed ??= reason;
    for (const j of this.#queue.splice(0)) j.reject(reason);
    for (const { job } of this.#running.values()) job.reject(reason);
    this.#running.clear();
    const workers = this.#all.splice(0);
    this.#idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const worker = this.#idle.pop() ?? (this.#all.length < this.#size ? this.#spawn() : undefined);
      if (!worker) return;
      const job = this.#queue.shift()!;
      this.#running.set(job.id, { job, worker });
      worker.ref();
      worker.postMessage({ id: job.id, path: job.path });
    }
  }

  #spawn(): Worker {
    const file = import.meta.url.endsWith('.ts') ? './file-hash-worker.ts' : './file-hash-worker.js';
    const worker = new Worker(new URL(file, import.meta.url));
    this.#all.push(worker);
    worker.on('message', (m: Reply) => {
      const entry = this.#running.get(m.id);
      if (!entry) return;
      if ('bytes' in m) {
        entry.job.onBytes?.(m.bytes);
        return;
      }
      this.#running.delete(m.id);
      if ('error' in m) entry.job.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else entry.job.resolve({ hex: m.hex, size: m.size });
      worker.unref(); // an idle worker must not keep the process alive
      this.#idle.push(worker);
      this.#pump();
    });
    worker.on('error', (err: Error) => {
      // A worker that dies takes its job with it; the others carry on.
      for (const [id, r] of this.#running)
        if (r.worker === worker) {
          this.#running.delete(id);
          r.job.reject(err);
        }
      this.#all.splice(this.#all.indexOf(worker), 1);
      this.#pump();
    });
    return worker;
  }
}

async function hashSmall(path: string, onBytes?: (n: number) => void): Promise<FileHash> {
  const bytes = await readFile(path);
  onBytes?.(bytes.length);
  return { hex: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}
