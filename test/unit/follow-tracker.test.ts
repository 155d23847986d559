import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lease } from '../../src/lib/leases.js';
import { Tracker } from '../../src/sources/pull-sources.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-follow-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

describe('following a download (Tracker.follow)', () => {
  it('Given a consumer that leases every chunk to a slow write, When it follows a 40 MiB blob, Then no chunk is overwritten before its lease ends', async () => {
    const data = randomBytes(40 * MiB + 777);
    const partial = join(dir, 'blob.partial');
    await writeFile(partial, data);
    const t = new Tracker(partial, join(dir, 'blob'), data.length, 'sha256:unused');
    // The prefix grows in uneven steps, as ranges complete.
    const steps = [3 * MiB, 9 * MiB, 9 * MiB + 5, 25 * MiB, data.length];
    void (async () => {
      for (const s of steps) {
        await new Promise((r) => setTimeout(r, 5));
        t.advance(s);
      }
      t.finish();
    })();
    // Hold every chunk, leased until a "write" that ends only after the next chunks were read; check
    // its bytes when the lease ends, as a positional write would read them then.
    let at = 0;
    let chunks = 0;
    const checks: Array<Promise<boolean>> = [];
    for await (const chunk of t.follow()) {
      const start = at;
      at += chunk.length;
      chunks++;
      const write = new Promise<void>((r) => setTimeout(r, 30));
      expect(lease(chunk, write)).toBe(true);
      checks.push(write.then(() => chunk.equals(data.subarray(start, start + chunk.length))));
    }
    expect(at).toBe(data.length);
    expect(chunks).toBeGreaterThan(10); // several laps of the ring
    expect(await Promise.all(checks)).not.toContain(false);
  });

  it('Given a download that fails midway, When followed, Then the reader gets the error', async () => {
    const partial = join(dir, 'fail.partial');
    await writeFile(partial, Buffer.alloc(MiB, 1));
    const t = new Tracker(partial, join(dir, 'fail'), 4 * MiB, 'sha256:unused');
    t.advance(MiB);
    setTimeout(() => t.fail(new Error('connection reset')), 10);
    let seen = 0;
    await expect(
      (async () => {
        for await (const chunk of t.follow()) seen += chunk.length;
      })(),
    ).rejects.toThrow('connection reset');
    expect(seen).toBe(MiB);
  });
});
