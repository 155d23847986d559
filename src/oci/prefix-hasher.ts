/**
 * sha256 of a file that is being written, computed as its complete prefix grows: the bytes are read
 * back (from the page cache) and hashed on a worker thread (lib/hash-worker), so the main thread keeps
 * receiving from the network. A download's digest is then known when its last byte lands, without a
 * second pass over the file and without hashing on the event loop.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

const CHUNK = 4 * 1024 * 1024;
const SLOTS = 3;

type Reply = { op: 'updated' | 'digest'; stream: number; slot?: number; hex?: string };

let worker: Worker | undefined;
let nextStream = 1;
const listeners = new Map<number, (m: Reply) => void>();

function hashWorker(): Worker {
  if (!worker) {
    const file = import.meta.url.endsWith('.ts') ? '../lib/hash-worker.ts' : '../lib/hash-worker.js';
    worker = new Worker(new URL(file, import.meta.url));
    worker.on('message', (m: Reply) => listeners.get(m.stream)?.(m));
    worker.on('error', () => {
      for (const l of listeners.values()) l({ op: 'digest', stream: -1 });
      worker = undefined;
    });
    worker.unref();
  }
  return worker;
}

export class PrefixHasher {
  readonly #stream = nextStream++;
  readonly #slots = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(CHUNK));
  readonly #busy = new Set<number>();
  #hashed = 0;
  #reach = 0;
  #pumping: Promise<void> | undefined;
  #broken = false;
  #wake: (() => void) | undefined;
  #digest: ((hex: string | undefined) => void) | undefined;
  #fh: FileHandle | undefined;

  constructor(readonly file: string) {
    const w = hashWorker();
    w.ref();
    listeners.set(this.#stream, (m) => {
      if (m.stream === -1) this.#broken = true;
      if (m.op === 'updated') this.#busy.delete(m.slot!);
      else this.#digest?.(m.stream === -1 ? undefined : m.hex);
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }

  /** The first `n` bytes of the file are final. */
  advance(n: number): void {
    if (n > this.#reach) this.#reach = n;
    if (this.#pumping || this.#broken) return;
    this.#pumping = this.#pump()
      .catch(() => {
        this.#broken = true;
      })
      .finally(() => {
        this.#pumping = undefined;
        if (this.#hashed < this.#reach && !this.#broken) this.advance(this.#reach);
      });
  }

  async #pump(): Promise<void> {
    this.#fh ??= await open(this.file, 'r');
    let slot = 0;
    while (this.#hashed < this.#reach && !this.#broken) {
      while (this.#busy.has(slot)) await new Promise<void>((r) => (this.#wake = r));
      const want = Math.min(CHUNK, this.#reach - this.#hashed);
      const { bytesRead } = await this.#fh.read(Buffer.from(this.#slots[slot]!), 0, want, this.#hashed);
      if (bytesRead === 0) break;
      this.#busy.add(slot);
      hashWorker().postMessage({
        op: 'update',
        stream: this.#stream,
        slot,
        buffer: this.#slots[slot],
        length: bytesRead,
      });
      this.#hashed += bytesRead;
      slot = (slot + 1) % SLOTS;
    }
  }

  /** The hex digest of the first `size` bytes, or undefined if hashing failed (hash the file instead). */
  async finish(size: number): Promise<string | undefined> {
    try {
      this.advance(size);
      while (this.#pumping) await this.#pumping;
      if (this.#broken || this.#hashed !== size) return undefined;
      while (this.#busy.size > 0) await new Promise<void>((r) => (this.#wake = r));
      const hex = new Promise<string | undefined>((resolve) => (this.#digest = resolve));
      hashWorker().postMessage({ op: 'digest', stream: this.#stream });
      return await hex;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (listeners.delete(this.#stream) && listeners.size === 0) worker?.unref();
    await this.#fh?.close().catch(() => undefined);
    this.#fh = undefined;
  }
}
