import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { goFixed, humanNumber, readGgufHeader } from '../../src/models/gguf.js';
import { str, u32, u64, writeGguf } from '../support/gguf-fixture.js';
import { sourceFailure } from '../support/helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-gguf-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header = (...parts: Buffer[]) => Buffer.concat([Buffer.from('GGUF'), u32(3), ...parts]);

describe('readGgufHeader', () => {
  it('reads the fields Ollama shows from a GGUF v3 header', async () => {
    // Given a Q4_K_M llama model with three tensors
    const path = join(dir, 'assist.gguf');
    await writeGguf(path, {
      architecture: 'llama',
      fileType: 15,
      name: 'Assist',
      license: 'apache-2.0',
      contextLength: 8192,
      tensors: [
        { name: 'token_embd.weight', dims: [256, 1000], type: 12 },
        { name: 'blk.0.attn_q.weight', dims: [256, 256], type: 12 },
        { name: 'output_norm.weight', dims: [256], type: 0 },
      ],
    });
    // When its header is read
    const info = await readGgufHeader(path);
    // Then every field is there
    expect(info).toMatchObject({
      version: 3,
      tensorCount: 3,
      architecture: 'llama',
      fileType: 'Q4_K_M',
      fileTypeId: 15,
      parameterCount: 256_000 + 65_536 + 256,
      parameterSize: '322K',
      contextLength: 8192,
      license: 'apache-2.0',
      alignment: 32,
    });
    expect(info.kv.get('general.name')).toBe('Assist');
    expect(info.dataOffset % 32).toBe(0);
  });

  it('reads GGUF v2 and names F32 and unknown file types', async () => {
    const path = join(dir, 'v2.gguf');
    await writeGguf(path, { version: 2, fileType: 0 });
    expect(await readGgufHeader(path)).toMatchObject({ version: 2, fileType: 'F32' });
    await writeGguf(path, { fileType: 4 });
    expect((await readGgufHeader(path)).fileType).toBe('unknown');
    await writeGguf(path, {});
    expect(await readGgufHeader(path)).toMatchObject({ fileType: 'unknown', fileTypeId: undefined });
  });

  it('parses every metadata type, keeps small arrays and skips vocabulary-sized ones', async () => {
    // Given metadata of every type, nested arrays, and a 50 000-entry token list before a later key
    const path = join(dir, 'types.gguf');
    const tokens = Array.from({ length: 50_000 }, (_, i) => `tok${i}`);
    await writeGguf(path, {
      kv: {
        u8: { type: 'uint8', value: 255 },
        i8: { type: 'int8', value: -128 },
        u16: { type: 'uint16', value: 65535 },
        i16: { type: 'int16', value: -32768 },
        i32: { type: 'int32', value: -5 },
        f32: { type: 'float32', value: 0.5 },
        f64: { type: 'float64', value: 1.25 },
        u64: { type: 'uint64', value: 2n ** 40n },
        i64big: { type: 'int64', value: -(2n ** 62n) },
        yes: true,
        nested: {
          array: 'array',
          values: [
            { array: 'int32', values: [1, 2] },
            { array: 'string', values: ['a'] },
          ],
        },
        'tokenizer.ggml.tokens': { array: 'string', values: tokens },
        'tokenizer.ggml.scores': { array: 'float32', values: tokens.map(() => 0) },
        after: 'still read',
      },
    });
    // When the header is read
    const { kv } = await readGgufHeader(path);
    // Then small values are decoded with their types
    expect(Object.fromEntries(['u8', 'i8', 'u16', 'i16', 'i32', 'f32', 'f64', 'u64', 'yes'].map((k) => [k, kv.get(k)]))).toEqual({
      u8: 255, i8: -128, u16: 65535, i16: -32768, i32: -5, f32: 0.5, f64: 1.25, u64: 2 ** 40, yes: true,
    }); // prettier-ignore
    expect(kv.get('i64big')).toBe(-(2n ** 62n));
    expect(kv.get('nested')).toEqual([[1, 2], ['a']]);
    // And big arrays are skipped without losing the keys that follow
    expect(kv.has('tokenizer.ggml.tokens')).toBe(false);
    expect(kv.has('tokenizer.ggml.scores')).toBe(false);
    expect(kv.get('after')).toBe('still read');
  });

  it('reads values that straddle its 1 MiB read buffer', async () => {
    const path = join(dir, 'straddle.gguf');
    const template = 'T'.repeat(600_000);
    await writeGguf(path, {
      kv: {
        pad: { array: 'uint64', values: new Array<number>(90_000).fill(1) },
        'tokenizer.chat_template': template,
        after: 'ok',
      },
    });
    const { kv } = await readGgufHeader(path);
    expect(kv.get('tokenizer.chat_template')).toBe(template);
    expect(kv.get('after')).toBe('ok');
  });

  it('reads only the header of a large file', async () => {
    const path = join(dir, 'big.gguf');
    await writeGguf(path, { padTo: 64 << 20, fileType: 7 });
    const info = await readGgufHeader(path);
    expect(info).toMatchObject({ fileSize: 64 << 20, fileType: 'Q8_0' });
  });

  it('uses general.parameter_count only when the file lists no tensors', async () => {
    const path = join(dir, 'p.gguf');
    await writeGguf(path, {
      tensors: [],
      kv: { 'general.parameter_count': { type: 'uint64', value: 8_030_261_248 } },
    });
    expect(await readGgufHeader(path)).toMatchObject({
      parameterCount: 8_030_261_248,
      parameterSize: '8.0B',
    });
  });

  it('rejects a file with another magic, naming the file', async () => {
    const path = join(dir, 'assist.gguf');
    await writeFile(path, 'abcd and more bytes');
    const err = await sourceFailure(readGgufHeader(path, 'models/assist.gguf'));
    expect(err.message).toBe('models/assist.gguf: not a GGUF file (magic "abcd", expected "GGUF")');
    await writeFile(path, '');
    expect((await sourceFailure(readGgufHeader(path))).message).toContain('not a GGUF file (only 0 bytes)');
  });

  it('rejects big-endian and unknown versions', async () => {
    const path = join(dir, 'be.gguf');
    await writeFile(path, Buffer.concat([Buffer.from('GGUF'), Buffer.from([0, 0, 0, 3]), u64(0), u64(0)]));
    expect((await sourceFailure(readGgufHeader(path))).message).toContain('big-endian GGUF is not supported');
    await writeFile(path, Buffer.concat([Buffer.from('GGUF'), u32(1), u64(0), u64(0)]));
    expect((await sourceFailure(readGgufHeader(path))).message).toContain('unsupported GGUF version 1');
  });

  it('reports a truncated header and a file cut inside the tensor data', async () => {
    // Given a valid file cut in its metadata
    const path = join(dir, 'cut.gguf');
    const tensors = [{ name: 'w', dims: [1024], type: 0 }];
    await writeGguf(path, { name: 'x'.repeat(100), tensors });
    await truncate(path, 60);
    expect((await sourceFailure(readGgufHeader(path))).message).toMatch(/cut\.gguf: truncated GGUF header/);
    // And one cut in its tensor data (1024 F32 values: 4096 bytes)
    const size = await writeGguf(path, { name: 'x', tensors });
    await truncate(path, size - 1);
    expect((await sourceFailure(readGgufHeader(path))).message).toMatch(
      /truncated GGUF file: tensor "w" ends at/,
    );
  });

  it('refuses absurd lengths and counts without allocating them', async () => {
    const path = join(dir, 'evil.gguf');
    const before = process.memoryUsage().arrayBuffers;
    // A key claiming 2^62 bytes, a value claiming 2 GiB, an array claiming 2^40 items, 2^50 tensors
    const cases: Array<[Buffer, RegExp]> = [
      [header(u64(0), u64(1), u64(2n ** 62n)), /metadata key claims a length of 4611686018427387904 bytes/],
      [header(u64(0), u64(1), str('k'), u32(8), u64(2n ** 31n)), /value of k claims a length of 2147483648/],
      [
        header(u64(0), u64(1), str('k'), u32(9), u32(4), u64(2n ** 40n)),
        /k claims 1099511627776 array items/,
      ],
      [header(u64(2n ** 50n), u64(0)), /claims 1125899906842624 tensors/],
      [header(u64(0), u64(1), str('k'), u32(99)), /k has unknown value type 99/],
      [header(u64(1), u64(0), str('t'), u32(9)), /tensor "t" has 9 dimensions/],
    ];
    for (const [bytes, message] of cases) {
      await writeFile(path, Buffer.concat([bytes, Buffer.alloc(64)]));
      const err = await sourceFailure(readGgufHeader(path));
      expect(err.message).toMatch(/evil\.gguf: corrupt GGUF header at offset \d+: /);
      expect(err.message).toMatch(message);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });

  it('reports a missing file as a source error', async () => {
    const err = await sourceFailure(readGgufHeader(join(dir, 'nope.gguf'), 'models/nope.gguf'));
    expect(err.message).toBe('models/nope.gguf: no such file or directory');
  });
});

describe('humanNumber', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [1000, '1K'],
    [1001, '1K'],
    [1500, '2K'],
    [2500, '2K'],
    [1_000_000, '1M'],
    [125_000_000, '125M'],
    [135_269_952, '135.27M'],
    [500_500_000, '500.50M'],
    [500_550_000, '500.55M'],
    [1_000_000_000, '1B'],
    [2_250_000_000, '2.2B'],
    [2_800_000_000, '2.8B'],
    [2_850_000_000, '2.9B'],
    [8_030_261_248, '8.0B'],
    [1_000_000_000_000, '1000B'],
  ])('formats %d as %s like Ollama', (n, expected) => {
    expect(humanNumber(n)).toBe(expected);
  });

  it('rounds exact ties to even like Go', () => {
    expect([goFixed(0.125, 2), goFixed(0.375, 2), goFixed(2.5, 0), goFixed(3.5, 0)]).toEqual([
      '0.12',
      '0.38',
      '2',
      '4',
    ]);
  });
});
