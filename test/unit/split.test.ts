import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIN_SPLIT_SIZE, parsePartsFile, parseSplitSize, type PartsFile } from '../../src/bundle/split.js';
import { KubechatError } from '../../src/lib/errors.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function thrown(fn: () => unknown): KubechatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(KubechatError);
  return err as KubechatError;
}

describe('parseSplitSize', () => {
  it.each([
    ['fat32', 4 * GiB - 1],
    ['FAT32', 4 * GiB - 1],
    ['dvd', 4_700_372_992],
    ['bd', 25_025_314_816],
  ])('Given the preset %s, When parsed, Then it is %i bytes', (value, bytes) => {
    expect(parseSplitSize(value)).toBe(bytes);
  });

  it.each([
    ['700M', 700 * MiB],
    ['700MiB', 700 * MiB],
    ['700MB', 700_000_000],
    ['700mb', 700_000_000],
    ['4GiB', 4 * GiB],
    ['4G', 4 * GiB],
    ['4GB', 4_000_000_000],
    ['1.5G', 1.5 * GiB],
    ['64K', 64 * 1024],
    ['100KB', 100_000],
    ['1T', 1024 ** 4],
    ['65536', 65_536],
    ['2 GiB', 2 * GiB],
  ])(
    'Given %s, When parsed, Then it is %i bytes (binary units for K/M/G, decimal for KB/MB/GB)',
    (value, bytes) => {
      expect(parseSplitSize(value)).toBe(bytes);
    },
  );

  it.each(['abc', '', 'G', '-5M', '4X', '1e9', 'fat16', '4 G B'])(
    'Given "%s", When parsed, Then a spec error (exit 3) says it is not a size',
    (value) => {
      const err = thrown(() => parseSplitSize(value));
      expect(err.exitCode).toBe(3);
      expect(err.message).toContain('not a size');
      expect(err.fix).toMatch(/fat32/);
    },
  );

  it.each(['10', '1K', '63KiB', '65535', '0'])(
    'Given %s (below 64 KiB), When parsed, Then a spec error (exit 3) says parts are too small',
    (value) => {
      const err = thrown(() => parseSplitSize(value));
      expect(err.exitCode).toBe(3);
      expect(err.message).toContain('at least 64 KiB');
    },
  );

  it('Given exactly the minimum, When parsed, Then it is accepted', () => {
    expect(parseSplitSize(`${MIN_SPLIT_SIZE}`)).toBe(MIN_SPLIT_SIZE);
  });
});

describe('parsePartsFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubechat-split-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const hex = (c: string) => c.repeat(64);
  const valid = (): PartsFile => ({
    schemaVersion: 1,
    bundle: 'demo-1.0.0.kcb.tar.zst',
    size: 150,
    sha256: hex('a'),
    parts: [
      { name: 'demo-1.0.0.kcb.tar.zst.001', size: 100, sha256: hex('b') },
      { name: 'demo-1.0.0.kcb.tar.zst.002', size: 50, sha256: hex('c') },
    ],
  });

  /** Writes the parts file to disk and parses it back, as openBundleSource does. */
  async function roundTrip(text: string): Promise<PartsFile> {
    const file = join(dir, 'demo-1.0.0.kcb.tar.zst.parts.json');
    await writeFile(file, text);
    return parsePartsFile(await readFile(file, 'utf8'), file);
  }

  async function rejected(text: string): Promise<KubechatError> {
    const err = await roundTrip(text).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).exitCode).toBe(5);
    expect((err as KubechatError).message).toContain(join(dir, 'demo-1.0.0.kcb.tar.zst.parts.json'));
    return err as KubechatError;
  }

  it('Given a valid parts file, When parsed, Then every part comes back', async () => {
    expect(await roundTrip(JSON.stringify(valid(), null, 2))).toEqual(valid());
  });

  it('Given text that is not JSON, When parsed, Then a format error (exit 5) says so', async () => {
    const err = await rejected('{"parts": [');
    expect(err.message).toContain('not valid JSON');
  });

  it.each([
    ['null', 'null'],
    ['an array', '[]'],
    ['no parts', JSON.stringify({ ...valid(), parts: [] })],
    ['a part without a digest', JSON.stringify({ ...valid(), parts: [{ name: 'x.001', size: 150 }] })],
    ['a bad digest', JSON.stringify({ ...valid(), parts: [{ name: 'x.001', size: 150, sha256: 'zz' }] })],
    [
      'a zero-size part',
      JSON.stringify({ ...valid(), size: 0, parts: [{ name: 'x.001', size: 0, sha256: hex('b') }] }),
    ],
    [
      'a fractional size',
      JSON.stringify({ ...valid(), size: 1.5, parts: [{ name: 'x', size: 1.5, sha256: hex('b') }] }),
    ],
    ['a missing bundle name', JSON.stringify({ ...valid(), bundle: undefined })],
  ])(
    'Given a parts file with %s, When parsed, Then it is not a kubechat parts file (exit 5)',
    async (_what, text) => {
      const err = await rejected(text);
      expect(err.message).toContain('not a kubechat parts file');
    },
  );

  it.each(['../evil.001', 'sub/part.001', '/abs/part.001', 'dir\\part.001'])(
    'Given a part named %s, When parsed, Then it is refused (exit 5): parts are plain names beside the parts file',
    async (name) => {
      const v = valid();
      v.parts[0]!.name = name;
      const err = await rejected(JSON.stringify(v));
      expect(err.message).toContain('not a kubechat parts file');
    },
  );

  it('Given part sizes that do not add up to the total, When parsed, Then exit 5 gives both numbers', async () => {
    const err = await rejected(JSON.stringify({ ...valid(), size: 151 }));
    expect(err.message).toContain('parts add up to 150 bytes, the file says 151');
  });
});
