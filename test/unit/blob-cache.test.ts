import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobCache, defaultCacheDir, parseAge } from '../../src/cache/blob-cache.js';
import { parseSize } from '../../src/lib/sizes.js';
import { failure } from '../support/helpers.js';

const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let dir: string;
let cache: BlobCache;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-cache-'));
  cache = new BlobCache(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('BlobCache', () => {
  it('stores content only under its own digest, and refuses content that hashes differently', async () => {
    const data = Buffer.from('layer');
    await cache.putBuffer(digest(data), data);
    expect(await cache.has(digest(data), data.length)).toBe(true);
    expect(await cache.has(digest(data), data.length + 1)).toBe(false);
    const other = digest(Buffer.from('other'));
    const err = await failure(cache.putBuffer(other, data));
    expect(err.exitCode).toBe(14);
    expect(existsSync(cache.blobPath(other))).toBe(false);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('commit deletes a downloaded file that does not match its digest', async () => {
    await cache.ensureDirs();
    const file = join(dir, 'partial', 'x');
    await writeFile(file, 'tampered');
    const want = digest(Buffer.from('original'));
    const err = await failure(cache.commit(want, file));
    expect(err.kind).toBe('upstreamDigest');
    expect(existsSync(file)).toBe(false);
    expect(existsSync(cache.blobPath(want))).toBe(false);
  });

  it('prune --max-size drops the least recently used first; --older-than drops what was unused that long', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const blobs = [Buffer.alloc(100, 1), Buffer.alloc(200, 2), Buffer.alloc(300, 3)];
    const ages = [1, 40, 10]; // days since last use
    for (const [i, b] of blobs.entries()) {
      await cache.putBuffer(digest(b), b);
      const t = new Date(now.getTime() - ages[i]! * 86400_000);
      await utimes(cache.blobPath(digest(b)), t, t);
    }
    const dry = await cache.prune({ maxSize: 450, now, dryRun: true });
    expect(dry.removed.map((b) => b.size)).toEqual([200]); // 100 (1 d) + 300 (10 d) fit, 200 (40 d) goes
    expect(await cache.has(digest(blobs[1]!))).toBe(true); // dry run kept it (and has() marks it used)
    const aged = await cache.prune({ olderThanMs: 5 * 86400_000, now });
    expect(aged.removed.map((b) => b.size).sort()).toEqual([300]);
    expect((await cache.ls()).map((b) => b.size).sort()).toEqual([100, 200]);
    const all = await cache.prune({ maxSize: 0 });
    expect(all.kept).toBe(0);
    expect(await cache.ls()).toEqual([]);
  });

  it('parses sizes and ages the way the flags take them', () => {
    expect(parseSize('50G')).toBe(50 * 1024 ** 3);
    expect(parseSize('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseSize('1.5k')).toBe(1536);
    expect(parseSize('5X')).toBeUndefined();
    expect(parseAge('30d')).toBe(30 * 86400_000);
    expect(parseAge('2w')).toBe(14 * 86400_000);
    expect(parseAge('30')).toBeUndefined();
    expect(defaultCacheDir({ KUBECHAT_CACHE_DIR: '/c' })).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/kubechat');
  });
});
