import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FrameCompressor,
  SEEK_TABLE_MAGIC,
  SEEKABLE_FOOTER_MAGIC,
  compressFrame,
  decodeSeekTable,
  decompress,
  encodeSeekTable,
  frameBound,
  paddingFrame,
  rawFrame,
  skippableFrame,
  type SeekEntry,
} from '../../src/bundle/zstd.js';
import { chunked, collect, failure } from '../support/helpers.js';

const ZSTD = '/usr/bin/zstd';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-zstd-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
/** Writes `data` to a temp file and runs the real `zstd -dc FILE` on it. */
async function zstdDc(data: Buffer): Promise<Buffer> {
  const file = join(dir, `in-${fileCounter++}.zst`);
  await writeFile(file, data);
  const r = spawnSync(ZSTD, ['-dc', file], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd -dc failed (${r.status}): ${r.stderr.toString()}`);
  return r.stdout;
}

const text = (n: number) =>
  Buffer.from('kubechat offline bundle line\n'.repeat(Math.ceil(n / 28)).slice(0, n));

/** Compresses each payload as its own frame; returns the output and every frame's compressed size. */
async function compressFrames(
  payloads: Buffer[],
  workers: number,
  writeSize = 7919,
): Promise<{ out: Buffer; sizes: number[] }> {
  const chunks: Buffer[] = [];
  // Output buffers are only valid during the call: copy them.
  const fc = new FrameCompressor({ level: 3, workers }, async (out: Buffer | Buffer[]) => {
    for (const c of [out].flat()) chunks.push(Buffer.from(c));
  });
  const sizes: number[] = [];
  for (const p of payloads) {
    fc.beginFrame(p.length);
    for (let at = 0; at < p.length; at += writeSize) await fc.write(p.subarray(at, at + writeSize));
    expect(fc.remaining).toBe(0);
    sizes.push(await fc.endFrame());
  }
  return { out: Buffer.concat(chunks), sizes };
}

describe('FrameCompressor', () => {
  const payloads = [
    Buffer.from('a'),
    Buffer.alloc(0), // an empty frame
    text(100_000),
    randomBytes(300_000),
    text(5 * 1024 * 1024),
    randomBytes(3 * 1024 * 1024 + 5), // large and incompressible
    Buffer.concat([randomBytes(200_000), text(1_500_000)]), // incompressible start, compressible rest
  ];

  it.each([1, 4])(
    'Given several frames compressed with %i worker(s), When zstd -dc and decompress read the output, Then both give the input back',
    async (workers) => {
      const { out, sizes } = await compressFrames(payloads, workers);
      const expected = Buffer.concat(payloads);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(out.length);
      expect((await zstdDc(out)).equals(expected)).toBe(true);
      expect((await collect(decompress(chunked(out, 65_536), 'test'))).equals(expected)).toBe(true);
    },
  );

  it('Given several frames, When each frame is cut out by its returned size, Then each one decompresses alone', async () => {
    const { out, sizes } = await compressFrames(payloads, 2);
    let at = 0;
    for (const [i, size] of sizes.entries()) {
      const frame = out.subarray(at, at + size);
      at += size;
      expect(frame.readUInt32LE(0)).toBe(0xfd2fb528);
      expect((await zstdDc(frame)).equals(payloads[i]!)).toBe(true);
      expect((await collect(decompress(chunked(frame, 1000), 'frame'))).equals(payloads[i]!)).toBe(true);
    }
    expect(at).toBe(out.length);
  });

  it('Given a frame with a pledged size, When the frame records its content size, Then zstd -lv reports it', async () => {
    const payload = text(123_457);
    const { out } = await compressFrames([payload], 1);
    const file = join(dir, 'one.zst');
    await writeFile(file, out);
    const r = spawnSync(ZSTD, ['-lv', file]);
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toMatch(/Decompressed Size: .*\(123457 B\)/);
    expect(r.stdout.toString()).toMatch(/Check: XXH64/);
  });

  it('Given a frame begun with a size, When more or fewer bytes are written, Then the compressor refuses', async () => {
    const fc = new FrameCompressor({ level: 3, workers: 1 }, async () => undefined);
    fc.beginFrame(10);
    await expect(fc.write(Buffer.alloc(11))).rejects.toThrow(/overrun/);
    await fc.write(Buffer.alloc(4));
    expect(() => fc.beginFrame(3)).toThrow(/not ended/);
    await expect(fc.endFrame()).rejects.toThrow(/6 bytes early/);
  });
});

describe('seek table', () => {
  /** A fake bundle: frames of the given compressed sizes (arbitrary bytes) followed by the table. */
  function fileWith(entries: SeekEntry[], extra = 0): Buffer {
    const body = randomBytes(entries.reduce((n, e) => n + e.compressedSize, 0) + extra);
    return Buffer.concat([body, encodeSeekTable(entries)]);
  }
  const decode = (file: Buffer, tailSize = 64) =>
    decodeSeekTable(file.subarray(Math.max(0, file.length - tailSize)), file.length, async (s, l) =>
      Buffer.from(file.subarray(s, s + l)),
    );

  it('Given seek entries, When encoded and decoded, Then the same entries come back', async () => {
    const entries: SeekEntry[] = [
      { compressedSize: 300, decompressedSize: 1024 },
      { compressedSize: 120, decompressedSize: 0 },
      { compressedSize: 70_000, decompressedSize: 33_554_432 },
      { compressedSize: 1, decompressedSize: 4_294_967_295 },
    ];
    const table = encodeSeekTable(entries);
    expect(table.readUInt32LE(0)).toBe(SEEK_TABLE_MAGIC);
    expect(table.readUInt32LE(4)).toBe(table.length - 8);
    expect(table.readUInt32LE(table.length - 4)).toBe(SEEKABLE_FOOTER_MAGIC);
    expect(table.readUInt32LE(table.length - 9)).toBe(entries.length);
    expect(await decode(fileWith(entries))).toEqual(entries);
    expect(await decode(fileWith([]))).toEqual([]);
  });

  it('Given a table with 12-byte entries (checksum flag), When decoded, Then the sizes are read and checksums skipped', async () => {
    const entries = [
      { compressedSize: 10, decompressedSize: 20 },
      { compressedSize: 30, decompressedSize: 40 },
    ];
    const body = Buffer.alloc(entries.length * 12 + 9);
    entries.forEach((e, i) => {
      body.writeUInt32LE(e.compressedSize, i * 12);
      body.writeUInt32LE(e.decompressedSize, i * 12 + 4);
      body.writeUInt32LE(0xdeadbeef, i * 12 + 8);
    });
    body.writeUInt32LE(entries.length, entries.length * 12);
    body.writeUInt8(0x80, entries.length * 12 + 4);
    body.writeUInt32LE(SEEKABLE_FOOTER_MAGIC, entries.length * 12 + 5);
    const file = Buffer.concat([randomBytes(40), skippableFrame(body, 0xe)]);
    expect(await decode(file)).toEqual(entries);
  });

  it('Given real frames followed by a seek table, When zstd -dc reads the file, Then it skips the table', async () => {
    const payloads = [text(1000), randomBytes(2000)];
    const { out, sizes } = await compressFrames(payloads, 1);
    const file = Buffer.concat([
      out,
      encodeSeekTable(sizes.map((s, i) => ({ compressedSize: s, decompressedSize: payloads[i]!.length }))),
    ]);
    expect((await zstdDc(file)).equals(Buffer.concat(payloads))).toBe(true);
    expect(await decode(file)).toEqual([
      { compressedSize: sizes[0], decompressedSize: 1000 },
      { compressedSize: sizes[1], decompressedSize: 2000 },
    ]);
  });

  it('Given a file without a seek table, When decoded, Then there is none (undefined), not an error', async () => {
    const { out } = await compressFrames([text(5000)], 1);
    expect(await decode(out)).toBeUndefined();
    expect(await decode(Buffer.alloc(4))).toBeUndefined();
  });

  it('Given frame sizes that do not add up to the file, When decoded, Then a format error (exit 5) says so', async () => {
    const entries = [
      { compressedSize: 100, decompressedSize: 200 },
      { compressedSize: 50, decompressedSize: 60 },
    ];
    const tooLong = await failure(decode(fileWith(entries, 7)));
    expect(tooLong.exitCode).toBe(5);
    expect(tooLong.message).toMatch(/describes 150 bytes of frames but the file holds 157/);

    // A frame lost from the front of the file: the table describes more than is there.
    const file = fileWith(entries);
    const cut = file.subarray(30);
    const tooShort = await failure(decode(cut));
    expect(tooShort.exitCode).toBe(5);
    expect(tooShort.message).toMatch(/truncated or corrupt/);
  });

  it('Given a truncated table (footer claims more entries than the file holds), When decoded, Then exit 5', async () => {
    const table = encodeSeekTable(
      Array.from({ length: 10 }, () => ({ compressedSize: 1, decompressedSize: 1 })),
    );
    // Only the last 20 bytes of the table survive: the footer says 10 frames, the file is too small.
    const file = Buffer.from(table.subarray(table.length - 20));
    const err = await failure(decode(file));
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/larger than the file/);
  });

  it('Given a table whose skippable header is damaged, When decoded, Then exit 5', async () => {
    const file = fileWith([{ compressedSize: 10, decompressedSize: 10 }]);
    const tableStart = file.length - (8 + 8 + 9);
    file.writeUInt32LE(0x184d2a50, tableStart); // a different skippable magic
    const err = await failure(decode(file));
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/seek table header is corrupt/);
  });
});

describe('rawFrame', () => {
  it.each([0, 1, 100, 255, 256, 512, 65_791, 65_792, 70_000, 128 * 1024])(
    'Given %i bytes, When stored as a raw frame, Then zstd -dc and decompress give them back',
    async (size) => {
      const data = randomBytes(size);
      const frame = rawFrame(data);
      const fcs = size < 256 ? 1 : size < 65_792 ? 2 : 4;
      expect(frame.length).toBe(4 + 1 + fcs + 3 + size);
      expect((await zstdDc(frame)).equals(data)).toBe(true);
      expect((await collect(decompress(chunked(frame, 333), 'raw'))).equals(data)).toBe(true);
    },
  );

  it('Given a raw frame, When rewritten with other data of the same length, Then its size is unchanged', () => {
    expect(rawFrame(Buffer.alloc(600, 1)).length).toBe(rawFrame(Buffer.alloc(600, 2)).length);
  });

  it('Given more than one 128 KiB block, When a raw frame is asked for, Then it is refused', () => {
    expect(() => rawFrame(Buffer.alloc(128 * 1024 + 1))).toThrow(/128 KiB/);
  });
});

describe('paddingFrame', () => {
  it('Given a padding frame between two frames, When zstd -dc and decompress read them, Then the padding is skipped', async () => {
    const a = text(3000);
    const b = randomBytes(1000);
    const pad = paddingFrame(1000);
    expect(pad.length).toBe(1000);
    const stream = Buffer.concat([rawFrame(a), pad, compressFrame(b, { level: 3, workers: 1 })]);
    expect((await zstdDc(stream)).equals(Buffer.concat([a, b]))).toBe(true);
    expect((await collect(decompress(chunked(stream, 100), 'pad'))).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('Given a stream that starts with the smallest padding frame, When zstd -dc reads it, Then the padding is skipped', async () => {
    const pad = paddingFrame(8);
    expect(pad.length).toBe(8);
    const data = text(500);
    const stream = Buffer.concat([pad, rawFrame(data)]);
    expect((await zstdDc(stream)).equals(data)).toBe(true);
    expect((await collect(decompress(chunked(stream, 4096), 'pad'))).equals(data)).toBe(true);
  });

  it('Given fewer than 8 bytes, When a padding frame is asked for, Then it is refused', () => {
    expect(() => paddingFrame(7)).toThrow(/at least 8 bytes/);
  });
});

describe('decompress', () => {
  it.each([1, 2, 32])(
    'Given a stream ending with a frame of exactly %i MiB in one chunk, When decompressed, Then it is not called truncated',
    async (mib) => {
      // The decompressor's output buffer is 1 MiB: a frame ending exactly as it fills must still end cleanly
      // (this is what readToc/readTarRange see: a byte range that stops at a frame boundary).
      const data = text(mib * 1024 * 1024);
      const frame = compressFrame(data, { level: 1, workers: 1 });
      expect((await collect(decompress(chunked(frame, frame.length), 'exact'))).equals(data)).toBe(true);
      const two = Buffer.concat([rawFrame(Buffer.from('x')), frame]);
      expect((await collect(decompress(chunked(two, two.length), 'exact'))).length).toBe(data.length + 1);
    },
  );
});

describe('decompress errors', () => {
  it('Given data that is not zstd, When decompressed, Then a format error with exit code 5 is thrown', async () => {
    const err = await failure(
      collect(decompress(chunked(Buffer.from('this is a plain tar, not zstd'), 1024), 'x.tar')),
    );
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/x\.tar: not a zstd stream/);
  });

  it('Given non-zstd data arriving one byte at a time, When decompressed, Then it is still a format error (exit 5)', async () => {
    const err = await failure(
      collect(decompress(chunked(Buffer.from('plain text, not zstd at all'), 1), 'x')),
    );
    expect(err.exitCode).toBe(5);
  });

  it.each([1, 2, 10, 100])(
    'Given a frame with its last %i byte(s) cut off, When decompressed, Then exit code 5 says it is truncated',
    async (cut) => {
      const frame = compressFrame(randomBytes(5000), { level: 3, workers: 1 });
      const err = await failure(
        collect(decompress(chunked(frame.subarray(0, frame.length - cut), 4096), 'b')),
      );
      expect(err.exitCode).toBe(5);
      expect(err.message).toMatch(/truncated|corrupt/);
    },
  );

  it('Given a stream truncated mid-frame after a complete frame, When decompressed, Then exit 5 names truncation', async () => {
    const first = compressFrame(text(4000), { level: 3, workers: 1 });
    const second = compressFrame(text(9000), { level: 3, workers: 1 });
    const stream = Buffer.concat([first, second.subarray(0, 12)]);
    const err = await failure(collect(decompress(chunked(stream, 1 << 20), 'bundle.kcb.tar.zst')));
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/ends in the middle of a zstd frame/);
  });

  it('Given a frame with a flipped byte, When decompressed, Then the checksum or block check fails with exit 5', async () => {
    const frame = Buffer.from(compressFrame(text(50_000), { level: 3, workers: 1 }));
    frame[frame.length - 2]! ^= 0xff; // inside the XXH64 checksum
    const err = await failure(collect(decompress(chunked(frame, 4096), 'b')));
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/corrupt zstd data/);
  });
});

describe('frameBound', () => {
  it.each([
    0,
    1,
    1000,
    65_536,
    128 * 1024 - 1,
    128 * 1024,
    128 * 1024 + 1,
    1024 * 1024,
    4 * 1024 * 1024 + 17,
  ])(
    'Given %i bytes of random data, When compressed (one-shot and streamed), Then the result fits frameBound',
    async (size) => {
      const data = randomBytes(size);
      for (const level of [1, 3, 19]) {
        expect(compressFrame(data, { level, workers: 1 }).length).toBeLessThanOrEqual(frameBound(size));
      }
      for (const workers of [1, 4]) {
        const { out } = await compressFrames([data], workers, 65_521);
        expect(out.length).toBeLessThanOrEqual(frameBound(size));
      }
    },
  );
});
