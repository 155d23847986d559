/**
 * Rewrites a real bundle with some entries changed, added or removed: how the signing tests make
 * tampered bundles. The result is a plain tar in one zstd frame (like a bundle recompressed by
 * standard tools), which kubechat reads front to back.
 */
import { writeFile } from 'node:fs/promises';
import { openBundle, streamEntries } from '../../src/bundle/reader.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../../src/bundle/tar.js';
import { compressFrame } from '../../src/bundle/zstd.js';
import { collect } from './helpers.js';

export interface TarFile {
  path: string;
  data: Buffer;
}

export async function readEntries(bundlePath: string): Promise<TarFile[]> {
  const bundle = await openBundle(bundlePath);
  const out: TarFile[] = [];
  for await (const e of streamEntries(bundle)) out.push({ path: e.path, data: await collect(e.data) });
  return out;
}

export async function writeEntries(entries: TarFile[], out: string): Promise<void> {
  const mtime = new Date('2026-01-01T00:00:00Z');
  const blocks: Buffer[] = [];
  for (const e of entries)
    blocks.push(encodeHeader(e.path, e.data.length, mtime), e.data, Buffer.alloc(padding(e.data.length)));
  blocks.push(END_OF_ARCHIVE);
  await writeFile(out, compressFrame(Buffer.concat(blocks), { level: 1, workers: 0 }));
}

/** Copies `src` to `out`, letting `edit` change the list of entries (in archive order). */
export async function tamper(
  src: string,
  out: string,
  edit: (entries: TarFile[]) => TarFile[] | void,
): Promise<string> {
  const entries = await readEntries(src);
  await writeEntries(edit(entries) ?? entries, out);
  return out;
}

export const entry = (entries: TarFile[], path: string): TarFile => {
  const e = entries.find((x) => x.path === path);
  if (!e) throw new Error(`test: no entry ${path}`);
  return e;
};
