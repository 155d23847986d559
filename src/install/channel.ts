import { lease } from '../lib/leases.js';

/**
 * How far behind the start of the newest chunk a consumer has taken an older chunk may still be in
 * use. Targets hand chunks to a socket (undici) or a file write. A file target awaits each write. A
 * socket body (a Readable that holds one chunk) takes the next chunk only once its buffer is empty:
 * then the socket holds at most the chunk before, whole, plus less than its high-water mark (64 KiB)
 * of older ones. Chunks are at most 1 MiB (a read or decompression buffer): 2 MiB covers that with
 * room to spare.
 */
export const IN_USE_BEHIND = 2 * 1024 * 1024;

/**
 * A bounded byte queue from the bundle reader to one target's write. The reader pushes each verified
 * chunk to every target that needs the blob and waits only when a target is `capacity` bytes behind,
 * so memory stays bounded while uploads overlap with reading the next blob. `end(error)` makes the
 * consumer's iteration throw, which aborts the target's write before anything is committed.
 *
 * A chunk that is a view of a reusable read buffer (lib/leases.ts) is leased from `push` until the
 * consumer is IN_USE_BEHIND bytes past it, or gone: the reader fills that buffer again only then. A
 * target that keeps chunks longer (collecting a small blob to send in one request) must copy them.
 */
export class Channel implements AsyncIterable<Buffer> {
  #queue: Array<{ chunk: Buffer; release?: () => void }> = [];
  #bytes = 0;
  /** Chunks given to the consumer and still leased, oldest first, with their end offsets. */
  #taken: Array<{ end: number; release: () => void }> = [];
  #given = 0;
  #ended = false;
  #error: Error | undefined;
  #gone = false;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  constructor(private readonly capacity = 8 * 1024 * 1024) {}

  async push(chunk: Buffer): Promise<void> {
    while (this.#bytes >= this.capacity && !this.#gone) {
      await new Promise<void>((r) => (this.#wakeWriter = r));
    }
    if (this.#gone) return; // the write stopped (and reports its own error)
    let release: (() => void) | undefined;
    if (!lease(chunk, new Promise<void>((r) => (release = r)))) release = undefined;
    this.#queue.push({ chunk, release });
    this.#bytes += chunk.length;
    this.#wake('reader');
  }

  end(error?: Error): void {
    this.#ended = true;
    this.#error = error;
    this.#wake('reader');
  }

  /**
   * The consumer will not read (its write failed before it began, or stopped): drop what is queued,
   * end every lease, and let the reader's pushes return at once.
   */
  abandon(): void {
    this.#gone = true;
    for (const q of this.#queue) q.release?.();
    for (const t of this.#taken) t.release();
    this.#queue = [];
    this.#taken = [];
    this.#bytes = 0;
    this.#wake('writer');
  }

  #wake(who: 'reader' | 'writer'): void {
    const w = who === 'reader' ? this.#wakeReader : this.#wakeWriter;
    if (who === 'reader') this.#wakeReader = undefined;
    else this.#wakeWriter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const next = this.#queue.shift();
        if (next) {
          this.#bytes -= next.chunk.length;
          this.#given += next.chunk.length;
          if (next.release) this.#taken.push({ end: this.#given, release: next.release });
          while (
            this.#taken.length > 0 &&
            this.#taken[0]!.end <= this.#given - IN_USE_BEHIND - next.chunk.length
          )
            this.#taken.shift()!.release();
          this.#wake('writer');
          yield next.chunk;
        } else if (this.#ended) {
          if (this.#error) throw this.#error;
          return;
        } else {
          await new Promise<void>((r) => (this.#wakeReader = r));
        }
      }
    } finally {
      this.abandon();
    }
  }
}

/** Kept for services/install-run.ts, which imports it from here; its home is lib/concurrency.ts. */
export { Limiter } from '../lib/concurrency.js';
