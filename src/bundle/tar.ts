/**
 * Just enough POSIX tar (ustar + pax extended headers) for bundles: headers for regular files, and a
 * strict streaming parser. Header encoding/decoding is node-tar's; framing is ours so the writer can
 * start a zstd frame at every entry and the reader can stream 20 GiB entries with bounded memory.
 */
// The header and pax modules alone: tar's index also loads its packer, unpacker and zlib streams.
import { Header, type HeaderData } from 'tar/header';
import { Pax } from 'tar/pax';
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

/** Types refused with a word on why: each could write outside the target or is not plain data. */
const REFUSED_TYPES: Record<string, string> = {
  SymbolicLink: 'a symlink',
  Link: 'a hard link',
  CharacterDevice: 'a device file',
  BlockDevice: 'a device file',
  FIFO: 'a FIFO',
  Directory: 'a directory',
  NextFileHasLongPath: 'a GNU long-name header (bundles use pax headers)',
  NextFileHasLongLinkpath: 'a GNU long-link header',
  OldGnuLongPath: 'a GNU long-name header (bundles use pax headers)',
  GlobalExtendedHeader: 'a pax global header (tar implementations disagree on what it applies to)',
  SparseFile: 'a GNU sparse file',
};

/**
 * pax records kubechat honours. Anything else (GNU.sparse.*, linkpath, SCHILY.xattr.*, hdrcharset)
 * could make another tar reader see a different file than kubechat verified, so it is refused.
 */
const PAX_KEYS = new Set(['path', 'size', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname']);

/** Keys of the pax records in `body` ("<len> <key>=<value>\n" each), or undefined when malformed. */
function paxKeys(body: Buffer): string[] | undefined {
  const keys: string[] = [];
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) break; // zero padding after the last record
    const space = body.indexOf(0x20, at);
    const len = Number(body.subarray(at, space).toString('latin1'));
    if (space < 0 || !Number.isSafeInteger(len) || len <= space - at + 1 || at + len > body.length)
      return undefined;
    const record = body.subarray(space + 1, at + len);
    const eq = record.indexOf(0x3d);
    if (eq <= 0 || record[record.length - 1] !== 0x0a) return undefined;
    keys.push(record.subarray(0, eq).toString('utf8'));
    at += len;
  }
  return keys;
}

/**
 * Why `path` may not name a bundle entry, or undefined when it may: entries are relative paths in
 * canonical form (no "", "." or ".." component, no leading or trailing "/", no backslash or
 * control character), so a path names exactly one file under the directory it is written to and
 * two spellings of the same file cannot both pass.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path === '') return 'it is empty';
  if (path.startsWith('/')) return 'it is absolute';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\\\x00-\x1f\x7f]/.test(path)) return 'it holds a backslash or a control character';
  const parts = path.split('/');
  if (parts.includes('..')) return 'it climbs out with ".."';
  if (parts.some((p) => p === '' || p === '.')) return 'it is not in canonical form (empty or "." component)';
  return undefined;
}

/**
 * Parses a tar stream. For each regular file it yields the entry and then expects the caller to
 * consume exactly `size` bytes with `reader.chunks(entry.size)` (or skip them) before the next.
 * Ends at the end-of-archive marker. Refuses (format error, exit 5) anything but regular files with
 * safe, unique paths: symlinks, hard links, devices, FIFOs, directories, GNU long-name headers, pax
 * records it does not honour, unsafe or duplicate paths. An entry is refused from its header, before
 * its data is handed to anyone.
 */
export async function* parseTar(reader: ByteReader, what: string): AsyncGenerator<TarEntry> {
  let pax: HeaderData | undefined;
  // Where the entry's pax header began: TarEntry.headerOffset is the first header block of the entry,
  // which is also what the writer's table of contents records.
  let paxOffset: number | undefined;
  const seen = new Set<string>();
  const fix =
    'this is not a bundle made by kubechat: do not install it; get the bundle again from its source';
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
    const type = header.type ?? 'Unsupported';
    if (type === 'ExtendedHeader') {
      if (size > 1024 * 1024) throw formatError(`${what}: oversized pax header at byte ${headerOffset}`);
      const body = await reader.readExact(size + padding(size), () =>
        formatError(`${what}: truncated pax header`),
      );
      const keys = paxKeys(body.subarray(0, size));
      if (!keys) throw formatError(`${what}: malformed pax header at byte ${headerOffset}`, fix);
      const odd = keys.find((k) => !PAX_KEYS.has(k));
      if (odd !== undefined)
        throw formatError(
          `${what}: pax header at byte ${headerOffset} sets "${odd}", which bundles never use`,
          fix,
        );
      const parsed = Pax.parse(body.subarray(0, size).toString('utf8'), pax, false);
      pax = { ...(pax ?? {}), ...parsed };
      paxOffset ??= headerOffset;
      continue;
    }
    const entryOffset = paxOffset ?? headerOffset;
    pax = undefined;
    paxOffset = undefined;
    const path = header.path ?? '';
    if (type !== 'File' && type !== 'OldFile' && type !== 'ContiguousFile') {
      const why = REFUSED_TYPES[type];
      const link = header.linkpath ? ` to "${header.linkpath}"` : '';
      throw formatError(
        `${what}: unexpected tar entry "${path}" of type ${type}${why ? ` (${why}${link})` : ''} at byte ${headerOffset}: bundles hold regular files only`,
        fix,
      );
    }
    const unsafe = unsafePathReason(path);
    if (unsafe) throw formatError(`${what}: unsafe tar entry path "${path}": ${unsafe}`, fix);
    if (seen.has(path))
      throw formatError(`${what}: tar entry "${path}" appears twice (at byte ${headerOffset} again)`, fix);
    seen.add(path);
    yield { path, size, headerOffset: entryOffset, dataOffset: reader.position };
  }
}
