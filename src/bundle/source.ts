/**
 * Read access to a bundle on disk: one file, or split parts read in place (never rejoined, the
 * media may be read-only). Streams verify each part's sha256 against the parts file as they go.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeFsError, formatError, integrityError } from '../lib/errors.js';
import { BufferRing } from '../lib/buffer-ring.js';
import { PARTS_SUFFIX, partsFileName } from './layout.js';
import { parsePartsFile, type PartsFile } from './split.js';

export interface ByteSource {
  /** What to call it in messages. */
  readonly name: string;
  readonly size: number;
  readonly parts: PartsFile | undefined;
  /**
   * Bytes [start, end) as a stream. A full stream from 0 checks split parts' digests. With `reuse`,
   * chunks are views of that ring's leasable buffers (lib/leases.ts): a consumer that hands a chunk
   * to an asynchronous write must `lease` it; any other must be done with a chunk before it asks for
   * the one after next. Streaming gigabytes then allocates nothing (no GC pressure).
   */
  stream(start?: number, end?: number, options?: { reuse?: ReadRing }): AsyncIterable<Buffer>;
  read(start: number, length: number): Promise<Buffer>;
}

/**
 * Buffers of a reusing stream by default: enough to keep a socket busy while the next read is in
 * flight. An install queue holds up to three (targets/channel.ts IN_USE_BEHIND), so six leave the
 * reader three ahead.
 */
export const READ_RING_BUFFERS = 6;
const RING_BUFFER = 1024 * 1024;

/**
 * The leasable buffers a reusing stream reads into, taken in turn. One ring can serve several
 * streams one after another (the frames of one blob): a long blob then allocates its buffers once, not
 * once per frame.
 */
export class ReadRing extends BufferRing {
  constructor(buffers = READ_RING_BUFFERS) {
    super(buffers, RING_BUFFER);
  }
}

interface Segment {
  path: string;
  start: number;
  size: number;
  sha256?: string;
  label: string;
}

/** Opens a bundle file, its first part (`.001`) or its parts file (`.parts.json`). */
export async function openBundleSource(path: string): Promise<ByteSource> {
  let partsPath: string | undefined;
  if (path.endsWith(PARTS_SUFFIX)) partsPath = path;
  else if (/\.001$/.test(path)) partsPath = partsFileName(path.slice(0, -4));
  if (partsPath === undefined) {
    const st = await statOrThrow(path);
    return new SegmentedSource(
      basename(path),
      [{ path, start: 0, size: st.size, label: basename(path) }],
      undefined,
    );
  }
  let text: string;
  try {
    text = await readFile(partsPath, 'utf8');
  } catch (err) {
    throw (
      describeFsError(err, partsPath, 'read') ??
      formatError(`${partsPath}: cannot read the parts file`, undefined, err)
    );
  }
  const parts = parsePartsFile(text, partsPath);
  const dir = dirname(partsPath);
  const segments: Segment[] = [];
  let start = 0;
  for (const p of parts.parts) {
    const file = join(dir, p.name);
    const st = await stat(file).catch((err: unknown) => {
      throw formatError(
        `${file}: part ${segments.length + 1} of ${parts.parts.length} is missing (${(err as Error).message})`,
        `copy every part (${parts.parts.map((x) => x.name).join(', ')}) into ${dir}`,
      );
    });
    if (st.size !== p.size) {
      throw integrityError(`${file}: part has ${st.size} bytes, expected ${p.size}`, 'copy this part again');
    }
    segments.push({ path: file, start, size: p.size, sha256: p.sha256, label: p.name });
    start += p.size;
  }
  return new SegmentedSource(parts.bundle, segments, parts);
}

async function statOrThrow(path: string) {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw formatError(`${path}: not a file`, 'pass the .kcb.tar.zst bundle file');
    return st;
  } catch (err) {
    if (err instanceof Error && err.name === 'KubechatError') throw err;
    throw describeFsError(err, path, 'read') ?? formatError(`${path}: cannot open`, undefined, err);
  }
}

class SegmentedSource implements ByteSource {
  readonly size: number;

  constructor(
    readonly name: string,
    private readonly segments: Segment[],
    readonly parts: PartsFile | undefined,
  ) {
    this.size = segments.reduce((n, s) => n + s.size, 0);
  }

  async *stream(start = 0, end = this.size, options: { reuse?: ReadRing } = {}): AsyncGenerator<Buffer> {
    if (options.reuse) {
      yield* this.#reusingStream(start, end, options.reuse);
      return;
    }
    for (const seg of this.segments) {
      const segEnd = seg.start + seg.size;
      if (segEnd <= start || seg.start >= end) continue;
      const from = Math.max(start, seg.start) - seg.start;
      const to = Math.min(end, segEnd) - seg.start;
      const whole = from === 0 && to === seg.size && seg.sha256 !== undefined;
      const hash = whole ? createHash('sha256') : undefined;
      const rs = createReadStream(seg.path, { start: from, end: to - 1, highWaterMark: 1024 * 1024 });
      try {
        for await (const chunk of rs as AsyncIterable<Buffer>) {
          hash?.update(chunk);
          yield chunk;
        }
      } catch (err) {
        throw (
          describeFsError(err, seg.path, 'read') ?? formatError(`${seg.path}: read failed`, undefined, err)
        );
      } finally {
        rs.destroy();
      }
      if (hash && hash.digest('hex') !== seg.sha256) {
        throw integrityError(
          `${seg.path}: part ${seg.label} does not match the parts file (sha256)`,
          'copy this part again',
        );
      }
    }
  }

  async *#reusingStream(start: number, end: number, ring: ReadRing): AsyncGenerator<Buffer> {
    for (const seg of this.segments) {
      const segEnd = seg.start + seg.size;
      if (segEnd <= start || seg.start >= end) continue;
      let pos = Math.max(start, seg.start) - seg.start;
      const to = Math.min(end, segEnd) - seg.start;
      let fh;
      try {
        fh = await open(seg.path, 'r');
      } catch (err) {
        throw (
          describeFsError(err, seg.path, 'read') ?? formatError(`${seg.path}: cannot open`, undefined, err)
        );
      }
      try {
        while (pos < to) {
          const buffer = await ring.next();
          const want = Math.min(RING_BUFFER, to - pos);
          const { bytesRead } = await fh.read(buffer, 0, want, pos);
          if (bytesRead === 0) throw formatError(`${seg.path}: ends early: the file changed while reading`);
          pos += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    }
  }

  async read(start: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let filled = 0;
    for (const seg of this.segments) {
      const segEnd = seg.start + seg.size;
      const pos = start + filled;
      if (filled >= length) break;
      if (segEnd <= pos || seg.start > pos) continue;
      const want = Math.min(length - filled, segEnd - pos);
      const fh = await open(seg.path, 'r');
      try {
        const { bytesRead } = await fh.read(out, filled, want, pos - seg.start);
        if (bytesRead !== want) throw formatError(`${seg.path}: short read: the file changed while reading`);
      } finally {
        await fh.close();
      }
      filled += want;
    }
    if (filled !== length)
      throw formatError(`${this.name}: read past the end (${start}+${length} > ${this.size})`);
    return out;
  }
}
