/**
 * Reading bundles: the manifest and signature from the front, every entry in one sequential pass,
 * or any single entry by random access (table of contents + seek table) without decompressing the
 * rest. A bundle recompressed by standard tools (one zstd frame, no seek table) still reads
 * sequentially; random access then falls back to a scan.
 */
import { formatError } from '../lib/errors.js';
import { ByteReader } from './byte-reader.js';
import { Entry } from './layout.js';
import { manifestDigest, parseManifest, type BundleManifest } from './manifest.js';
import { openBundleSource, READ_RING_BUFFERS, ReadRing, type ByteSource } from './source.js';
import { parseTar, type TarEntry } from './tar.js';
import type { Toc } from './archive-writer.js';
import {
  decodeSeekTable,
  decompress,
  mayBeAllRaw,
  parseFrameHeader,
  rawFrameContent,
  type SeekEntry,
} from './zstd.js';

export interface Frame {
  compressedStart: number;
  compressedSize: number;
  tarStart: number;
  tarSize: number;
}

export interface OpenedBundle {
  source: ByteSource;
  manifest: BundleManifest;
  manifestBytes: Buffer;
  manifestDigest: string;
  signature: Buffer | undefined;
  /** Frames from the seek table, or undefined for a bundle without one. */
  frames: Frame[] | undefined;
}

const truncated = (name: string) => () =>
  formatError(
    `${name}: ends before its end-of-archive marker: the bundle is truncated`,
    'copy the bundle again from the original media',
  );

export async function openBundle(path: string): Promise<OpenedBundle> {
  const source = await openBundleSource(path);
  if (source.size === 0) throw formatError(`${path}: file is empty`, 'copy the bundle again');
  const frames = await readFrames(source);
  const reader = new ByteReader(decompress(source.stream(), source.name));
  try {
    return { source, frames, ...(await readHead(reader, source.name)) };
  } finally {
    await reader.close();
  }
}

/** The manifest and signature entries at the start of the tar stream. */
async function readHead(reader: ByteReader, name: string): Promise<Omit<OpenedBundle, 'source' | 'frames'>> {
  const entries = parseTar(reader, name);
  const first = await entries.next();
  if (first.done || first.value.path !== Entry.manifest) {
    throw formatError(
      `${name}: first entry is ${first.done ? 'missing' : `"${first.value.path}"`}, expected ${Entry.manifest}: not a kubechat bundle`,
      'pass a bundle made by kubechat bundle create',
    );
  }
  const manifestBytes = await readSmall(reader, first.value, name);
  const manifest = parseManifest(manifestBytes, name);
  let signature: Buffer | undefined;
  const second = await entries.next();
  if (!second.done && second.value.path === Entry.signature)
    signature = await readSmall(reader, second.value, name);
  await entries.return(undefined);
  return { manifest, manifestBytes, manifestDigest: manifestDigest(manifestBytes), signature };
}

async function readSmall(reader: ByteReader, entry: TarEntry, name: string): Promise<Buffer> {
  if (entry.size > 64 * 1024 * 1024)
    throw formatError(`${name}: ${entry.path} is implausibly large (${entry.size} bytes)`);
  const data = await reader.readExact(entry.size, truncated(name));
  await reader.skip((512 - (entry.size % 512)) % 512, truncated(name));
  return Buffer.from(data);
}

async function readFrames(source: ByteSource): Promise<Frame[] | undefined> {
  const tailSize = Math.min(source.size, 64);
  const tail = await source.read(source.size - tailSize, tailSize);
  const table = await decodeSeekTable(tail, source.size, (s, l) => source.read(s, l));
  return table ? toFrames(table) : undefined;
}

function toFrames(table: SeekEntry[]): Frame[] {
  const frames: Frame[] = [];
  let c = 0;
  let t = 0;
  for (const e of table) {
    frames.push({
      compressedStart: c,
      compressedSize: e.compressedSize,
      tarStart: t,
      tarSize: e.decompressedSize,
    });
    c += e.compressedSize;
    t += e.decompressedSize;
  }
  return frames;
}

export interface StreamedEntry extends TarEntry {
  /** The entry's data; must be consumed (or left to be skipped) before the next entry is requested. */
  data: AsyncIterable<Buffer>;
}

/**
 * Every entry of the bundle in archive order, in one pass over the file. With `transient`, a data
 * chunk is only valid until the next one is requested (for consumers that hash and drop it).
 */
