import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Header, Pax } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/bundle/byte-reader.js';
import {
  BLOCK,
  END_OF_ARCHIVE,
  encodeHeader,
  entryTarSize,
  padding,
  parseTar,
} from '../../src/bundle/tar.js';
import { failure } from '../support/helpers.js';

const TAR = '/usr/bin/tar';
const MTIME = new Date('2024-05-06T07:08:09Z');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-tar-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tar(args: string[], cwd = dir): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TAR, args, {
    cwd,
    env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A tar made by our encoder: header, data, padding per entry, then the end-of-archive marker. */
function ourTar(entries: Array<{ path: string; data: Buffer }>, end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encodeHeader(e.path, e.data.length, MTIME), e.data, Buffer.alloc(padding(e.data.length)));
  }
  if (end) parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** `tar -tvf` lines as {size, date, path}. */
function listing(file: string): Array<{ mode: string; size: number; date: string; path: string }> {
  const r = tar(['-tvf', file]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\S+) (\S+) +(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) (.*)$/.exec(line);
      if (!m) throw new Error(`unexpected tar -tv line: ${line}`);
      return { mode: m[1]!, size: Number(m[3]), date: m[4]!, path: m[5]! };
    });
}

async function* fileChunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, at + size);
}

interface Read {
  path: string;
  size: number;
  headerOffset: number;
  dataOffset: number;
  data: Buffer;
}

/** Reads every entry with parseTar the way the bundle reader does: data, then padding. */
async function readAll(source: AsyncIterable<Buffer>, what = 'test.tar'): Promise<Read[]> {
  const reader = new ByteReader(source);
  const out: Read[] = [];
  const eof = () => new Error('unexpected end of data');
  for await (const e of parseTar(reader, what)) {
    const parts: Buffer[] = [];
    for await (const c of reader.chunks(e.size, eof)) parts.push(Buffer.from(c));
    await reader.skip(padding(e.size), eof);
    out.push({ ...e, data: Buffer.concat(parts) });
  }
  return out;
}

