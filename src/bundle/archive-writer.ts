/**
 * Writes the bundle archive in one pass over its content.
 *
 * The manifest must be the first entry, but it holds the digests of content that is only hashed
 * while it is compressed. So the writer reserves room at the start of the file for the header
 * entries (whose exact tar size is known up front: digests have a fixed length), writes the body
 * after that room, then compresses the header into it and fills what is left with a zstd skippable
 * frame. Standard `zstd -d` skips that frame; the seek table lists it with 0 decompressed bytes.
 */
import { createHash } from 'node:crypto';
import { BufferRing } from '../lib/buffer-ring.js';
import { lease } from '../lib/leases.js';
import { canonicalJson } from '../lib/json.js';
import { sourceError } from '../lib/errors.js';
import { Entry } from './layout.js';
import type { BundleSink } from './sink.js';
import { END_OF_ARCHIVE, encodeHeader, entryTarSize, padding } from './tar.js';
import {
  FrameCompressor,
  ownedByCompressor,
  MAX_FRAME_CONTENT,
  SINGLE_THREADED_FROM,
  SKIPPABLE_HEADER_SIZE,
  compressFrame,
  encodeSeekTable,
  rawFrame,
  frameBound,
  paddingFrame,
  type CompressOptions,
  type SeekEntry,
} from './zstd.js';

export interface TocEntry {
  path: string;
  /** Offset of the entry's header in the tar stream. */
  header: number;
  /** Offset of the entry's data in the tar stream. */
  data: number;
  size: number;
}

export interface Toc {
  schemaVersion: 1;
  entries: TocEntry[];
}

export interface AddEntryOptions {
  /** Progress: called with the byte count of each chunk written. */
  onBytes?: (n: number) => void;
  /** The path holds a placeholder digest; `rename` gives the real one once the content is hashed. */
  provisional?: boolean;
  /** File mode in the tar header (files/ entries keep their executable bit). */
  mode?: number;
}

export const DEFAULT_MODE = 0o644;

export interface HeaderEntry {
  path: string;
  data: Buffer;
}

/**
 * The mtime of every entry: the manifest's `created`, in whole seconds (what tar stores). Derived
 * from the manifest, so a merge writes the same headers as the create it reproduces.
 */
export const tarMtime = (created: string): Date => new Date(Math.floor(Date.parse(created) / 1000) * 1000);

const MAX_IN_FLIGHT = 8;
const POOL_BUFFER = 4 * 1024 * 1024;
/** A multiple of the 128 KiB block: raw frames are cut into the same blocks as from whole chunks. */
const PROGRESS_STEP = 256 * 1024;

const frameSizes = (total: number): number[] => {
  const sizes: number[] = [];
  for (let left = total; left > 0; left -= MAX_FRAME_CONTENT) sizes.push(Math.min(left, MAX_FRAME_CONTENT));
  return sizes;
};

export class ArchiveWriter {
  readonly #compressor: FrameCompressor;
  readonly #headerPlan: Array<{ path: string; size: number }>;
  readonly #reserved: number;
  readonly #headerTarSize: number;
  readonly #frames: SeekEntry[] = [];
  readonly #toc: TocEntry[] = [];
  /** Entries written under a provisional name: where their raw header frame sits in the file. */
  readonly #provisional = new Map<string, { out: number; toc: TocEntry; mode: number }>();
  #out: number;
  #tar: number;
  #entryLeft = 0;
  #frameStart = 0;
  #frameTarStart = 0;

