/**
 * Leases let a reader lend its reusable buffers to writes in flight without copying: whoever passes
 * a view of a leasable buffer to an asynchronous write leases it until the write settles, and the
 * reader waits for its leases to end before reading into that buffer again.
 */
const leasable = new WeakMap<ArrayBufferLike, Set<Promise<unknown>>>();

/** Registers `buffer` as leasable; the returned set holds the leases in force. */
export function makeLeasable(buffer: ArrayBufferLike): Set<Promise<unknown>> {
  const leases = new Set<Promise<unknown>>();
  leasable.set(buffer, leases);
  return leases;
}

/** Leases the buffer behind `view` until `until` settles; false if it is not leasable. */
export function lease(view: Uint8Array, until: Promise<unknown>): boolean {
  const leases = leasable.get(view.buffer);
  if (!leases) return false;
  const held: Promise<boolean> = until.then(
    () => leases.delete(held),
    () => leases.delete(held),
  );
  leases.add(held);
  return true;
}

/** Waits until nothing holds a lease on the buffer. */
export async function leasesEnded(leases: Set<Promise<unknown>>): Promise<void> {
  while (leases.size > 0) await Promise.all(leases);
}
