/**
 * Just enough POSIX tar (ustar + pax extended headers) for bundles: headers for regular files, and a
 * strict streaming parser. Header encoding/decoding is node-tar's; framing is ours so the writer can
 * start a zstd frame at every entry and the reader can stream 20 GiB entries with bounded memory.
 */
import { Header, Pax, type HeaderData } from 'tar';
import { formatError } from '../lib/errors.js';
import { ByteReader } from './byte-reader.js';

export const BLOCK = 512;
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

export const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** Bytes a regular-file entry occupies in the tar: header(s), data and padding. */
export function entryTarSize(path: string, size: number): number {
  return encodeHeader(path, size, new Date(0)).length + size + padding(size);
}

/** Header block(s) for a regular file; a pax header precedes it when the path or size do not fit ustar. */
export function encodeHeader(path: string, size: number, mtime: Date, mode = 0o644): Buffer {
  const data = {
    path,
    size,
    mode,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime,
    type: 'File' as const,
  };
  const header = new Header(data);
  const block = Buffer.alloc(BLOCK);
  const needPax = header.encode(block, 0);
  if (!needPax) return block;
  // No mtime record: the ustar header holds it, and the header's size must not depend on it (entryTarSize).
  const pax = new Pax({ path, size }).encode();
  const fallback = new Header({ ...data, path: path.slice(-99), size: size > 0o77777777777 ? 0 : size });
  const fallbackBlock = Buffer.alloc(BLOCK);
  fallback.encode(fallbackBlock, 0);
  return Buffer.concat([pax, fallbackBlock]);
}

export interface TarEntry {
  path: string;
  size: number;
  /** Offset of the entry's first header block in the tar stream. */
  headerOffset: number;
  /** Offset of the entry's data in the tar stream. */
  dataOffset: number;
}

/**
 * Parses a tar stream. For each regular file it yields the entry and then expects the caller to
 * consume exactly `size` bytes with `reader.chunks(entry.size)` (or skip them) before the next.
 * Ends at the end-of-archive marker; `sawEnd` tells whether it was present.
 */
export async function* parseTar(reader: ByteReader, what: string): AsyncGenerator<TarEntry> {
  let pax: HeaderData | undefined;
  // Where the entry's pax header began: TarEntry.headerOffset is the first header block of the entry,
  // which is also what the writer's table of contents records.
  let paxOffset: number | undefined;
  for (;;) {
    const headerOffset = reader.position;
    const block = await reader.readExact(BLOCK, () =>
      formatError(
        `${what}: tar stream ends at byte ${headerOffset} without an end-of-archive marker: the bundle is truncated`,
      ),
    );
    if (block.every((b) => b === 0)) {
      await reader.readExact(BLOCK, () => formatError(`${what}: incomplete end-of-archive marker`));
      return;
    }
    const header = new Header(block, 0, pax);
    if (!header.cksumValid) throw formatError(`${what}: corrupt tar header at byte ${headerOffset}`);
    const size = header.size ?? 0;
    const type = header.type;
    if (type === 'ExtendedHeader' || type === 'GlobalExtendedHeader') {
      if (size > 1024 * 1024) throw formatError(`${what}: oversized pax header at byte ${headerOffset}`);
      const body = await reader.readExact(size + padding(size), () =>
        formatError(`${what}: truncated pax header`),
      );
      const parsed = Pax.parse(body.subarray(0, size).toString('utf8'), pax, type === 'GlobalExtendedHeader');
      pax = type === 'ExtendedHeader' ? { ...(pax ?? {}), ...parsed } : pax;
      if (type === 'ExtendedHeader') paxOffset ??= headerOffset;
      continue;
    }
    const entryOffset = paxOffset ?? headerOffset;
    pax = undefined;
    paxOffset = undefined;
    if (type !== 'File' && type !== 'OldFile' && type !== 'ContiguousFile') {
      throw formatError(
        `${what}: unexpected tar entry "${header.path}" of type ${type}`,
        'bundles hold regular files only',
      );
    }
    const path = header.path ?? '';
    if (path === '' || path.startsWith('/') || path.split('/').includes('..')) {
      throw formatError(`${what}: unsafe tar entry path "${path}"`);
    }
    yield { path, size, headerOffset: entryOffset, dataOffset: reader.position };
  }
}
