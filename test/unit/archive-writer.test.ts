import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveWriter, type HeaderEntry, type Toc } from '../../src/bundle/archive-writer.js';
import { ByteReader } from '../../src/bundle/byte-reader.js';
import { Entry, OCI_LAYOUT_CONTENT, blobPath } from '../../src/bundle/layout.js';
import { encodeManifest, type BundleManifest } from '../../src/bundle/manifest.js';
import { EntryIndex, openBundle, readToc, streamEntries } from '../../src/bundle/reader.js';
import { createSink } from '../../src/bundle/sink.js';
import { openBundleSource } from '../../src/bundle/source.js';
import { parsePartsFile, type PartsFile } from '../../src/bundle/split.js';
import { padding, parseTar } from '../../src/bundle/tar.js';
import {
  MAX_FRAME_CONTENT,
  SKIPPABLE_MAGIC_BASE,
  ZSTD_MAGIC,
  decodeSeekTable,
  decompress,
  type SeekEntry,
} from '../../src/bundle/zstd.js';
import { sha256Digest } from '../../src/lib/digest.js';
import { chunked, collect, failure } from '../support/helpers.js';

const MTIME = new Date('2024-05-06T07:08:09Z');
const PART = 100 * 1024;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-archive-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function sh(script: string, ...args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; ${script}`, 'sh', ...args], {
    maxBuffer: 1 << 30,
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** The directory's entries once they stop changing (writes may complete after the writer returns). */
async function settled(path: string): Promise<string[]> {
  let last = '';
  for (let stable = 0, i = 0; stable < 3 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const now = await Promise.all(
      (await readdir(path))
        .sort()
        .map(async (n) => `${n}:${(await stat(join(path, n)).catch(() => undefined))?.size}`),
    );
    const key = now.join('|');
    stable = key === last ? stable + 1 : 0;
    last = key;
  }
  return (await readdir(path)).sort();
}

interface BodyItem {
  path: string;
  data: Buffer;
  /** Written under this placeholder path, then renamed to `path`. */
  provisional?: string;
}

interface Built {
  file: string;
  size: number;
  toc: Toc;
  files: string[];
  parts: PartsFile | undefined;
  header: HeaderEntry[];
  body: BodyItem[];
  /** Every entry in archive order. */
  all: Array<{ path: string; data: Buffer }>;
}

const text = (n: number, seed = 'line') =>
  Buffer.from(`${seed} of the kubechat docs\n`.repeat(Math.ceil(n / 10)).slice(0, n));

function bodyItems(big: boolean): BodyItem[] {
  const provisional = randomBytes(150 * 1024);
  const blob = randomBytes(200 * 1024);
  const items: BodyItem[] = [
    // Learned digest: written under a placeholder path of the same length, then renamed.
    {
      path: blobPath(sha256Digest(provisional)),
      data: provisional,
      provisional: blobPath(sha256Digest('placeholder-0')),
    },
    { path: blobPath(sha256Digest(blob)), data: blob },
    { path: 'files/docs/readme.md', data: text(5000) },
    { path: 'files/empty', data: Buffer.alloc(0) },
    // A path that needs a pax header (a component over 100 chars).
    { path: `files/docs/${'n'.repeat(120)}.md`, data: text(777, 'pax') },
    // Header + data + padding exactly 1 MiB: one frame whose content is a multiple of the decompressor's buffer.
    { path: 'files/exact-1mib.bin', data: text(1024 * 1024 - 512, 'mib') },
  ];
  if (big) items.push({ path: 'files/big.bin', data: text(MAX_FRAME_CONTENT + 100_000, 'big') });
  return items;
}

function headerEntries(body: BodyItem[]): HeaderEntry[] {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
  const oci = Buffer.from(OCI_LAYOUT_CONTENT);
  const listed = [{ path: Entry.ociLayout, data: oci }, { path: Entry.index, data: index }, ...body];
  const manifest: BundleManifest = {
    schemaVersion: 1,
    name: 'test',
    version: '1.0.0',
    created: MTIME.toISOString(),
    expires: null,
    platforms: ['linux/amd64'],
    delta: null,
    artifacts: { images: [], charts: [], models: [], files: [] },
    contents: listed.map((e) => ({ path: e.path, sha256: hex(e.data), size: e.data.length })),
  };
  return [
    { path: Entry.manifest, data: encodeManifest(manifest) },
    { path: Entry.ociLayout, data: oci },
    { path: Entry.index, data: index },
  ];
}

async function build(
  out: string,
  options: { split?: number; big?: boolean; workers?: number } = {},
): Promise<Built> {
  const file = join(out, 'test-1.0.0.kcb.tar.zst');
  const body = bodyItems(options.big ?? false);
  const header = headerEntries(body);
  const sink = await createSink(file, options.split);
  const writer = new ArchiveWriter(
    sink,
    { level: 3, workers: options.workers ?? 1 },
    MTIME,
    header.map((h) => ({ path: h.path, size: h.data.length })),
  );
  for (const item of body) {
    const written = item.provisional ?? item.path;
    const got = await writer.addEntry(written, item.data.length, chunked(item.data), {
      provisional: !!item.provisional,
    });
    expect(got).toBe(hex(item.data));
    if (item.provisional) await writer.rename(item.provisional, item.path);
  }
  const { size, toc } = await writer.finish(header);
  const committed = await sink.commit();
  return {
    file,
    size,
    toc,
    files: committed.files,
    parts: committed.parts,
    header,
    body,
    all: [
      ...header,
      ...body.map((b) => ({ path: b.path, data: b.data })),
      { path: Entry.toc, data: Buffer.from('') },
    ],
  };
}

const expectedPaths = (b: Built) => b.all.map((e) => e.path);

/** Frames from the seek table at the end of `bytes`, with their offsets. */
async function frames(bytes: Buffer) {
  const table = (await decodeSeekTable(bytes.subarray(bytes.length - 64), bytes.length, async (s, l) =>
    Buffer.from(bytes.subarray(s, s + l)),
  )) as SeekEntry[];
  expect(table).toBeDefined();
  let c = 0;
  let t = 0;
  return table.map((e) => {
    const f = { ...e, compressedStart: c, tarStart: t };
    c += e.compressedSize;
    t += e.decompressedSize;
    return f;
  });
}

describe('ArchiveWriter to a single file', () => {
  it('Given header and body entries, When written, Then zstd -dc | tar -t lists them in order, header first, toc last', async () => {
    const b = await build(dir);
    expect(b.files).toEqual([b.file]);
    expect(b.parts).toBeUndefined();
    expect((await stat(b.file)).size).toBe(b.size);
    expect(await readdir(dir)).toEqual([basename(b.file)]); // no temp names left

    const r = sh('zstd -dc "$1" | tar -tf -', b.file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const listed = r.stdout.toString().trim().split('\n');
    expect(listed).toEqual(expectedPaths(b));
    expect(listed[0]).toBe(Entry.manifest);
    expect(listed.at(-1)).toBe(Entry.toc);
    // The provisional name is gone: the renamed header overwrote it in place.
    expect(listed).not.toContain(b.body[0]!.provisional);
    expect(b.toc.entries.map((e) => e.path)).toEqual(listed.slice(0, -1));
  });

  it('Given a written archive, When GNU tar extracts it, Then every entry holds exactly its data', async () => {
    const b = await build(dir);
    const out = join(dir, 'x');
    await mkdir(out);
    const r = sh('zstd -dc "$1" | tar -xf - -C "$2"', b.file, out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const e of [...b.header, ...b.body]) {
      expect((await readFile(join(out, e.path))).equals(e.data), e.path).toBe(true);
    }
    const toc = JSON.parse(await readFile(join(out, Entry.toc), 'utf8')) as Toc;
    expect(toc).toEqual(b.toc);
  });

  it('Given a written archive, When its seek table is decoded, Then frames cover the file and every entry starts a frame', async () => {
    const b = await build(dir);
    const bytes = await readFile(b.file);
    const tar = sh('zstd -dc "$1"', b.file).stdout;
    const fs = await frames(bytes);
    const tableSize = 8 + fs.length * 8 + 9;
    expect(fs.reduce((n, f) => n + f.compressedSize, 0)).toBe(bytes.length - tableSize);
    expect(fs.reduce((n, f) => n + f.decompressedSize, 0)).toBe(tar.length);

    // Header frames, then the padding frame (skippable, no content), then the body.
    const pad = fs[b.header.length]!;
    expect(bytes.readUInt32LE(pad.compressedStart)).toBe(SKIPPABLE_MAGIC_BASE);
    expect(pad.decompressedSize).toBe(0);

    // Every frame decompresses alone (zstd -dc) to its slice of the tar.
    for (const [i, f] of fs.entries()) {
      if (f.decompressedSize === 0) continue;
      expect(bytes.readUInt32LE(f.compressedStart), `frame ${i}`).toBe(ZSTD_MAGIC);
      expect(f.decompressedSize).toBeLessThanOrEqual(MAX_FRAME_CONTENT);
      const one = join(dir, 'frame.zst');
      await writeFile(one, bytes.subarray(f.compressedStart, f.compressedStart + f.compressedSize));
      const d = sh('zstd -dc "$1"', one);
      expect(d.status).toBe(0);
      expect(d.stdout.equals(tar.subarray(f.tarStart, f.tarStart + f.decompressedSize)), `frame ${i}`).toBe(
        true,
      );
    }

    // Each entry, header entries and the toc included, begins a new frame.
    const starts = new Set(fs.filter((f) => f.decompressedSize > 0).map((f) => f.tarStart));
    for (const e of b.toc.entries) expect(starts.has(e.header), e.path).toBe(true);
    const tocFrame = fs.at(-1)!;
    expect(tar.subarray(tocFrame.tarStart, tocFrame.tarStart + 100).toString('latin1')).toContain(Entry.toc);
  });

  it("Given a written archive, When parsed as a tar, Then the toc's offsets are where the entries really are", async () => {
    const b = await build(dir);
    const tar = sh('zstd -dc "$1"', b.file).stdout;
    const reader = new ByteReader(chunked(tar, 65_536));
    const seen = new Map<string, { header: number; data: number; size: number }>();
    for await (const e of parseTar(reader, 'test')) {
      seen.set(e.path, { header: e.headerOffset, data: e.dataOffset, size: e.size });
      await reader.skip(e.size + padding(e.size), () => new Error('eof'));
    }
    for (const e of b.toc.entries) {
      expect(seen.get(e.path), e.path).toEqual({ header: e.header, data: e.data, size: e.size });
      const want = b.all.find((a) => a.path === e.path)!.data;
      expect(tar.subarray(e.data, e.data + e.size).equals(want), e.path).toBe(true);
    }
  });

  it('Given a written archive, When opened by the reader, Then the manifest, toc and every entry read back by random access', async () => {
    const b = await build(dir, { workers: 2 });
    const opened = await openBundle(b.file);
    expect(opened.manifestBytes.equals(b.header[0]!.data)).toBe(true);
    expect(opened.manifest.contents).toHaveLength(b.body.length + 2);
    expect(opened.frames).toBeDefined();
    expect(await readToc(opened)).toEqual(b.toc);
    const index = await EntryIndex.open(opened);
    expect(index.seekable).toBe(true);
    for (const e of [...b.header, ...b.body]) {
      expect((await collect(index.read(e.path))).equals(e.data), e.path).toBe(true);
    }
    expect(index.has(b.body[0]!.provisional!)).toBe(false);

    const streamed: string[] = [];
    for await (const e of streamEntries(opened)) {
      streamed.push(e.path);
      const want = b.all.find((a) => a.path === e.path)!;
      if (e.path !== Entry.toc) expect((await collect(e.data)).equals(want.data), e.path).toBe(true);
      const t = b.toc.entries.find((x) => x.path === e.path);
      if (t)
        expect({ header: e.headerOffset, data: e.dataOffset }).toEqual({ header: t.header, data: t.data });
    }
    expect(streamed).toEqual(expectedPaths(b));
  });

  it('Given an entry larger than 32 MiB, When written, Then it spans several frames of at most 32 MiB and reads back', async () => {
    const b = await build(dir, { big: true });
    const bytes = await readFile(b.file);
    const fs = await frames(bytes);
    const big = b.toc.entries.find((e) => e.path === 'files/big.bin')!;
    const inside = fs.filter((f) => f.tarStart >= big.header && f.tarStart < big.data + big.size);
    expect(inside.length).toBe(2);
    expect(inside[0]!.tarStart).toBe(big.header);
    expect(inside[0]!.decompressedSize).toBe(MAX_FRAME_CONTENT);

    const r = sh('zstd -dc "$1" | tar -tf -', b.file);
    expect(r.status).toBe(0);
    expect(r.stdout.toString().trim().split('\n')).toEqual(expectedPaths(b));
    const index = await EntryIndex.open(await openBundle(b.file));
    const data = b.body.find((x) => x.path === 'files/big.bin')!.data;
    expect(hex(await collect(index.read('files/big.bin')))).toBe(hex(data));
  });

  it('Given a sink aborted half-way, When the directory is listed, Then nothing is left behind', async () => {
    const file = join(dir, 'aborted.kcb.tar.zst');
    const sink = await createSink(file);
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, [
      { path: Entry.manifest, size: 10 },
    ]);
    await writer.addEntry('files/a', 200_000, chunked(randomBytes(200_000)));
    // While writing, only a temp name exists (the writer may still have writes in flight).
    const during = await settled(dir);
    expect(during).toHaveLength(1);
    expect(during[0]).not.toBe(basename(file));
    expect(during[0]).toMatch(/^\.aborted\.kcb\.tar\.zst\.partial-/);
    await sink.abort();
    await sink.abort(); // safe twice
    expect(await settled(dir)).toEqual([]);
  });

  it('Given a sink aborted while writes may be in flight, When everything settles, Then nothing is left behind', async () => {
    const file = join(dir, 'aborted.kcb.tar.zst');
    const sink = await createSink(file);
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, [
      { path: Entry.manifest, size: 10 },
    ]);
    await writer.addEntry('files/a', 2_000_000, chunked(randomBytes(2_000_000)));
    await sink.abort();
    expect(await settled(dir)).toEqual([]);
  });

  it('Given a finished archive aborted before commit, When the directory is listed, Then nothing is left behind', async () => {
    const file = join(dir, 'aborted.kcb.tar.zst');
    const sink = await createSink(file);
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, [
      { path: Entry.manifest, size: 2 },
    ]);
    await writer.addEntry('files/a', 10, chunked(Buffer.alloc(10)));
    await writer.finish([{ path: Entry.manifest, data: Buffer.from('{}') }]);
    await sink.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  it('Given a source that yields fewer bytes than promised, When added, Then a source error (exit 4) says it changed', async () => {
    const sink = await createSink(join(dir, 'short.kcb.tar.zst'));
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, []);
    const err = await failure(writer.addEntry('files/a', 100, chunked(Buffer.alloc(60))));
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('expected 100 bytes, read 60');
    const err2 = await failure(writer.addEntry('files/b', 100, chunked(Buffer.alloc(160), 160)));
    expect(err2.exitCode).toBe(4);
    await sink.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('ArchiveWriter to split parts', () => {
  it('Given 100 KiB parts, When written, Then the parts file lists parts whose sha256 matches sha256sum', async () => {
    const b = await build(dir, { split: PART });
    const parts = b.parts!;
    expect(parts).toBeDefined();
    expect(parts.parts.length).toBeGreaterThanOrEqual(4);
    const names = parts.parts.map((p) => p.name);
    expect(names).toEqual(names.map((_, i) => `${basename(b.file)}.${String(i + 1).padStart(3, '0')}`));
    const partsFile = `${b.file}.parts.json`;
    expect(b.files).toEqual([...names.map((n) => join(dir, n)), partsFile]);
    // Only the parts and the parts file: no unsplit bundle, no temp names.
    expect((await readdir(dir)).sort()).toEqual([...names, basename(partsFile)].sort());

    expect(parsePartsFile(await readFile(partsFile, 'utf8'), partsFile)).toEqual(parts);
    expect(parts.bundle).toBe(basename(b.file));
    expect(parts.size).toBe(b.size);
    const r = sh('cd "$1" && sha256sum -- *.[0-9][0-9][0-9]', dir);
    expect(r.status).toBe(0);
    const sums = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+\*?/));
    expect(sums.map(([sum, name]) => ({ name, sha256: sum }))).toEqual(
      parts.parts.map((p) => ({ name: p.name, sha256: p.sha256 })),
    );
    for (const [i, p] of parts.parts.entries()) {
      expect((await stat(join(dir, p.name))).size).toBe(p.size);
      if (i < parts.parts.length - 1) expect(p.size).toBe(PART);
    }
    const whole = sh('cd "$1" && cat -- *.[0-9][0-9][0-9] | sha256sum', dir).stdout.toString().split(' ')[0];
    expect(whole).toBe(parts.sha256);
  });

  it('Given split parts, When cat parts | zstd -dc | tar -t runs, Then every entry is listed in order', async () => {
    const b = await build(dir, { split: PART });
    const r = sh('cd "$1" && cat -- *.[0-9][0-9][0-9] | zstd -dc | tar -tf -', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.toString().trim().split('\n')).toEqual(expectedPaths(b));
  });

  it('Given split parts, When opened in place (parts file or .001), Then the stream and reads equal the concatenation', async () => {
    const b = await build(dir, { split: PART });
    const joined = Buffer.concat(await Promise.all(b.parts!.parts.map((p) => readFile(join(dir, p.name)))));
    for (const open of [`${b.file}.parts.json`, `${b.file}.001`]) {
      const source = await openBundleSource(open);
      expect(source.size).toBe(joined.length);
      expect(source.name).toBe(basename(b.file));
      expect((await collect(source.stream())).equals(joined)).toBe(true);
      // Ranges and reads that cross part boundaries.
      for (const [start, len] of [
        [0, 10],
        [PART - 5, 10],
        [PART - 1, 2 * PART + 2],
        [joined.length - 7, 7],
      ] as const) {
        expect((await source.read(start, len)).equals(joined.subarray(start, start + len))).toBe(true);
        expect(
          (await collect(source.stream(start, start + len))).equals(joined.subarray(start, start + len)),
        ).toBe(true);
      }
    }
    expect(await readdir(dir)).toHaveLength(b.parts!.parts.length + 1); // read in place: nothing rejoined
  });

  it('Given split parts, When opened as a bundle, Then every entry reads back by random access across parts', async () => {
    const b = await build(dir, { split: PART });
    const opened = await openBundle(`${b.file}.parts.json`);
    expect(opened.manifestBytes.equals(b.header[0]!.data)).toBe(true);
    const index = await EntryIndex.open(opened);
    expect(index.seekable).toBe(true);
    for (const e of [...b.header, ...b.body]) {
      expect((await collect(index.read(e.path))).equals(e.data), e.path).toBe(true);
    }
    const paths: string[] = [];
    for await (const e of streamEntries(opened)) paths.push(e.path);
    expect(paths).toEqual(expectedPaths(b));
  });

  it('Given a part with a flipped byte, When the whole bundle is streamed, Then an integrity error (exit 6) names the part', async () => {
    const b = await build(dir, { split: PART });
    const name = b.parts!.parts[1]!.name;
    const part = await readFile(join(dir, name));
    part[5000]! ^= 0x40;
    await writeFile(join(dir, name), part);
    const source = await openBundleSource(`${b.file}.parts.json`);
    const err = await failure(collect(source.stream()));
    expect(err.exitCode).toBe(6);
    expect(err.message).toContain(name);
    expect(err.message).toContain('does not match the parts file');
  });

  it('Given a part of the wrong size, When opened, Then an integrity error (exit 6) names it', async () => {
    const b = await build(dir, { split: PART });
    const name = b.parts!.parts[2]!.name;
    await truncate(join(dir, name), 1000);
    const err = await failure(openBundleSource(`${b.file}.parts.json`));
    expect(err.exitCode).toBe(6);
    expect(err.message).toContain(`${name}: part has 1000 bytes, expected ${PART}`);
  });

  it('Given a missing part, When opened, Then a format error (exit 5) names the missing part', async () => {
    const b = await build(dir, { split: PART });
    const name = b.parts!.parts[2]!.name;
    await rm(join(dir, name));
    const err = await failure(openBundleSource(`${b.file}.parts.json`));
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain(join(dir, name));
    expect(err.message).toContain(`part 3 of ${b.parts!.parts.length} is missing`);
    expect(err.fix).toContain(name);
  });

  it('Given a split sink aborted half-way, When the directory is listed, Then no part or temp name is left', async () => {
    const file = join(dir, 'aborted.kcb.tar.zst');
    const sink = await createSink(file, PART);
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, [
      { path: Entry.manifest, size: 10 },
    ]);
    await writer.addEntry('files/a', 350_000, chunked(randomBytes(350_000)));
    // 350 KB of incompressible data: four 100 KiB parts, all under temp names until commit.
    const during = await settled(dir);
    expect(during).toHaveLength(4);
    for (const name of during) expect(name).toMatch(/^\.aborted\.kcb\.tar\.zst\.00[1-4]\.partial-/);
    await sink.abort();
    expect(await settled(dir)).toEqual([]);
  });

  it('Given a split sink aborted while writes may be in flight, When everything settles, Then no part is left', async () => {
    const file = join(dir, 'aborted.kcb.tar.zst');
    const sink = await createSink(file, PART);
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, [
      { path: Entry.manifest, size: 10 },
    ]);
    await writer.addEntry('files/a', 2_000_000, chunked(randomBytes(2_000_000)));
    await sink.abort();
    expect(await settled(dir)).toEqual([]);
  });

  it('Given a finished split archive aborted before commit, When the directory is listed, Then it is empty', async () => {
    const file = join(dir, 'aborted.kcb.tar.zst');
    const sink = await createSink(file, PART);
    const writer = new ArchiveWriter(sink, { level: 3, workers: 1 }, MTIME, [
      { path: Entry.manifest, size: 2 },
    ]);
    await writer.addEntry('files/a', 250_000, chunked(randomBytes(250_000)));
    await writer.finish([{ path: Entry.manifest, data: Buffer.from('{}') }]);
    await sink.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('decompress over a written bundle', () => {
  it('Given a bundle, When decompressed by our decompress, Then it equals zstd -dc output', async () => {
    const b = await build(dir);
    const ours = await collect(decompress(chunked(await readFile(b.file), 1024 * 1024), 'b'));
    expect(ours.equals(sh('zstd -dc "$1"', b.file).stdout)).toBe(true);
  });
});
