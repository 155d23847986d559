/** Split sizes and the parts file (`<bundle>.parts.json`) that describes a bundle cut into byte ranges. */
import { formatError, specError } from '../lib/errors.js';
import { parseSize } from '../lib/sizes.js';

/** Media presets: the largest file each can hold (FAT32's 4 GiB - 1 file limit, DVD-5, single-layer BD-R). */
export const SPLIT_PRESETS: Record<string, number> = {
  fat32: 4 * 1024 ** 3 - 1,
  dvd: 4_700_372_992,
  bd: 25_025_314_816,
};

/** Minimum part size: the bundle header must not be shredded into absurdly many files. */
export const MIN_SPLIT_SIZE = 64 * 1024;

/** A media preset or a size (lib/sizes.ts units). */
export function parseSplitSize(value: string): number {
  const preset = SPLIT_PRESETS[value.toLowerCase()];
  if (preset !== undefined) return preset;
  const bytes = parseSize(value);
  if (bytes === undefined) {
    throw specError(`--split ${value}: not a size`, 'use fat32, dvd, bd or a size such as 700M, 4G, 2GiB');
  }
  if (bytes < MIN_SPLIT_SIZE)
    throw specError(`--split ${value}: parts must be at least 64 KiB`, 'use a larger size');
  return bytes;
}

export interface PartInfo {
  name: string;
  size: number;
  sha256: string;
}

export interface PartsFile {
  schemaVersion: 1;
  bundle: string;
  size: number;
  sha256: string;
  parts: PartInfo[];
}

export function parsePartsFile(text: string, file: string): PartsFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw formatError(`${file}: not valid JSON`, 'copy the parts file again from the original media');
  }
  const v = value as Partial<PartsFile>;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    typeof v.bundle === 'string' &&
    typeof v.size === 'number' &&
    typeof v.sha256 === 'string' &&
    Array.isArray(v.parts) &&
    v.parts.length > 0 &&
    v.parts.every(
      (p) =>
        typeof p?.name === 'string' &&
        /^[^/\\]+$/.test(p.name) &&
        Number.isSafeInteger(p.size) &&
        p.size > 0 &&
        /^[a-f0-9]{64}$/.test(p.sha256),
    );
  if (!ok)
    throw formatError(
      `${file}: not a kubechat parts file`,
      'copy the parts file again from the original media',
    );
  const sum = v.parts!.reduce((n, p) => n + p.size, 0);
  if (sum !== v.size) throw formatError(`${file}: parts add up to ${sum} bytes, the file says ${v.size}`);
  return v as PartsFile;
}
