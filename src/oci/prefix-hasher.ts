/**
 * sha256 of a file that is being written, computed as its complete prefix grows: the bytes are read
 * back (from the page cache) and hashed on a worker thread (lib/hash-worker), so the main thread keeps
 * receiving from the network. A download's digest is then known when its last byte lands, without a
 * second pass over the file and without hashing on the event loop.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { HashThread, type HashStream } from '../lib/hash-thread.js';

const CHUNK = 4 * 1024 * 1024;
const SLOTS = 3;

/** Its own thread: downloads are hashed beside the files the bundle writer hashes (lib/hashing-reader). */
const thread = new HashThread();

export class PrefixHasher {
  readonly #hash: HashStream;
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
    this.#hash = thread.open((m) => {
      if (m.op === 'error') this.#broken = true;
      if (m.op === 'updated') this.#busy.delete(m.slot);
      else this.#digest?.(m.op === 'digest' ? m.hex : undefined);
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
      this.#hash.update(slot, this.#slots[slot]!, bytesRead);
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
      this.#hash.digest();
      return await hex;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.#hash.close();
    await this.#fh?.close().catch(() => undefined);
    this.#fh = undefined;
  }
}
