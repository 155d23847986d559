/**
 * A bounded byte queue from the bundle reader to one target's write. The reader pushes each verified
 * chunk to every target that needs the blob and waits only when a target is `capacity` bytes behind,
 * so memory stays bounded while uploads overlap with reading the next blob. `end(error)` makes the
 * consumer's iteration throw, which aborts the target's write before anything is committed.
 */
export class Channel implements AsyncIterable<Buffer> {
  #queue: Buffer[] = [];
  #bytes = 0;
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
    this.#queue.push(chunk);
    this.#bytes += chunk.length;
    this.#wake('reader');
  }

  end(error?: Error): void {
    this.#ended = true;
    this.#error = error;
    this.#wake('reader');
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
        const chunk = this.#queue.shift();
        if (chunk) {
          this.#bytes -= chunk.length;
          this.#wake('writer');
          yield chunk;
        } else if (this.#ended) {
          if (this.#error) throw this.#error;
          return;
        } else {
          await new Promise<void>((r) => (this.#wakeReader = r));
        }
      }
    } finally {
      this.#gone = true;
      this.#queue = [];
      this.#wake('writer');
    }
  }
}

/** At most `limit` tasks at once. */
export class Limiter {
  #active = 0;
  #waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    while (this.#active >= this.limit) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#waiting.shift()?.();
    };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }
}
