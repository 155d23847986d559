/**
 * Worker thread that hashes whole files by path: it opens, reads and hashes on its own thread, so
 * nothing crosses threads but the path, progress counts and the digest. Synchronous reads are the
 * right tool here (the thread does nothing else; the kernel's read-ahead keeps the disk busy).
 * Kept free of imports other than node: built-ins so it also runs as .ts.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

/** Big enough to keep syscalls rare, small enough to stay in cache between the copy and the hash. */
const CHUNK = 1024 * 1024;
/** Progress is coalesced: one message per this many bytes. */
const REPORT_EVERY = 32 * 1024 * 1024;

const buffer = Buffer.allocUnsafeSlow(CHUNK);

parentPort!.on('message', (m: { id: number; path: string }) => {
  let fd: number | undefined;
  try {
    fd = openSync(m.path, 'r');
    const hash = createHash('sha256');
    let size = 0;
    let unreported = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      size += n;
      unreported += n;
      if (unreported >= REPORT_EVERY) {
        parentPort!.postMessage({ id: m.id, bytes: unreported });
        unreported = 0;
      }
    }
    if (unreported > 0) parentPort!.postMessage({ id: m.id, bytes: unreported });
    parentPort!.postMessage({ id: m.id, hex: hash.digest('hex'), size });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    parentPort!.postMessage({ id: m.id, error: { code: e.code, message: e.message } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
