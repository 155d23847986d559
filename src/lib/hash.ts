import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { describeFsError, sourceError } from './errors.js';

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

export async function* readChunks(path: string): AsyncGenerator<Buffer> {
  const rs = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    for await (const chunk of rs as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    throw describeFsError(err, path, 'read') ?? sourceError(`${path}: read failed`, undefined, err);
  } finally {
    rs.destroy();
  }
}