  constructor(
    private readonly sink: BundleSink,
    private readonly options: CompressOptions,
    private readonly mtime: Date,
    headerPlan: Array<{ path: string; size: number }>,
  ) {
    this.#headerPlan = headerPlan;
    let tar = 0;
    let reserved = SKIPPABLE_HEADER_SIZE;
    for (const e of headerPlan) {
      const size = entryTarSize(e.path, e.size);
      tar += size;
      reserved += frameSizes(size).reduce((n, s) => n + frameBound(s), 0);
    }
    this.#headerTarSize = tar;
    this.#reserved = reserved;
    this.#out = reserved;
    this.#tar = tar;
    this.#compressor = new FrameCompressor(options, (parts, transient) =>
      transient ? this.#emitCopy(parts) : this.#emitInPlace(parts),
    );
  }

  /**
   * Positional writes overlap with reading, hashing and compressing the next chunks: up to
   * MAX_IN_FLIGHT writes are outstanding (bounded memory), and the first failure is rethrown.
   */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #ring = new BufferRing(MAX_IN_FLIGHT + 1, POOL_BUFFER);
  #failure: unknown;

  /**
   * Writes raw-stored content straight from the caller's buffers (no copy): the write leases them
   * (leases.ts), so a reader reuses a buffer only once the write is done. With a buffer that cannot
   * be leased, it waits for the write before returning instead.
   */
  async #emitInPlace(parts: Buffer[]): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const total = parts.reduce((n, p) => n + p.length, 0);
    const at = this.#advance(total);
    const settled = this.#track(this.sink.writev(parts, at));
    let unsafe = false;
    for (const part of parts) if (!ownedByCompressor(part) && !lease(part, settled)) unsafe = true;
    // A caller's buffer that cannot be leased may be reused once we return: wait for the write.
    if (unsafe) await settled;
    await this.#throttle();
  }

  /**
   * Copies transient compressor output into the ring's buffers and writes them at the end of the
   * file; each write leases its buffer until it is done.
   */
  async #emitCopy(parts: Buffer[]): Promise<void> {
    let buf = await this.#ring.next();
    let fill = 0;
    for (const part of parts) {
      for (let at = 0; at < part.length;) {
        if (fill === buf.length) {
          await this.#write(buf.subarray(0, fill), this.#advance(fill));
          buf = await this.#ring.next();
          fill = 0;
        }
        const n = part.copy(buf, fill, at);
        fill += n;
        at += n;
      }
    }
    if (fill > 0) await this.#write(buf.subarray(0, fill), this.#advance(fill));
  }

  #advance(n: number): number {
    const at = this.#out;
    this.#out += n;
    return at;
  }

  async #write(data: Buffer, at: number): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const settled = this.#track(this.sink.write(data, at));
    lease(data, settled);
    await this.#throttle();
  }

  /** Adds a write to those in flight; the returned promise settles (never rejects) when it is done. */
  #track(write: Promise<void>): Promise<void> {
    const p: Promise<void> = write.then(
      () => void this.#inFlight.delete(p),
      (err: unknown) => {
        this.#inFlight.delete(p);
        this.#failure ??= err;
      },
    );
    this.#inFlight.add(p);
    return p;
  }

  async #throttle(): Promise<void> {
    while (this.#inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Waits for every write in flight, ignoring their errors (before removing a failed bundle). */
  async settle(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  async #drain(): Promise<void> {
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Tar offset where the body starts (the header region's exact size). */
  get headerTarSize(): number {
    return this.#headerTarSize;
  }

  /**
   * Appends a body entry, streaming `source` (which must yield exactly `size` bytes) through the
   * compressor. Returns the sha256 hex of the data.
   */
  async addEntry(
    path: string,
    size: number,
    source: AsyncIterable<Buffer> & { digest?: () => Promise<string> },
    options: AddEntryOptions = {},
  ) {
    const { onBytes, provisional = false, mode = DEFAULT_MODE } = options;
    const header = encodeHeader(path, size, this.mtime, mode);
    const toc = { path, header: this.#tar, data: this.#tar + header.length, size };
    this.#toc.push(toc);
    this.#entryLeft = header.length + size + padding(size);
    if (provisional) {
      // The header goes in a frame of its own, stored raw, so `rename` can overwrite it in place.
      const frame = rawFrame(header);
      this.#provisional.set(path, { out: this.#out, toc, mode });
      this.#frames.push({ compressedSize: frame.length, decompressedSize: header.length });
      this.#out += frame.length;
      await this.#write(frame, this.#out - frame.length);
      this.#tar += header.length;
      this.#entryLeft -= header.length;
    } else {
      await this.#feed(header);
    }
    // A source that hashes itself (on another thread) saves doing it here.
    const hash = source.digest ? undefined : createHash('sha256');
    let seen = 0;
    for await (const chunk of source) {
      seen += chunk.length;
      if (seen > size) break;
      hash?.update(chunk);
      // At the slow levels a chunk takes seconds to compress: progress is counted in smaller steps.
      const step = this.options.level >= SINGLE_THREADED_FROM ? PROGRESS_STEP : chunk.length || 1;
      for (let at = 0; at < chunk.length; at += step) {
        const piece = chunk.subarray(at, at + step);
        await this.#feed(piece);
        onBytes?.(piece.length);
      }
    }
    if (seen !== size) {
      throw sourceError(
        `${path}: source changed while it was being written (expected ${size} bytes, read ${seen})`,
        'do not modify the inputs while a bundle is created, then run again',
      );
    }
    await this.#feed(Buffer.alloc(padding(size)));
    return hash ? hash.digest('hex') : source.digest!();
  }

  /** Gives an entry added with `provisional` its real path (same length: a digest for a digest). */
  async rename(path: string, newPath: string): Promise<void> {
    const p = this.#provisional.get(path);
    if (!p) throw new Error(`internal: ${path} was not written provisionally`);
    const header = encodeHeader(newPath, p.toc.size, this.mtime, p.mode);
    if (header.length !== p.toc.data - p.toc.header) throw new Error('internal: renamed header changed size');
    await this.#drain(); // the provisional header must land before it is overwritten
    await this.sink.write(rawFrame(header), p.out);
    p.toc.path = newPath;
    this.#provisional.delete(path);
  }

  async #feed(data: Buffer): Promise<void> {
    let rest = data;
    while (rest.length > 0) {
      if (this.#compressor.remaining === 0) {
        this.#frameStart = this.#out;
        this.#frameTarStart = this.#tar;
        this.#compressor.beginFrame(Math.min(this.#entryLeft, MAX_FRAME_CONTENT));
      }
      const n = Math.min(rest.length, this.#compressor.remaining);
      await this.#compressor.write(rest.subarray(0, n));
      this.#entryLeft -= n;
      this.#tar += n;
      rest = rest.subarray(n);
      if (this.#compressor.remaining === 0) await this.#endFrame();
    }
  }

  async #endFrame(): Promise<void> {
    await this.#compressor.endFrame();
    this.#frames.push({
      compressedSize: this.#out - this.#frameStart,
      decompressedSize: this.#tar - this.#frameTarStart,
    });
  }

  /**
   * Writes the table of contents and end-of-archive marker, then the header entries into the
   * reserved room, then the seek table. `header` must match the sizes promised to the constructor.
   */
  async finish(header: HeaderEntry[]): Promise<{ size: number; toc: Toc }> {
    // Blob paths may differ from the plan (placeholder digests), but never their sizes.
    if (
      header.length !== this.#headerPlan.length ||
      header.some((h, i) => h.data.length !== this.#headerPlan[i]!.size)
    ) {
      throw new Error('internal: bundle header differs from its reservation');
    }
    let tar = 0;
    const headerToc: TocEntry[] = [];
    const headerFrames: Buffer[] = [];
    const headerSeek: SeekEntry[] = [];
    for (const h of header) {
      const head = encodeHeader(h.path, h.data.length, this.mtime);
      headerToc.push({ path: h.path, header: tar, data: tar + head.length, size: h.data.length });
      const block = Buffer.concat([head, h.data, Buffer.alloc(padding(h.data.length))]);
      tar += block.length;
      for (let at = 0; at < block.length; at += MAX_FRAME_CONTENT) {
        const part = block.subarray(at, at + MAX_FRAME_CONTENT);
        const frame = compressFrame(part, this.options);
        headerFrames.push(frame);
        headerSeek.push({ compressedSize: frame.length, decompressedSize: part.length });
      }
    }
    const toc: Toc = { schemaVersion: 1, entries: [...headerToc, ...this.#toc] };
    const tocData = Buffer.from(canonicalJson(toc));
    const tocHead = encodeHeader(Entry.toc, tocData.length, this.mtime);
    const tail = Buffer.concat([tocHead, tocData, Buffer.alloc(padding(tocData.length)), END_OF_ARCHIVE]);
    this.#entryLeft = tail.length;
    await this.#feed(tail);

    await this.#drain();
    const headerBytes = Buffer.concat(headerFrames);
    const pad = this.#reserved - headerBytes.length;
    await this.sink.write(Buffer.concat([headerBytes, paddingFrame(pad)]), 0);
    const seek = encodeSeekTable([
      ...headerSeek,
      { compressedSize: pad, decompressedSize: 0 },
      ...this.#frames,
    ]);
    await this.sink.write(seek, this.#out);
    return { size: this.#out + seek.length, toc };
  }
}