export async function* streamEntries(
  bundle: OpenedBundle,
  options: { transient?: boolean; seek?: boolean } = {},
): AsyncGenerator<StreamedEntry> {
  const name = bundle.source.name;
  const frames = options.seek ? seekingFrames(bundle) : undefined;
  const reader = frames
    ? new ByteReader(frames.content, 0, (n) => frames.seekTo(n))
    : new ByteReader(decompress(bundle.source.stream(), name, { reuse: options.transient }));
  try {
    for await (const entry of parseTar(reader, name)) {
      yield { ...entry, data: reader.chunks(entry.size, truncated(name)) };
      // Whatever the caller left unread of the entry (all, some or none) is skipped here, with its
      // padding in the same skip: a skip that stops in the padding, at the end of a large entry's
      // last frame, would read that whole frame (up to 32 MiB) to get there.
      const next = entry.dataOffset + entry.size + ((512 - (entry.size % 512)) % 512);
      await reader.skip(next - reader.position, truncated(name));
    }
    // Only zero blocks may follow the end-of-archive marker (GNU tar pads to its record size).
    for await (const chunk of reader.rest()) {
      if (chunk.some((b) => b !== 0)) throw formatError(`${name}: data after the end-of-archive marker`);
    }
  } finally {
    await reader.close(); // a caller that stops early (found its entry, or failed) closes the file
  }
}

/**
 * The whole tar stream frame by frame (seek table), for `streamEntries(…, { seek: true })`: frames of
 * raw blocks are sliced out of the file without the decompressor, and a skip that reaches past the end
 * of the current frame jumps there without reading (or decompressing) the frames in between. Part
 * files are not hashed whole on this path (what is read is still checked entry by entry by the
 * caller); `verify` and everything that needs the parts' digests read with the plain stream.
 * Without a seek table it falls back to the plain stream.
 */
function seekingFrames(
  bundle: OpenedBundle,
): { content: AsyncIterable<Buffer>; seekTo: (position: number) => void } | undefined {
  const frames = bundle.frames;
  if (!frames) return undefined;
  let target = 0;
  async function* content(): AsyncGenerator<Buffer> {
    for (const frame of frames!) {
      const end = frame.tarStart + frame.tarSize;
      if (frame.tarSize === 0 || end <= target) continue; // padding, or skipped: never read
      let pos = frame.tarStart;
      for await (const chunk of frameContent(bundle, frame, undefined)) {
        let c = chunk;
        if (pos < target) {
          const drop = Math.min(c.length, target - pos);
          c = c.subarray(drop);
          pos += drop;
        }
        pos += c.length;
        if (c.length > 0) yield c;
        if (target >= end) break; // the reader skipped past this frame: stop reading it
      }
    }
  }
  return { content: content(), seekTo: (p) => (target = Math.max(target, p)) };
}

/** The tar stream from the start of frame `first` to the end of frame `last`, decompressing only those. */
function frameReader(bundle: OpenedBundle, first: number, last: number, ringBuffers?: number): ByteReader {
  const frames = bundle.frames!;
  async function* content(): AsyncGenerator<Buffer> {
    // With ringBuffers, one ring of reused read buffers for all the frames of the range.
    const ring = ringBuffers ? new ReadRing(ringBuffers) : undefined;
    for (let i = first; i <= last; i++) yield* frameContent(bundle, frames[i]!, ring);
  }
  return new ByteReader(content(), frames[first]!.tarStart);
}

/** Frames at least this large are checked for the raw-block fast path (one small read each). */
const RAW_FAST_PATH_FROM = 1024 * 1024;

/**
 * One frame's content. A frame stored as raw blocks (incompressible layers and weights: most of a
 * bundle's bytes) is sliced out of the file as it is read, without the decompressor; anything else,
 * or a frame that turns out not to be all raw, goes through zstd. With `ring`, the file is read into
 * its reused buffers (see ByteSource.stream).
 */
async function* frameContent(
  bundle: OpenedBundle,
  frame: Frame,
  ring: ReadRing | undefined,
): AsyncGenerator<Buffer> {
  const { source } = bundle;
  const end = frame.compressedStart + frame.compressedSize;
  let skip = 0;
  if (frame.tarSize >= RAW_FAST_PATH_FROM) {
    const head = parseFrameHeader(
      await source.read(frame.compressedStart, Math.min(18, frame.compressedSize)),
    );
    if (head?.contentSize === frame.tarSize && mayBeAllRaw(head, frame.tarSize, frame.compressedSize)) {
      const r = yield* rawFrameContent(
        source.stream(frame.compressedStart + head.headerSize, end, { reuse: ring }),
      );
      if (r.complete && r.yielded === frame.tarSize) return;
      skip = r.yielded;
    }
  }
  const reader = new ByteReader(
    decompress(source.stream(frame.compressedStart, end, { reuse: ring }), source.name),
  );
  await reader.skip(skip, truncated(source.name));
  yield* reader.rest();
}