const LONG_NAME = `files/docs/${'n'.repeat(120)}.md`; // one component > 100 chars: needs pax
const PREFIXED = `files/${'p'.repeat(80)}/${'q'.repeat(60)}.txt`; // > 100 chars but fits ustar's prefix field
const DEEP = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}/${'g'.repeat(90)}/h.txt`; // > 255 chars

describe('encodeHeader', () => {
  const entries = [
    { path: 'kubechat-bundle.json', data: Buffer.from('{"a":1}') },
    { path: 'empty', data: Buffer.alloc(0) },
    { path: 'blobs/sha256/' + 'a'.repeat(64), data: randomBytes(1000) },
    { path: 'exact-block', data: randomBytes(512) },
    { path: LONG_NAME, data: Buffer.from('long\n') },
    { path: PREFIXED, data: Buffer.from('prefixed\n') },
    { path: DEEP, data: randomBytes(70_000) },
  ];

  it('Given entries with short, long and very long paths, When GNU tar -tvf lists them, Then paths, sizes and mtimes match', async () => {
    const file = join(dir, 'ours.tar');
    await writeFile(file, ourTar(entries));
    const listed = listing(file);
    expect(listed.map((l) => l.path)).toEqual(entries.map((e) => e.path));
    expect(listed.map((l) => l.size)).toEqual(entries.map((e) => e.data.length));
    expect(new Set(listed.map((l) => l.date))).toEqual(new Set(['2024-05-06 07:08']));
    expect(new Set(listed.map((l) => l.mode))).toEqual(new Set(['-rw-r--r--']));
  });

  it('Given entries written by encodeHeader, When GNU tar extracts each, Then the content is byte-identical', async () => {
    const file = join(dir, 'ours.tar');
    await writeFile(file, ourTar(entries));
    const out = join(dir, 'x');
    await mkdir(out);
    const r = tar(['-xf', file, '-C', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const e of entries) expect((await readFile(join(out, e.path))).equals(e.data)).toBe(true);
  });

  it('Given a path with a component over 100 chars, When encoded, Then a pax header carries the path', () => {
    const h = encodeHeader(LONG_NAME, 5, MTIME);
    expect(h.length).toBeGreaterThan(BLOCK);
    const paxHeader = new Header(h, 0);
    expect(paxHeader.type).toBe('ExtendedHeader');
    const body = h.subarray(BLOCK, BLOCK + paxHeader.size!).toString('utf8');
    expect(Pax.parse(body).path).toBe(LONG_NAME);
    const file = new Header(h, h.length - BLOCK, Pax.parse(body));
    expect(file.cksumValid).toBe(true);
    expect(file.path).toBe(LONG_NAME);
    expect(file.type).toBe('File');
    // Short paths need no pax header.
    expect(encodeHeader('index.json', 5, MTIME).length).toBe(BLOCK);
  });

  it('Given a size above 8 GiB, When encoded, Then the pax record holds the exact size and GNU tar lists it', async () => {
    const size = 9 * 1024 ** 3 + 5;
    const h = encodeHeader('blobs/sha256/' + 'b'.repeat(64), size, MTIME);
    const paxHeader = new Header(h, 0);
    expect(paxHeader.type).toBe('ExtendedHeader');
    const pax = Pax.parse(h.subarray(BLOCK, BLOCK + paxHeader.size!).toString('utf8'));
    expect(pax.size).toBe(size);
    const file = new Header(h, h.length - BLOCK, pax);
    expect(file.cksumValid).toBe(true);
    expect(file.size).toBe(size);

    // parseTar reads the entry's header (the data itself is never needed to see the size).
    const entries = parseTar(new ByteReader(fileChunks(h, 100)), 'big');
    const first = await entries.next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ path: 'blobs/sha256/' + 'b'.repeat(64), size, headerOffset: 0 });
    expect(first.value!.dataOffset).toBe(h.length);

    // GNU tar: a sparse file (no 9 GiB written) with the header, a hole for the data, and the end marker.
    const tarFile = join(dir, 'big.tar');
    await writeFile(tarFile, h);
    await truncate(tarFile, h.length + size + padding(size) + END_OF_ARCHIVE.length);
    const listed = listing(tarFile);
    expect(listed).toEqual([
      { mode: '-rw-r--r--', size, date: '2024-05-06 07:08', path: 'blobs/sha256/' + 'b'.repeat(64) },
    ]);
  });

  it('Given paths whose pax records sit near a block boundary, When sized, Then entryTarSize matches the real encoding for any mtime', () => {
    const mtimes = [new Date(0), MTIME, new Date('2100-01-01T00:00:00.123Z')];
    for (let n = 95; n < 1100; n++) {
      const path = `files/${'x'.repeat(n)}`;
      for (const mtime of mtimes) {
        expect(entryTarSize(path, 10), `path length ${path.length}, mtime ${mtime.toISOString()}`).toBe(
          encodeHeader(path, 10, mtime).length + 10 + padding(10),
        );
      }
    }
  });
});

describe('parseTar', () => {
  async function gnuTar(files: Record<string, Buffer>, extra: string[] = []): Promise<Buffer> {
    const src = join(dir, 'src');
    for (const [path, data] of Object.entries(files)) {
      await mkdir(dirname(join(src, path)), { recursive: true });
      await writeFile(join(src, path), data);
    }
    const file = join(dir, 'gnu.tar');
    const r = tar(['--format=pax', '-cf', file, ...extra, ...Object.keys(files)], src);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return readFile(file);
  }

  const files: Record<string, Buffer> = {
    'a.txt': Buffer.from('hello\n'),
    'sub/b.bin': randomBytes(3000),
    empty: Buffer.alloc(0),
    [LONG_NAME]: Buffer.from('long name\n'),
    [DEEP]: randomBytes(10_000),
  };

  it.each([1, 100, 512, 65_536])(
    'Given a pax tar written by GNU tar, When parsed in %i-byte chunks, Then every entry, offset and byte matches',
    async (chunk) => {
      const bytes = await gnuTar(files);
      const read = await readAll(fileChunks(bytes, chunk));
      expect(read.map((e) => e.path)).toEqual(Object.keys(files));
      for (const e of read) {
        expect(e.size).toBe(files[e.path]!.length);
        expect(e.data.equals(files[e.path]!)).toBe(true);
        // The offsets point at the header and the data inside the tar stream.
        expect(e.dataOffset - e.headerOffset).toBeGreaterThanOrEqual(BLOCK);
        expect((e.dataOffset - e.headerOffset) % BLOCK).toBe(0);
        expect(bytes.subarray(e.dataOffset, e.dataOffset + e.size).equals(e.data)).toBe(true);
      }
      // GNU tar writes a pax header before each file; an entry's headerOffset is its first header block
      // (the pax header), so entries are contiguous: each starts where the previous one's padding ends.
      expect(read[0]!.headerOffset).toBe(0);
      expect(read[0]!.dataOffset).toBeGreaterThanOrEqual(3 * BLOCK);
      for (let i = 1; i < read.length; i++) {
        const prev = read[i - 1]!;
        expect(read[i]!.headerOffset).toBe(prev.dataOffset + prev.size + padding(prev.size));
      }
    },
  );

  it('Given a tar read from a file stream, When parsed, Then the entries match what GNU tar lists', async () => {
    await gnuTar(files);
    const read = await readAll(
      createReadStream(join(dir, 'gnu.tar'), { highWaterMark: 4096 }) as AsyncIterable<Buffer>,
    );
    expect(read.map((e) => ({ path: e.path, size: e.size }))).toEqual(
      listing(join(dir, 'gnu.tar')).map((l) => ({ path: l.path, size: l.size })),
    );
  });

  it('Given a header with a corrupt checksum, When parsed, Then a format error (exit 5) names its offset', async () => {
    const bytes = Buffer.from(await gnuTar({ 'a.txt': Buffer.from('a'), 'b.txt': Buffer.from('b') }));
    // The third block is a.txt's ustar header (after its pax header and pax body); damage b.txt's instead.
    const read = await readAll(fileChunks(bytes, 4096));
    const b = read[1]!;
    const bHeader = b.dataOffset - BLOCK;
    bytes[bHeader + 10]! ^= 0x01;
    const err = await failure(readAll(fileChunks(bytes, 4096)));
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain(`corrupt tar header at byte ${bHeader}`);
  });

  it('Given a symlink entry (GNU tar), When parsed, Then it is refused with exit 5', async () => {
    const src = join(dir, 'src');
    await mkdir(src);
    await writeFile(join(src, 'a.txt'), 'a');
    await symlink('a.txt', join(src, 'link'));
    const file = join(dir, 'link.tar');
    expect(tar(['--format=pax', '-cf', file, 'a.txt', 'link'], src).status).toBe(0);
    const err = await failure(readAll(fileChunks(await readFile(file), 1000)));
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/unexpected tar entry "link" of type SymbolicLink/);
  });

  it('Given a directory entry (GNU tar), When parsed, Then it is refused with exit 5', async () => {
    await gnuTar({ 'd/a.txt': Buffer.from('a') });
    const file = join(dir, 'dir.tar');
    expect(tar(['--format=pax', '-cf', file, 'd'], join(dir, 'src')).status).toBe(0);
    const err = await failure(readAll(fileChunks(await readFile(file), 1000)));
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/of type Directory/);
  });

  it('Given a ../ path written by GNU tar -P, When parsed, Then it is refused as unsafe (exit 5)', async () => {
    const inner = join(dir, 'inner');
    await mkdir(inner);
    await writeFile(join(dir, 'outside.txt'), 'x');
    const file = join(dir, 'evil.tar');
    const r = tar(['--format=pax', '-P', '-cf', file, '../outside.txt'], inner);
    expect(r.status).toBe(0);
    expect(tar(['-tPf', file]).stdout.trim()).toBe('../outside.txt');
    const err = await failure(readAll(fileChunks(await readFile(file), 1000)));
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain('unsafe tar entry path "../outside.txt"');
  });

  it.each(['../evil', 'files/../../etc/passwd', '/etc/passwd', `../${'x'.repeat(120)}`, 'a/..'])(
    'Given an entry named %s, When parsed, Then it is refused as unsafe (exit 5)',
    async (path) => {
      const bytes = ourTar([
        { path: 'ok.txt', data: Buffer.from('ok') },
        { path, data: Buffer.from('evil') },
      ]);
      const err = await failure(readAll(fileChunks(bytes, 700)));
      expect(err.exitCode).toBe(5);
      expect(err.message).toContain('unsafe tar entry path');
    },
  );

  it('Given a GNU tar cut right after the last entry, When parsed, Then exit 5 says the end-of-archive marker is missing', async () => {
    const bytes = await gnuTar(files);
    const last = (await readAll(fileChunks(bytes, 65_536))).at(-1)!;
    const end = last.dataOffset + last.size + padding(last.size);
    const err = await failure(readAll(fileChunks(bytes.subarray(0, end), 65_536)));
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain(`ends at byte ${end} without an end-of-archive marker`);
  });

  it.each([
    ['in the middle of a header', 100],
    ['inside a pax header body', BLOCK + 10],
    ['after half of the end-of-archive marker', -1],
  ])('Given a tar cut %s, When parsed, Then a format error with exit 5 is thrown', async (_what, at) => {
    const bytes = ourTar([{ path: LONG_NAME, data: Buffer.from('data') }]);
    const cut = at >= 0 ? at : bytes.length - BLOCK;
    const err = await failure(readAll(fileChunks(bytes.subarray(0, cut), 64)));
    expect(err.exitCode).toBe(5);
  });

  it('Given an empty stream, When parsed, Then exit 5 (no end-of-archive marker)', async () => {
    const err = await failure(readAll(fileChunks(Buffer.alloc(0), 1)));
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain('ends at byte 0');
  });

  it('Given an archive of only the end marker, When parsed, Then there are no entries', async () => {
    expect(await readAll(fileChunks(END_OF_ARCHIVE, 512))).toEqual([]);
  });
});
