import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { describeFsError, sourceError } from './errors.js';
import { leasesEnded, makeLeasable } from './leases.js';

export const READ_CHUNK = 4 * 1024 * 1024;

/** Streams a file (bounded memory) and returns its sha256 hex. */
export async function hashFile(path: string, onBytes?: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of readChunks(path)) {
    hash.update(chunk);
    onBytes?.(chunk.length);
  }
  return hash.digest('hex');
}

/**
 * Reads a file in chunks, reading the next chunk while the caller works on the current one. The
 * two buffers are reused: a chunk is valid only until the caller asks for the next one, or longer
 * if leased (leases.ts).
 */
export async function* readChunks(path: string): AsyncGenerator<Buffer> {
  const fail = (err: unknown) =>
    describeFsError(err, path, 'read') ?? sourceError(`${path}: read failed`, undefined, err);
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw fail(err);
  });
  const buffers = [Buffer.allocUnsafeSlow(READ_CHUNK), Buffer.allocUnsafeSlow(READ_CHUNK)];
  const leases = buffers.map((b) => makeLeasable(b.buffer));
  let position = 0;
  const readInto = (b: Buffer) => fh.read(b, 0, b.length, position);
  let pending = readInto(buffers[0]!);
  try {
    let i = 0;
    for (;;) {
      const { bytesRead } = await pending.catch((err: unknown) => {
        throw fail(err);
      });
      if (bytesRead === 0) return;
      position += bytesRead;
      const current = buffers[i]!;
      i ^= 1;
      await leasesEnded(leases[i]!);
      pending = readInto(buffers[i]!);
      yield current.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => undefined); // the read-ahead may still be running if the caller stopped early
    await fh.close();
  }
}
