/**
 * Reads a file in 4 MiB chunks and hashes it on a worker thread, so sha256 runs in parallel with
 * whatever the caller does with the chunks (compress, write). Memory is a fixed ring of shared
 * buffers. A chunk is valid until the caller asks for the next one, or longer if leased (leases.ts).
 */
import { open } from 'node:fs/promises';
import { describeFsError, sourceError } from './errors.js';
import { HashThread, type HashStream } from './hash-thread.js';
import { lease, leasesEnded, makeLeasable } from './leases.js';

const CHUNK = 4 * 1024 * 1024;
const SLOTS = 4;

/** One thread for every stream here (readHashed and WorkerHash): entries are read one after another. */
const thread = new HashThread();

export interface HashedChunks extends AsyncIterable<Buffer> {
  /** sha256 hex of everything yielded; resolves once the stream has been read to the end. */
  digest(): Promise<string>;
}

/** Shared buffers are reused across streams: entries are read one after another. */
const spare: SharedArrayBuffer[] = [];
const leasesOf = new WeakMap<SharedArrayBuffer, Set<Promise<unknown>>>();

function newSlot(): SharedArrayBuffer {
  const b = new SharedArrayBuffer(CHUNK);
  leasesOf.set(b, makeLeasable(b));
  return b;
}

export function readHashed(path: string): HashedChunks {
  const slots = Array.from({ length: SLOTS }, () => spare.pop() ?? newSlot());
  const hashing = new Set<number>();
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let settle: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;
  const digest = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  digest.catch(() => undefined); // observed by whoever calls digest()
  // Keep the process alive while a digest is owed; let it exit when the worker is idle.
  const done = () => {
    if (!hash.close()) return;
    // Only once the worker is finished with them (no slot still being hashed).
    if (hashing.size === 0) spare.push(...slots.splice(0));
  };
  const hash = thread.open((m) => {
    if (m.op === 'updated') hashing.delete(m.slot);
    else if (m.op === 'digest') {
      done();
      settle!.resolve(m.hex);
    } else {
      done();
      failure = m.error;
      settle!.reject(m.error);
    }
    wake?.();
  });
  const fail = (err: unknown) =>
    describeFsError(err, path, 'read') ?? sourceError(`${path}: read failed`, undefined, err);

  async function* chunks(): AsyncGenerator<Buffer> {
    const fh = await open(path, 'r').catch((err: unknown) => {
      throw fail(err);
    });
    let position = 0;
    let slot = 0;
    let finished = false;
    const read = (s: number) => fh.read(Buffer.from(slots[s]!), 0, CHUNK, position);
    let pending: ReturnType<typeof read> | undefined;
    try {
      for (;;) {
        // A slot is reusable once the worker has hashed it and the caller has moved past it.
        while (hashing.has(slot) && !failure) await new Promise<void>((r) => (wake = r));
        if (failure) throw failure;
        await leasesEnded(leasesOf.get(slots[slot]!)!); // writes in flight may still read it
        pending ??= read(slot);
        const { bytesRead } = await pending.catch((err: unknown) => {
          throw fail(err);
        });
        pending = undefined;
        if (bytesRead === 0) break;
        position += bytesRead;
        hashing.add(slot);
        hash.update(slot, slots[slot]!, bytesRead);
        const current = Buffer.from(slots[slot]!, 0, bytesRead);
        slot = (slot + 1) % SLOTS;
        // Read ahead while the caller works, into a slot nobody is using.
        if (!hashing.has(slot) && leasesOf.get(slots[slot]!)!.size === 0) pending = read(slot);
        yield current;
      }
      hash.digest();
      finished = true;
    } finally {
      if (!finished) done();
      await pending?.catch(() => undefined);
      await fh.close();
    }
  }

  return { [Symbol.asyncIterator]: chunks, digest: () => digest };
}

const MAX_WORKER_SLOTS = 8;
const slotPool: SharedArrayBuffer[] = [];
let slotsOut = 0;
const slotWaiters: Array<() => void> = [];

async function acquireSlot(): Promise<SharedArrayBuffer> {
  while (slotsOut >= MAX_WORKER_SLOTS) await new Promise<void>((r) => slotWaiters.push(r));
  slotsOut++;
  return slotPool.pop() ?? new SharedArrayBuffer(CHUNK);
}

function releaseSlot(b: SharedArrayBuffer): void {
  slotPool.push(b);
  slotsOut--;
  slotWaiters.shift()?.();
}

/**
 * sha256 of data the caller pushes, computed on the hash worker so it overlaps with whatever the
 * caller does next (decompressing the following chunks). A chunk in a leasable shared buffer
 * (leases.ts) is hashed in place and leased until the worker is done with it; any other chunk is
 * copied into shared slots (at most 8 x 4 MiB in flight, all streams together).
 */
export class WorkerHash {
  readonly #hash: HashStream;
  readonly #inWorker = new Map<number, { release: () => void }>();
  readonly #digest: Promise<string>;
  #nextId = 0;
  #slot: SharedArrayBuffer | undefined;
  #fill = 0;

  constructor() {
    let settle!: { resolve: (hex: string) => void; reject: (e: Error) => void };
    this.#digest = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
    this.#digest.catch(() => undefined); // observed by whoever calls digest()
    const done = () => {
      this.#hash.close();
      for (const p of this.#inWorker.values()) p.release();
      this.#inWorker.clear();
    };
    this.#hash = thread.open((m) => {
      if (m.op === 'updated') {
        this.#inWorker.get(m.slot)?.release();
        this.#inWorker.delete(m.slot);
      } else if (m.op === 'digest') {
        done();
        settle.resolve(m.hex);
      } else {
        done();
        settle.reject(m.error);
      }
    });
  }

  #post(buffer: SharedArrayBuffer, offset: number, length: number, release: () => void): void {
    const id = this.#nextId++;
    this.#inWorker.set(id, { release });
    this.#hash.update(id, buffer, length, offset);
  }

  #flush(): void {
    const slot = this.#slot;
    if (!slot) return;
    this.#slot = undefined;
    if (this.#fill === 0) releaseSlot(slot);
    else this.#post(slot, 0, this.#fill, () => releaseSlot(slot));
  }

  async update(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    if (chunk.buffer instanceof SharedArrayBuffer) {
      let release!: () => void;
      if (lease(chunk, new Promise<void>((r) => (release = r)))) {
        this.#flush(); // order: what was copied before this chunk goes first
        this.#post(chunk.buffer, chunk.byteOffset, chunk.length, release);
        return;
      }
    }
    for (let at = 0; at < chunk.length;) {
      if (!this.#slot) {
        this.#slot = await acquireSlot();
        this.#fill = 0;
      }
      const n = Math.min(chunk.length - at, CHUNK - this.#fill);
      new Uint8Array(this.#slot, this.#fill, n).set(chunk.subarray(at, at + n));
      this.#fill += n;
      at += n;
      if (this.#fill === CHUNK) this.#flush();
    }
    // Never hold a half-filled slot between calls: with many streams open, held slots would
    // starve each other (every slot given out is on its way to the worker, so it comes back).
    this.#flush();
  }

  /** The sha256 hex of everything pushed; call once, after the last update. */
  digest(): Promise<string> {
    this.#flush();
    this.#hash.digest();
    return this.#digest;
  }
}
