/**
 * Worker thread for sha256: the content of a bundle is hashed here while the main thread reads,
 * compresses and writes it. Chunks live in SharedArrayBuffers owned by the main thread; this
 * thread only reads them. Kept free of imports other than node: built-ins so it also runs as .ts.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

type Message =
  | { op: 'update'; stream: number; slot: number; buffer: SharedArrayBuffer; offset?: number; length: number }
  | { op: 'digest'; stream: number };

const hashes = new Map<number, Hash>();

parentPort!.on('message', (m: Message) => {
  if (m.op === 'update') {
    let h = hashes.get(m.stream);
    if (!h) hashes.set(m.stream, (h = createHash('sha256')));
    h.update(new Uint8Array(m.buffer, m.offset ?? 0, m.length));
    parentPort!.postMessage({ op: 'updated', stream: m.stream, slot: m.slot });
  } else {
    const h = hashes.get(m.stream) ?? createHash('sha256');
    hashes.delete(m.stream);
    parentPort!.postMessage({ op: 'digest', stream: m.stream, hex: h.digest('hex') });
  }
});
