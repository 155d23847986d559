/** Pull-style reader over an async stream of chunks: exact reads, bounded sub-streams, position. */
export class ByteReader {
  readonly #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  #position: number;
  #done = false;

  /**
   * With `seekTo`, the source can jump: `skip` drops what is buffered and tells the source the
   * position the next chunk must start at, instead of reading the skipped bytes.
   */
  constructor(
    source: AsyncIterable<Buffer>,
    startPosition = 0,
    private readonly seekTo?: (position: number) => void,
  ) {
    this.#it = source[Symbol.asyncIterator]();
    this.#position = startPosition;
  }

  get position(): number {
    return this.#position;
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#it.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    this.#buf = this.#buf.length === 0 ? next.value : Buffer.concat([this.#buf, next.value]);
    return true;
  }

  /** Reads exactly n bytes (n small), or throws `onEof()` when the stream ends first. */
  async readExact(n: number, onEof: () => Error): Promise<Buffer> {
    while (this.#buf.length < n) if (!(await this.#fill())) throw onEof();
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.#position += n;
    return out;
  }

  /** Yields exactly n bytes as chunks, never buffering more than one upstream chunk. */
  async *chunks(n: number, onEof: () => Error): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#fill())) throw onEof();
      const take = Math.min(left, this.#buf.length);
      const out = this.#buf.subarray(0, take);
      this.#buf = this.#buf.subarray(take);
      this.#position += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number, onEof: () => Error): Promise<void> {
    if (this.seekTo && n > this.#buf.length) {
      const rest = n - this.#buf.length;
      this.#position += this.#buf.length;
      this.#buf = Buffer.alloc(0);
      this.seekTo(this.#position + rest);
      // The source yields from the new position on; a stream that ends before it is truncated.
      if (!(await this.#fill())) throw onEof();
      this.#position += rest;
      return;
    }
    for await (const _ of this.chunks(n, onEof)) {
      // discard
    }
  }

  /**
   * Ends the source early (its `return`), so a reader left with bytes it will never ask for closes
   * the file and decompressor behind it now, not at garbage collection (or never, for a raw fd).
   */
  async close(): Promise<void> {
    this.#done = true;
    this.#buf = Buffer.alloc(0);
    await this.#it.return?.(undefined);
  }

  /** Everything left, to the end of the stream. */
  async *rest(): AsyncGenerator<Buffer> {
    while (this.#buf.length > 0 || (await this.#fill())) {
      const out = this.#buf;
      this.#buf = Buffer.alloc(0);
      this.#position += out.length;
      yield out;
    }
  }
}
