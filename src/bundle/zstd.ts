/**
 * zstd framing for bundles: independent frames (so any frame can be decompressed alone), the
 * zstd seekable format's seek table (contrib/seekable_format in facebook/zstd), skippable frames,
 * and a streaming decompressor that also reads plain single-frame .zst files.
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
// zstd-napi's low-level binding is CommonJS without named-export hints; load it through require.
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof import('zstd-napi/binding.js');
import { formatError } from '../lib/errors.js';
import { BufferRing } from '../lib/buffer-ring.js';

export const SKIPPABLE_MAGIC_BASE = 0x184d2a50;
export const SEEK_TABLE_MAGIC = 0x184d2a5e;
export const SEEKABLE_FOOTER_MAGIC = 0x8f92eab1;
export const SEEK_TABLE_FOOTER_SIZE = 9;
export const SKIPPABLE_HEADER_SIZE = 8;
export const ZSTD_MAGIC = 0xfd2fb528;

/** Upper bound on one frame's decompressed size; the seek table stores sizes as u32. */
export const MAX_FRAME_CONTENT = 32 * 1024 * 1024;

export interface SeekEntry {
  compressedSize: number;
  decompressedSize: number;
}

/** ZSTD_COMPRESSBOUND plus room for the frame header and checksum. */
export function frameBound(srcSize: number): number {
  const small = srcSize < 128 * 1024 ? (128 * 1024 - srcSize) >> 11 : 0;
  return srcSize + (srcSize >> 8) + small + 32;
}

export function skippableFrame(payload: Buffer, magicOffset = 0): Buffer {
  const out = Buffer.alloc(SKIPPABLE_HEADER_SIZE + payload.length);
  out.writeUInt32LE(SKIPPABLE_MAGIC_BASE + magicOffset, 0);
  out.writeUInt32LE(payload.length, 4);
  payload.copy(out, SKIPPABLE_HEADER_SIZE);
  return out;
}

/** A skippable frame of exactly `size` bytes (size >= 8) used to pad the reserved bundle header. */
export function paddingFrame(size: number): Buffer {
  if (size < SKIPPABLE_HEADER_SIZE) throw new Error(`padding frame needs at least 8 bytes, got ${size}`);
  return skippableFrame(Buffer.alloc(size - SKIPPABLE_HEADER_SIZE));
}

export function encodeSeekTable(entries: SeekEntry[]): Buffer {
  const body = Buffer.alloc(entries.length * 8 + SEEK_TABLE_FOOTER_SIZE);
  entries.forEach((e, i) => {
    body.writeUInt32LE(e.compressedSize, i * 8);
    body.writeUInt32LE(e.decompressedSize, i * 8 + 4);
  });
  const footer = entries.length * 8;
  body.writeUInt32LE(entries.length, footer);
  body.writeUInt8(0, footer + 4); // no per-frame checksums in the table: frames carry their own XXH64
  body.writeUInt32LE(SEEKABLE_FOOTER_MAGIC, footer + 5);
  const out = Buffer.alloc(SKIPPABLE_HEADER_SIZE + body.length);
  out.writeUInt32LE(SEEK_TABLE_MAGIC, 0);
  out.writeUInt32LE(body.length, 4);
  body.copy(out, SKIPPABLE_HEADER_SIZE);
  return out;
}

/**
 * Parses the seek table from the end of a file. Returns undefined when the file has none (a plain
 * .tar.zst recompressed by standard tools); throws when a table is present but inconsistent.
 */
export function decodeSeekTable(
  tail: Buffer,
  fileSize: number,
  readMore: (start: number, length: number) => Promise<Buffer>,
): Promise<SeekEntry[] | undefined> {
  return (async () => {
    if (tail.length < SEEK_TABLE_FOOTER_SIZE) return undefined;
    const f = tail.length - SEEK_TABLE_FOOTER_SIZE;
    if (tail.readUInt32LE(f + 5) !== SEEKABLE_FOOTER_MAGIC) return undefined;
    const frames = tail.readUInt32LE(f);
    const descriptor = tail.readUInt8(f + 4);
    const entrySize = descriptor & 0x80 ? 12 : 8;
    const tableSize = SKIPPABLE_HEADER_SIZE + frames * entrySize + SEEK_TABLE_FOOTER_SIZE;
    if (tableSize > fileSize)
      throw formatError('seek table is larger than the file: the bundle is truncated or corrupt');
    const table = await readMore(fileSize - tableSize, tableSize);
    if (
      table.readUInt32LE(0) !== SEEK_TABLE_MAGIC ||
      table.readUInt32LE(4) !== tableSize - SKIPPABLE_HEADER_SIZE
    ) {
      throw formatError('seek table header is corrupt');
    }
    const entries: SeekEntry[] = [];
    let total = 0;
    for (let i = 0; i < frames; i++) {
      const at = SKIPPABLE_HEADER_SIZE + i * entrySize;
      const e = { compressedSize: table.readUInt32LE(at), decompressedSize: table.readUInt32LE(at + 4) };
      total += e.compressedSize;
      entries.push(e);
    }
    if (total !== fileSize - tableSize) {
      throw formatError(
        `seek table describes ${total} bytes of frames but the file holds ${fileSize - tableSize}: the bundle is truncated or corrupt`,
      );
    }
    return entries;
  })();
}

