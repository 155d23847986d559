import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/lib/sizes.js';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['65536', 65_536],
    ['512B', 512],
    ['64K', 64 * KiB],
    ['1.5k', 1536],
    ['700M', 700 * MiB],
    ['700MiB', 700 * MiB],
    ['4G', 4 * GiB],
    ['4GiB', 4 * GiB],
    ['2 GiB', 2 * GiB],
    ['1.5G', 1.5 * GiB],
    ['1T', 1024 ** 4],
    ['2TiB', 2 * 1024 ** 4],
  ])('Given %s, When parsed, Then it is %i bytes (K/M/G/T and KiB/MiB/GiB/TiB are binary)', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    ['100KB', 100_000],
    ['700MB', 700_000_000],
    ['700mb', 700_000_000],
    ['4GB', 4_000_000_000],
    ['4.7GB', 4_700_000_000],
    ['2TB', 2_000_000_000_000],
  ])('Given %s, When parsed, Then it is %i bytes (KB/MB/GB/TB are decimal)', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('Given a fraction of a byte, When parsed, Then it is rounded down to whole bytes', () => {
    expect(parseSize('1.0001K')).toBe(1024);
  });

  it.each(['', 'abc', 'G', '-5M', '4X', '1e9', '4 G B', '5Ki', 'fat32'])(
    'Given "%s", When parsed, Then it is not a size',
    (text) => {
      expect(parseSize(text)).toBeUndefined();
    },
  );
});
