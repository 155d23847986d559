import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkerHash } from '../../src/lib/hashing-reader.js';
import { makeLeasable } from '../../src/lib/leases.js';

describe('WorkerHash', () => {
  it('Given leased shared chunks mixed with plain ones, Then the digest equals sha256 of the bytes in order', async () => {
    const shared = new SharedArrayBuffer(3 * 1024 * 1024);
    const leases = makeLeasable(shared);
    const data = randomBytes(9 * 1024 * 1024 + 123);
    const h = new WorkerHash();
    const expected = createHash('sha256');
    let at = 0;
    for (let i = 0; at < data.length; i++) {
      const n = Math.min(data.length - at, 700_000 + i * 1000);
      const piece = data.subarray(at, at + n);
      at += n;
      expected.update(piece);
      if (i % 2 === 0) {
        // The way the decompressor hands out chunks: a view into a leasable shared buffer.
        while (leases.size > 0) await Promise.all(leases);
        const view = Buffer.from(shared, 1000, n);
        piece.copy(view);
        await h.update(view);
        expect(leases.size).toBe(1); // leased until the worker has hashed it
      } else {
        await h.update(Buffer.from(piece)); // copied into a slot; the caller may reuse it at once
      }
    }
    expect(await h.digest()).toBe(expected.digest('hex'));
    expect(leases.size).toBe(0);
  });

  it('Given many streams at once, Then each gets its own digest', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => randomBytes(100_000 * (i + 1)));
    const hashes = inputs.map(() => new WorkerHash());
    for (const [i, h] of hashes.entries()) await h.update(inputs[i]!);
    const digests = await Promise.all(hashes.map((h) => h.digest()));
    expect(digests).toEqual(inputs.map((d) => createHash('sha256').update(d).digest('hex')));
  });
});
