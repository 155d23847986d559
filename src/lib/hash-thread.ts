/**
 * A worker thread running hash-worker.ts, started on first use and shared by many hash streams:
 * each stream posts views of SharedArrayBuffers to hash in place and gets `updated` (that buffer is
 * free again) and, at the end, the digest. The thread keeps the process alive only while a stream
 * is open. Each user makes its own HashThread where its hashing must not queue behind another's
 * (a download's prefix hash runs beside the bundle writer's file hashes).
 */
import { Worker } from 'node:worker_threads';

export type HashReply =
  { op: 'updated'; slot: number } | { op: 'digest'; hex: string } | { op: 'error'; error: Error };

export interface HashStream {
  /** Hashes `length` bytes of `buffer` from `offset`; `slot` comes back in the `updated` reply. */
  update(slot: number, buffer: SharedArrayBuffer, length: number, offset?: number): void;
  /** Asks for the digest of everything updated. */
  digest(): void;
  /** Stops listening; false if it was closed already. */
  close(): boolean;
}

export class HashThread {
  #worker: Worker | undefined;
  readonly #listeners = new Map<number, (m: HashReply) => void>();
  #nextStream = 1;

  /** A new stream; `listener` gets the thread's replies for it (or the thread's crash). */
  open(listener: (m: HashReply) => void): HashStream {
    const w = this.#start();
    const stream = this.#nextStream++;
    this.#listeners.set(stream, listener);
    w.ref();
    return {
      update: (slot, buffer, length, offset) =>
        w.postMessage({ op: 'update', stream, slot, buffer, offset, length }),
      digest: () => w.postMessage({ op: 'digest', stream }),
      close: () => {
        if (!this.#listeners.delete(stream)) return false;
        if (this.#listeners.size === 0) w.unref();
        return true;
      },
    };
  }

  #start(): Worker {
    if (!this.#worker) {
      const file = import.meta.url.endsWith('.ts') ? './hash-worker.ts' : './hash-worker.js';
      const worker = new Worker(new URL(file, import.meta.url));
      worker.on('message', (m: HashReply & { stream: number }) => this.#listeners.get(m.stream)?.(m));
      worker.on('error', (error: Error) => {
        for (const l of this.#listeners.values()) l({ op: 'error', error });
        this.#worker = undefined;
      });
      worker.unref(); // after the listeners: attaching a 'message' listener refs the worker again
      this.#worker = worker;
    }
    return this.#worker;
  }
}