/** Reads tar bytes [start, end) using the seek table: only the frames that hold them are decompressed. */
async function* readTarRange(
  bundle: OpenedBundle,
  start: number,
  end: number,
  ringBuffers?: number,
): AsyncGenerator<Buffer> {
  const frames = bundle.frames;
  if (!frames) throw new Error('internal: readTarRange without a seek table');
  const first = frames.findIndex(
    (f) => f.tarSize > 0 && f.tarStart <= start && start < f.tarStart + f.tarSize,
  );
  let last = first;
  while (last >= 0 && last < frames.length - 1 && frames[last]!.tarStart + frames[last]!.tarSize < end)
    last++;
  if (first < 0) throw formatError(`${bundle.source.name}: tar offset ${start} is outside every frame`);
  const reader = frameReader(bundle, first, last, ringBuffers);
  try {
    await reader.skip(start - frames[first]!.tarStart, truncated(bundle.source.name));
    yield* reader.chunks(end - start, truncated(bundle.source.name));
  } finally {
    await reader.close(); // the last frame may go on past `end` (tar padding, the next entry)
  }
}

export async function readToc(bundle: OpenedBundle): Promise<Toc | undefined> {
  const frames = bundle.frames;
  if (!frames) return undefined;
  const last = frames.findLastIndex((f) => f.tarSize > 0);
  if (last < 0) return undefined;
  const reader = frameReader(bundle, last, last);
  let bytes: Buffer;
  try {
    const entry = await parseTar(reader, bundle.source.name).next();
    if (entry.done || entry.value.path !== Entry.toc) return undefined;
    bytes = await readSmall(reader, entry.value, bundle.source.name);
  } finally {
    await reader.close();
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as Toc;
  } catch {
    throw formatError(
      `${bundle.source.name}: ${Entry.toc} is not valid JSON`,
      'the bundle is corrupt: copy it again',
    );
  }
}

/**
 * Random access to entries by path. With a table of contents only the frames holding the entry are
 * decompressed; without one (recompressed bundle) each read scans from the start.
 */
export class EntryIndex {
  private constructor(
    private readonly bundle: OpenedBundle,
    private readonly toc: Map<string, { data: number; size: number }> | undefined,
  ) {}

  static async open(bundle: OpenedBundle): Promise<EntryIndex> {
    const toc = await readToc(bundle);
    return new EntryIndex(bundle, toc ? new Map(toc.entries.map((e) => [e.path, e])) : undefined);
  }

  get seekable(): boolean {
    return this.toc !== undefined;
  }

  has(path: string): boolean | undefined {
    return this.toc ? this.toc.has(path) : undefined;
  }

  /** The entry's size from the table of contents (undefined: no such entry, or no table). */
  size(path: string): number | undefined {
    return this.toc?.get(path)?.size;
  }

  /**
   * Bytes [start, end) of an entry, decompressing only the frames that hold them (at most one
   * 32 MiB frame is decompressed to reach `start`). Needs the table of contents. With `reuse`, chunks
   * may be views of reused buffers: see ByteSource.stream. `ringBuffers` sets how many (1 MiB each):
   * the default suits a consumer that holds chunks by the install queues' margin
   * (targets/channel.ts); one that lends each chunk only until its write is done needs fewer.
   */
  async *readRange(
    path: string,
    start: number,
    end: number,
    options: { reuse?: boolean; ringBuffers?: number } = {},
  ): AsyncGenerator<Buffer> {
    const e = this.toc?.get(path);
    if (!e) throw formatError(`${this.bundle.source.name}: has no entry ${path}`);
    if (start < 0 || end > e.size || start > end)
      throw new Error(`internal: range ${start}-${end} outside ${path} (${e.size} bytes)`);
    if (start === end) return;
    const ring = options.reuse ? (options.ringBuffers ?? READ_RING_BUFFERS) : undefined;
    yield* readTarRange(this.bundle, e.data + start, e.data + end, ring);
  }

  async *read(path: string): AsyncGenerator<Buffer> {
    if (this.toc) {
      const e = this.toc.get(path);
      if (!e) throw formatError(`${this.bundle.source.name}: has no entry ${path}`);
      yield* readTarRange(this.bundle, e.data, e.data + e.size);
      return;
    }
    for await (const entry of streamEntries(this.bundle)) {
      if (entry.path === path) {
        yield* entry.data;
        return;
      }
    }
    throw formatError(`${this.bundle.source.name}: has no entry ${path}`);
  }
}
