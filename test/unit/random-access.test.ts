/**
 * Random access for `registry serve`: byte ranges of entries read through the seek table (the raw-block
 * fast path and the zstd path), across split parts, with and without reused buffers, against the
 * bytes a plain front-to-back read gives.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EntryIndex, openBundle, streamEntries } from '../../src/bundle/reader.js';
import { parseFrameHeader, rawFrame, rawFrameContent, mayBeAllRaw } from '../../src/bundle/zstd.js';
import { lease } from '../../src/lib/leases.js';
import { createBundle } from '../support/create-bundle.js';
import { openBundleStore } from '../../src/serve/stores.js';
import { collect } from '../support/helpers.js';
import { makeWorkspace } from '../support/workspace.js';

const MiB = 1024 * 1024;
let parts: string;
let entries: Map<string, Buffer>;

beforeAll(async () => {
  const ws = await makeWorkspace();
  // A 40 MiB random layer spans two frames, stored raw; the chart and configs are zstd frames.
  const spec = await ws.spec('1.0.0', { layerSize: 40 * MiB, ggufSize: 256 * 1024 });
  const r = await createBundle({ specPath: spec, outDir: ws.out, splitSize: 7 * MiB });
  parts = r.bundle;
  expect(parts).toMatch(/\.parts\.json$/);
  entries = new Map();
  for await (const e of streamEntries(await openBundle(parts))) entries.set(e.path, await collect(e.data));
});

describe('EntryIndex.readRange', () => {
  it('Given every entry, When read whole by range (reused buffers or not), Then the bytes equal a front-to-back read', async () => {
    const index = await EntryIndex.open(await openBundle(parts));
    for (const [path, data] of entries) {
      if (path === 'kubechat-toc.json') continue; // the table does not list itself
      for (const reuse of [false, true]) {
        const got = await collect(index.readRange(path, 0, data.length, { reuse }));
        expect(got.equals(data), `${path} reuse=${reuse}`).toBe(true);
      }
    }
  });

  it('Given ranges inside, across and at the ends of frames and parts, Then each equals the slice', async () => {
    const index = await EntryIndex.open(await openBundle(parts));
    const [path, data] = [...entries].reduce((a, b) => (a[1].length > b[1].length ? a : b));
    expect(data.length).toBeGreaterThan(32 * MiB);
    for (const [start, end] of [
      [0, 1],
      [12345, 7 * MiB + 99],
      [32 * MiB - 6000, 32 * MiB + 6000],
      [data.length - 1, data.length],
      [5, 5],
    ] as const) {
      for (const reuse of [false, true]) {
        const got = await collect(index.readRange(path, start, end, { reuse }));
        expect(got.equals(data.subarray(start, end)), `${start}-${end} reuse=${reuse}`).toBe(true);
      }
    }
  });

  it('Given a chunk leased to a slow write, When the reader moves on, Then that chunk is not overwritten until released', async () => {
    const index = await EntryIndex.open(await openBundle(parts));
    const [path, data] = [...entries].reduce((a, b) => (a[1].length > b[1].length ? a : b));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const it = index.readRange(path, 0, 10 * MiB, { reuse: true })[Symbol.asyncIterator]();
    const first = (await it.next()).value as Buffer;
    const snapshot = Buffer.from(first);
    lease(first, held);
    let got = first.length;
    const rest = (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) got += r.value.length;
    })();
    await new Promise((r) => setTimeout(r, 100));
    expect(first.equals(snapshot)).toBe(true);
    expect(got).toBeLessThan(10 * MiB); // the reader waits for the lease
    release();
    await rest;
    expect(got).toBe(10 * MiB);
    expect(snapshot.equals(data.subarray(0, snapshot.length))).toBe(true);
  });
});

describe('reused read buffers', () => {
  it('Given chunks leased until released, When an install reads a blob and when registry serve does, Then each reader stops after its ring of 1 MiB buffers, and ends once released', async () => {
    const index = await EntryIndex.open(await openBundle(parts));
    const { store } = await openBundleStore(parts);
    const [path] = [...entries].reduce((a, b) => (a[1].length > b[1].length ? a : b));
    const digest = `sha256:${path.slice('blobs/sha256/'.length)}`;
    for (const [chunks, buffers] of [
      // install's queues hold up to three (targets/channel.ts): six leave the reader three ahead
      [index.readRange(path, 0, 20 * MiB, { reuse: true }), 6],
      // registry serve lends each chunk only until its write is done: four per blob request
      [store.read(digest, 0, 20 * MiB), 4],
    ] as const) {
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      const seen = new Set<ArrayBufferLike>();
      let got = 0;
      const reading = (async () => {
        for await (const c of chunks) {
          seen.add(c.buffer);
          lease(c, held);
          got += c.length;
        }
      })();
      await new Promise((r) => setTimeout(r, 200)); // long enough to read all 20 MiB if it could
      expect(seen.size).toBe(buffers);
      expect(got).toBeGreaterThan((buffers - 1) * MiB);
      expect(got).toBeLessThanOrEqual(buffers * MiB);
      release();
      await reading; // the rest, and the file closed
      expect(got).toBe(20 * MiB);
    }
  });
});

describe('file descriptors', () => {
  it('Given bundles opened and entries read by range, When each read ends, Then no file stays open', async () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const [path, data] = [...entries].reduce((a, b) => (a[1].length > b[1].length ? a : b));
    // Warm up: lazily loaded modules and libuv's own descriptors are opened once.
    await collect((await EntryIndex.open(await openBundle(parts))).readRange(path, 0, 10));
    const before = open();
    for (let i = 0; i < 20; i++) {
      const index = await EntryIndex.open(await openBundle(parts));
      // A range that ends inside a frame: the reader stops before the frame does.
      const got = await collect(index.readRange(path, 0, data.length - 1000, { reuse: i % 2 === 0 }));
      expect(got.length).toBe(data.length - 1000);
      for await (const e of streamEntries(await openBundle(parts))) if (e.path === path) break;
    }
    expect(open()).toBe(before);
  });
});

describe('streamEntries with the seek table', () => {
  it('Given a large entry whose size is not a multiple of 512, When its data is skipped, Then its frames are not read to reach the padding', async () => {
    const ws = await makeWorkspace();
    // 60 MiB + 123 bytes: two frames, the last about 28 MiB, then 389 bytes of tar padding.
    const spec = await ws.spec('1.0.0', { layerSize: 60 * MiB + 123, ggufSize: 256 * 1024 });
    const { bundle: path } = await createBundle({ specPath: spec, outDir: ws.out });
    const bundle = await openBundle(path);
    let read = 0;
    const { source } = bundle;
    const counting: typeof source = {
      name: source.name,
      size: source.size,
      parts: source.parts,
      stream: async function* (start, end, options) {
        for await (const chunk of source.stream(start, end, options)) {
          read += chunk.length;
          yield chunk;
        }
      },
      read: async (start, length) => {
        read += length;
        return source.read(start, length);
      },
    };
    const paths: string[] = [];
    for await (const e of streamEntries({ ...bundle, source: counting }, { seek: true })) paths.push(e.path);
    const plain: string[] = [];
    for await (const e of streamEntries(await openBundle(path))) plain.push(e.path);
    expect(paths).toEqual(plain);
    expect(source.size).toBeGreaterThan(60 * MiB);
    // Headers and small entries only (with 1 MiB read-ahead per frame touched), not the large
    // entry's last frame.
    expect(read).toBeLessThan(8 * MiB);
  });
});

describe('rawFrameContent', () => {
  it('Given a frame of raw blocks, Then its content is sliced out exactly and reported complete', async () => {
    const data = randomBytes(100_000);
    const frame = rawFrame(data);
    const head = parseFrameHeader(frame)!;
    expect(head.contentSize).toBe(data.length);
    expect(mayBeAllRaw(head, data.length, frame.length)).toBe(true);
    const it = rawFrameContent(
      (async function* () {
        // Awkward chunking: block headers split across chunks.
        for (let at = head.headerSize; at < frame.length; at += 7) yield frame.subarray(at, at + 7);
      })(),
    );
    const out: Buffer[] = [];
    let r = await it.next();
    while (!r.done) {
      out.push(Buffer.from(r.value));
      r = await it.next();
    }
    expect(r.value).toEqual({ complete: true, yielded: data.length });
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it('Given read buffers holding many raw blocks, Then each buffer yields one chunk with the block headers closed up', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5); // 25 raw blocks of at most 128 KiB
    const blocks: Buffer[] = [];
    for (let at = 0; at < data.length; at += 128 * 1024) {
      const size = Math.min(128 * 1024, data.length - at);
      const h = (at + size === data.length ? 1 : 0) | (size << 3); // last flag; type 0 (raw)
      blocks.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), data.subarray(at, at + size));
    }
    const fcs = Buffer.alloc(4);
    fcs.writeUInt32LE(data.length);
    // magic; single segment with a 4-byte content size
    const frame = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0]), fcs, ...blocks]);
    expect(spawnSync('zstd', ['-dc'], { input: frame, maxBuffer: 8 * 1024 * 1024 }).stdout.equals(data)).toBe(
      true,
    );
    const head = parseFrameHeader(frame)!;
    expect(mayBeAllRaw(head, data.length, frame.length)).toBe(true);
    for (const size of [1024 * 1024, 300_001]) {
      const pieces: Buffer[] = [];
      // Copies: the content is compacted inside the buffers it is read into.
      for (let at = head.headerSize; at < frame.length; at += size)
        pieces.push(Buffer.from(frame.subarray(at, at + size)));
      const it = rawFrameContent(
        (async function* () {
          yield* pieces;
        })(),
      );
      const out: Buffer[] = [];
      let r = await it.next();
      while (!r.done) {
        out.push(r.value);
        r = await it.next();
      }
      expect(r.value).toEqual({ complete: true, yielded: data.length });
      expect(Buffer.concat(out).equals(data)).toBe(true);
      expect(out.length).toBe(pieces.length); // one per read, not one per block
      expect(out.every((c, i) => c.buffer === pieces[i]!.buffer)).toBe(true); // views, not copies
    }
  });

  it('Given a frame whose second block is RLE, Then it stops there and zstd agrees on what came before', async () => {
    const raw = randomBytes(1000);
    const block = (type: number, size: number, last: boolean) => {
      const h = (last ? 1 : 0) | (type << 1) | (size << 3);
      return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]);
    };
    const total = raw.length + 500;
    const frame = Buffer.concat([
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x60]), // magic; single segment, 2-byte content size
      Buffer.from([(total - 256) & 0xff, (total - 256) >> 8]),
      block(0, raw.length, false),
      raw,
      block(1, 500, true),
      Buffer.from([0x41]),
    ]);
    const z = spawnSync('zstd', ['-dc'], { input: frame });
    expect(z.status).toBe(0);
    expect(z.stdout.equals(Buffer.concat([raw, Buffer.alloc(500, 0x41)]))).toBe(true);
    const head = parseFrameHeader(frame)!;
    const it = rawFrameContent(
      (async function* () {
        yield frame.subarray(head.headerSize);
      })(),
    );
    const out: Buffer[] = [];
    let r = await it.next();
    while (!r.done) {
      out.push(Buffer.from(r.value));
      r = await it.next();
    }
    expect(r.value).toEqual({ complete: false, yielded: raw.length });
    expect(Buffer.concat(out).equals(z.stdout.subarray(0, raw.length))).toBe(true);
  });
});