export interface CompressOptions {
  level: number;
  workers: number;
}

export const defaultCompressOptions = (): CompressOptions => ({
  level: 3,
  workers: Math.max(1, Math.min(availableParallelism(), 8)),
});

/** Memory the compressor allocated for output headers and never reuses. */
const owned = new WeakSet<ArrayBufferLike>();
export const ownedByCompressor = (part: Uint8Array): boolean => owned.has(part.buffer);

/**
 * From this level on, zstd's multi-threaded engine makes a job of four windows (32 MiB and more),
 * so a frame (MAX_FRAME_CONTENT) is one job, compressed in one call that returns only when it is
 * done: no parallelism to keep, and seconds to minutes with the event loop blocked and no progress.
 * These levels compress single-threaded, block by block, which is as fast and as reproducible.
 */
export const SINGLE_THREADED_FROM = 17;

const TURN_MS = 50;
let lastTurn = Date.now();

/** Lets the event loop run (signals, timers, I/O) when it has not for TURN_MS. */
async function turn(): Promise<void> {
  if (Date.now() - lastTurn < TURN_MS) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastTurn = Date.now();
}

/** Frames at least this large are checked for compressibility before zstd is asked to try. */
const SAMPLE_FROM = 1024 * 1024;
const SAMPLE_SIZE = 64 * 1024;
const MAX_BLOCK = 128 * 1024;

/**
 * Compresses a sequence of independent frames. Each frame is started with `beginFrame(size)` (the
 * exact content size, recorded in the frame header), fed with `write`, and ended with `endFrame`,
 * which returns the frame's compressed size. Output goes to `emit` in order.
 *
 * Model weights and gzip'd image layers do not compress. For a large frame whose first bytes do not
 * compress either (sampled at two places at level 1), the frame is stored as raw blocks, which is
 * what zstd would emit after spending CPU finding that out; `zstd -d` reads both the same way.
 */
export class FrameCompressor {
  readonly #cctx = new zstd.CCtx();
  readonly #probe = new zstd.CCtx();
  readonly #out = Buffer.allocUnsafe(4 * 1024 * 1024);
  #remaining = 0;
  #produced = 0;
  #size = 0;
  #mode: 'undecided' | 'zstd' | 'raw' = 'undecided';
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Frames stored raw since construction (for tests and benchmarks). */
  rawFrames = 0;

