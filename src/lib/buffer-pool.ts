/**
 * A fixed set of reusable buffers. Streaming gigabytes through fresh 4 MiB allocations costs more in
 * page faults and garbage collection than the copy itself; a pool keeps memory flat and bounded.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #waiting: Array<(b: Buffer) => void> = [];

  constructor(
    readonly size: number,
    count: number,
  ) {
    for (let i = 0; i < count; i++) this.#free.push(Buffer.allocUnsafeSlow(size));
  }

  acquire(): Promise<Buffer> {
    const b = this.#free.pop();
    return b ? Promise.resolve(b) : new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(b: Buffer): void {
    const next = this.#waiting.shift();
    if (next) next(b);
    else this.#free.push(b);
  }
}
