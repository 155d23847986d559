import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrefixHasher } from '../../src/oci/prefix-hasher.js';

describe('PrefixHasher', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubechat-prefix-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('Given a file that grows, When its prefix is advanced and finished, Then the digest is the whole file’s sha256', async () => {
    const file = join(dir, 'partial');
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(3 * 1024 * 1024 + 7), randomBytes(11)];
    await writeFile(file, '');
    const hasher = new PrefixHasher(file);
    let size = 0;
    for (const p of parts) {
      await appendFile(file, p);
      size += p.length;
      hasher.advance(size);
    }
    const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    expect(await hasher.finish(size)).toBe(expected);
  });

  it('Given two hashers at once, When finished, Then each gets its own file’s digest', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await writeFile(a, 'alpha');
    await writeFile(b, 'beta');
    const [ha, hb] = [new PrefixHasher(a), new PrefixHasher(b)];
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(await Promise.all([ha.finish(5), hb.finish(4)])).toEqual([sha('alpha'), sha('beta')]);
  });
});