  constructor(
    options: CompressOptions,
    /**
     * Receives output in order. `transient` parts are only valid during the call (copy them); the
     * others are fresh or views of the caller's chunk (valid as long as the caller's buffer is).
     */
    private readonly emit: (parts: Buffer[], transient: boolean) => Promise<void>,
  ) {
    this.#cctx.setParameter(zstd.CParameter.compressionLevel, options.level);
    this.#cctx.setParameter(zstd.CParameter.checksumFlag, 1);
    this.#cctx.setParameter(zstd.CParameter.contentSizeFlag, 1);
    // Always the multi-threaded engine (even with one worker): its output does not depend on the
    // number of workers, so a bundle is byte-for-byte reproducible across machines. Except at the
    // levels where that engine runs a whole frame as one job: see SINGLE_THREADED_FROM.
    this.#cctx.setParameter(
      zstd.CParameter.nbWorkers,
      options.level >= SINGLE_THREADED_FROM ? 0 : Math.max(1, options.workers),
    );
  }

  beginFrame(size: number): void {
    if (this.#remaining !== 0) throw new Error('previous frame not ended');
    this.#remaining = size;
    this.#size = size;
    this.#produced = 0;
    this.#mode = 'undecided';
  }

  get remaining(): number {
    return this.#remaining;
  }

  async write(data: Buffer): Promise<void> {
    if (data.length > this.#remaining) throw new Error('frame overrun');
    this.#remaining -= data.length;
    let pieces = [data];
    if (this.#mode === 'undecided') {
      if (this.#heldBytes + data.length < 2 * SAMPLE_SIZE && this.#remaining > 0) {
        // Hold back the first bytes (a tar header, say) until there is enough to sample. A copy:
        // callers reuse their buffers once write returns. At most 128 KiB.
        this.#held.push(Buffer.from(data));
        this.#heldBytes += data.length;
        return;
      }
      pieces = [...this.#held, data].filter((p) => p.length > 0);
      this.#held = [];
      this.#heldBytes = 0;
      await this.#decide(pieces);
    }
    for (const [i, piece] of pieces.entries()) {
      if (this.#mode === 'raw')
        await this.#rawBlocks(piece, this.#remaining === 0 && i === pieces.length - 1);
      else await this.#run(piece, zstd.EndDirective.continue);
    }
  }

  async endFrame(): Promise<number> {
    if (this.#remaining !== 0) throw new Error(`frame ended ${this.#remaining} bytes early`);
    // Only an empty frame (no write at all) ends undecided: it is an ordinary zstd frame.
    if (this.#mode === 'undecided') await this.#decide([]);
    if (this.#mode !== 'raw') await this.#run(Buffer.alloc(0), zstd.EndDirective.end);
    return this.#produced;
  }

  async #decide(first: Buffer[]): Promise<void> {
    const bytes = first.reduce((n, p) => n + p.length, 0);
    if (this.#size >= SAMPLE_FROM && bytes >= 2 * SAMPLE_SIZE && !this.#compresses(first)) {
      this.#mode = 'raw';
      this.rawFrames++;
      const head = Buffer.allocUnsafeSlow(9).fill(0);
      owned.add(head.buffer);
      head.writeUInt32LE(ZSTD_MAGIC, 0);
      head.writeUInt8(0xa0, 4); // single segment, 4-byte content size, no checksum
      head.writeUInt32LE(this.#size, 5);
      this.#produced += head.length;
      await this.emit([head], false);
      return;
    }
    this.#mode = 'zstd';
    this.#cctx.reset(zstd.ResetDirective.sessionOnly);
    this.#cctx.setPledgedSrcSize(this.#size);
  }

  /** Samples the first and the last 64 KiB of what the frame starts with. */
  #compresses(pieces: Buffer[]): boolean {
    const out = Buffer.allocUnsafe(frameBound(SAMPLE_SIZE));
    const last = pieces[pieces.length - 1]!;
    const tail = last.length >= SAMPLE_SIZE ? last : Buffer.concat(pieces);
    for (const sample of [Buffer.concat(pieces, SAMPLE_SIZE), tail.subarray(tail.length - SAMPLE_SIZE)]) {
      if (this.#probe.compress(out, sample, 1) < SAMPLE_SIZE * 0.97) return true;
    }
    return false;
  }

  async #rawBlocks(data: Buffer, final: boolean): Promise<void> {
    const blocks = Math.ceil(data.length / MAX_BLOCK);
    const headers = Buffer.allocUnsafeSlow(3 * blocks); // its own memory: see ownedByCompressor
    owned.add(headers.buffer);
    const parts: Buffer[] = [];
    for (let b = 0; b < blocks; b++) {
      const at = b * MAX_BLOCK;
      const n = Math.min(MAX_BLOCK, data.length - at);
      const last = final && at + n === data.length ? 1 : 0;
      const header = last | (n << 3); // block type 0: raw
      headers.writeUIntLE(header, 3 * b, 3);
      parts.push(headers.subarray(3 * b, 3 * b + 3), data.subarray(at, at + n));
      this.#produced += 3 + n;
    }
    await this.emit(parts, false);
  }

  /**
   * Each compressStream2 call blocks the thread: it is given at most one block of input, and the
   * event loop gets a turn every TURN_MS, so Ctrl-C and progress are answered while a slow level
   * compresses (the awaits on output alone are microtasks, which never let a signal in).
   */
  async #run(src: Buffer, op: number): Promise<void> {
    let input = src;
    for (;;) {
      const directive = input.length > MAX_BLOCK ? zstd.EndDirective.continue : op;
      const [left, produced, consumed] = this.#cctx.compressStream2(
        this.#out,
        input.subarray(0, MAX_BLOCK),
        directive,
      );
      if (produced > 0) {
        this.#produced += produced;
        await this.emit([this.#out.subarray(0, produced)], true);
      }
      input = input.subarray(consumed);
      await turn();
      const done = input.length === 0 && (op !== zstd.EndDirective.end || (directive === op && left === 0));
      if (done) return;
    }
  }
}

/**
 * `data` as a zstd frame of one raw (stored) block. Its size depends only on data.length, so it can
 * be overwritten in place later: the writer uses it for tar headers whose path (a digest) is
 * learned only after the entry's content has been written.
 */
export function rawFrame(data: Buffer): Buffer {
  if (data.length > 128 * 1024) throw new Error('raw frame holds at most one 128 KiB block');
  let fcs: Buffer;
  let descriptor: number;
  if (data.length < 256) {
    descriptor = 0x20; // single segment, 1-byte content size
    fcs = Buffer.from([data.length]);
  } else if (data.length < 65536 + 256) {
    descriptor = 0x60; // single segment, 2-byte content size (stored minus 256)
    fcs = Buffer.alloc(2);
    fcs.writeUInt16LE(data.length - 256);
  } else {
    descriptor = 0xa0; // single segment, 4-byte content size
    fcs = Buffer.alloc(4);
    fcs.writeUInt32LE(data.length);
  }
  const head = Buffer.alloc(5);
  head.writeUInt32LE(ZSTD_MAGIC, 0);
  head.writeUInt8(descriptor, 4);
  const blockHeader = 1 | (data.length << 3); // last block, type raw
  const block = Buffer.from([blockHeader & 0xff, (blockHeader >> 8) & 0xff, (blockHeader >> 16) & 0xff]);
  return Buffer.concat([head, fcs, block, data]);
}

/** Compress `data` as one frame (used for small header entries). */
export function compressFrame(data: Buffer, options: CompressOptions): Buffer {
  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.compressionLevel, options.level);
  cctx.setParameter(zstd.CParameter.checksumFlag, 1);
  cctx.setParameter(zstd.CParameter.contentSizeFlag, 1);
  const out = Buffer.allocUnsafe(frameBound(data.length));
  const n = cctx.compress2(out, data);
  return out.subarray(0, n);
}

/**
 * Decompresses a stream of zstd frames (and skips skippable frames, which is how the seek table and
 * header padding are read past). Throws a format error on corrupt data or a stream that ends
 * inside a frame.
 */
const RING = 8;

export async function* decompress(
  source: AsyncIterable<Buffer>,
  what: string,
  options: { reuse?: boolean } = {},
): AsyncGenerator<Buffer> {
  const dctx = new zstd.DCtx();
  const outSize = 1024 * 1024;
  // With `reuse`, output cycles through a ring of shared buffers (no allocation, no GC churn): a
  // chunk is valid until the consumer asks for the one after next, or longer if it leases the
  // buffer (leases.ts), e.g. to hash it on a worker thread while the next chunks are decompressed.
  const ring = options.reuse ? new BufferRing(RING, outSize, { shared: true }) : undefined;
  let inFrame = false;
  let sawInput = false;
  for await (const chunk of source) {
    if (!sawInput && chunk.length >= 4) {
      const magic = chunk.readUInt32LE(0);
      if (magic !== ZSTD_MAGIC && (magic & 0xfffffff0) !== SKIPPABLE_MAGIC_BASE) {
        throw formatError(
          `${what}: not a zstd stream (magic 0x${magic.toString(16)})`,
          'pass a .kcb.tar.zst bundle',
        );
      }
    }
    sawInput ||= chunk.length > 0;
    let input = chunk;
    for (;;) {
      const out = ring ? await ring.next() : Buffer.allocUnsafe(outSize);
      let result: [number, number, number];
      try {
        result = dctx.decompressStream(out, input);
      } catch (err) {
        throw formatError(
          `${what}: corrupt zstd data (${(err as Error).message})`,
          'copy the bundle again from the original media',
          err,
        );
      }
      const [ret, produced, consumed] = result;
      input = input.subarray(consumed);
      // A call that neither consumes nor produces (the extra call made after a frame ended exactly
      // as the output buffer filled) returns the next frame's header-size hint: it says nothing
      // about the frame just read, so it must not mark the stream as being inside a frame.
      if (produced > 0 || consumed > 0) inFrame = ret !== 0;
      if (produced > 0) yield out.subarray(0, produced);
      if (input.length === 0 && produced < outSize) break;
    }
  }
  if (inFrame) {
    throw formatError(
      `${what}: ends in the middle of a zstd frame: the bundle is truncated`,
      'copy the bundle again',
    );
  }
}

export interface FrameHeader {
  headerSize: number;
  checksum: boolean;
  contentSize: number | undefined;
}

/** Parses a zstd frame header (RFC 8878 §3.1.1.1) from the frame's first bytes (18 are always enough). */
export function parseFrameHeader(head: Buffer): FrameHeader | undefined {
  if (head.length < 5 || head.readUInt32LE(0) !== ZSTD_MAGIC) return undefined;
  const d = head.readUInt8(4);
  const fcsFlag = d >> 6;
  const singleSegment = (d >> 5) & 1;
  const dictIdSize = [0, 1, 2, 4][d & 3]!;
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdSize;
  const headerSize = at + fcsSize;
  if (head.length < headerSize) return undefined;
  let contentSize: number | undefined;
  if (fcsSize === 1) contentSize = head.readUInt8(at);
  else if (fcsSize === 2) contentSize = head.readUInt16LE(at) + 256;
  else if (fcsSize === 4) contentSize = head.readUInt32LE(at);
  else if (fcsSize === 8) contentSize = Number(head.readBigUInt64LE(at));
  return { headerSize, checksum: ((d >> 2) & 1) === 1, contentSize };
}

/**
 * Whether a frame of `compressedSize` bytes could be all raw blocks: at least as large as its content
 * plus a 3-byte header per 128 KiB block (any compressed or RLE block that saves space makes a frame
 * smaller; a writer may cut raw blocks smaller than 128 KiB, which only adds headers). Only a hint:
 * `rawFrameContent` checks every block.
 */
export function mayBeAllRaw(header: FrameHeader, contentSize: number, compressedSize: number): boolean {
  const blocks = Math.max(1, Math.ceil(contentSize / MAX_BLOCK));
  return compressedSize >= header.headerSize + contentSize + 3 * blocks + (header.checksum ? 4 : 0);
}

/**
 * The content of a frame made of raw blocks, sliced straight out of its compressed bytes (given from
 * just after the frame header): no decompressor and no allocation, for serving large incompressible
 * blobs. Each input chunk is compacted in place (the 3-byte block headers inside it are closed up
 * with one memmove) and yielded as one view, so a 1 MiB read gives one chunk of ~1 MiB, not eight of
 * 128 KiB: every chunk costs a hash update, a queue hand-off and a socket write downstream, and
 * those per-chunk costs outweigh the move. The chunks are the caller's to rewrite: the input must be
 * buffers no one else reads (fresh reads, or read buffers handed over until the next read).
 * Returns the number of bytes yielded and whether the whole frame was raw; on the first block that
 * is not raw it stops, and the caller decompresses the frame the ordinary way from that offset.
 */
export async function* rawFrameContent(
  blocks: AsyncIterable<Buffer>,
): AsyncGenerator<Buffer, { complete: boolean; yielded: number }> {
  let yielded = 0;
  let header = Buffer.alloc(0);
  let dataLeft = 0;
  let last = false;
  for await (const chunk of blocks) {
    let at = 0;
    // Content found so far in this chunk, moved together at [start, end).
    let start = -1;
    let end = 0;
    function* flush(): Generator<Buffer> {
      if (start < 0 || end === start) return;
      yielded += end - start;
      yield chunk.subarray(start, end);
      start = -1;
    }
    while (at < chunk.length) {
      if (dataLeft > 0) {
        const take = Math.min(dataLeft, chunk.length - at);
        if (start < 0) start = end = at;
        else if (end !== at) chunk.copyWithin(end, at, at + take);
        end += take;
        dataLeft -= take;
        at += take;
        continue;
      }
      if (last) {
        yield* flush();
        return { complete: true, yielded }; // what follows is the checksum
      }
      const need = 3 - header.length;
      header = Buffer.concat([header, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (header.length < 3) continue;
      const h = header.readUIntLE(0, 3);
      header = Buffer.alloc(0);
      if (((h >> 1) & 3) !== 0) {
        yield* flush();
        return { complete: false, yielded };
      }
      last = (h & 1) === 1;
      dataLeft = h >>> 3;
    }
    yield* flush();
  }
  return { complete: last && dataLeft === 0, yielded };
}
