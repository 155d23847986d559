/**
 * A ring of reused buffers that readers fill in turn, for streaming gigabytes without allocating
 * (fresh 1–4 MiB buffers cost more in page faults and garbage collection than the copy itself).
 * A buffer handed to an asynchronous write or a hash worker is leased (lib/leases.ts) until that
 * work is done; `next()` waits for the leases on the buffer it hands out, so nobody reads into a
 * buffer something still uses. Whoever takes a buffer without leasing it must be done with it
 * before it comes round again (after `count - 1` more `next()` calls).
 */
import { leasesEnded, makeLeasable } from './leases.js';

interface Slot {
  buffer: Buffer;
  leases: Set<Promise<unknown>>;
}

export class BufferRing {
  readonly #slots: Slot[];
  #turn = 0;

  /**
   * `count` buffers of `size` bytes. `shared`: in SharedArrayBuffers, which a worker thread can read
   * in place (the hash worker).
   */
  constructor(count: number, size: number, options: { shared?: boolean } = {}) {
    this.#slots = Array.from({ length: count }, () => {
      if (options.shared) {
        const shared = new SharedArrayBuffer(size);
        return { buffer: Buffer.from(shared), leases: makeLeasable(shared) };
      }
      const buffer = Buffer.allocUnsafeSlow(size);
      return { buffer, leases: makeLeasable(buffer.buffer) };
    });
  }

  /** The next buffer in turn, once nothing holds a lease on it any more. */
  async next(): Promise<Buffer> {
    const slot = this.#slots[this.#turn++ % this.#slots.length]!;
    if (slot.leases.size > 0) await leasesEnded(slot.leases);
    return slot.buffer;
  }

  /** Settles once no buffer is leased: the ring can then serve another reader. */
  async idle(): Promise<void> {
    await Promise.all(this.#slots.map((s) => leasesEnded(s.leases)));
  }
}
