import { describe, expect, it } from 'vitest';
import { lease } from '../../src/lib/leases.js';
import { BufferRing } from '../../src/lib/buffer-ring.js';
import { forEachLimit, Limiter, mapLimit } from '../../src/lib/concurrency.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('forEachLimit', () => {
  it('Given more tasks than the limit, When run, Then never more than the limit run at once and every task runs', async () => {
    let running = 0;
    let most = 0;
    const ran: number[] = [];
    await forEachLimit(10, 3, async (i) => {
      most = Math.max(most, ++running);
      await tick();
      ran.push(i);
      running--;
    });
    expect(most).toBe(3);
    expect(ran.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('Given a task that fails, When run, Then no new task starts, started ones finish, and the first failure is thrown', async () => {
    const started: number[] = [];
    let finished = 0;
    const run = forEachLimit(10, 2, async (i) => {
      started.push(i);
      if (i === 1) throw new Error('boom');
      await tick();
      finished++;
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([0, 1]);
    expect(finished).toBe(1);
  });

  it('Given stop(), When it says so, Then no new task starts and the run resolves', async () => {
    let stop = false;
    const started: number[] = [];
    await forEachLimit(
      10,
      1,
      async (i) => {
        started.push(i);
        if (i === 2) stop = true;
      },
      { stop: () => stop },
    );
    expect(started).toEqual([0, 1, 2]);
  });

  it('Given mapLimit, When run, Then results come in input order', async () => {
    expect(await mapLimit([3, 1, 2], 2, async (n) => (await tick(), n * 10))).toEqual([30, 10, 20]);
  });
});

describe('Limiter', () => {
  it('Given a limit of 2, When tasks arrive, Then the third waits for a release', async () => {
    const limiter = new Limiter(2);
    const a = await limiter.acquire();
    await limiter.acquire();
    let third = false;
    const waiting = limiter.run(async () => {
      third = true;
    });
    await tick();
    expect(third).toBe(false);
    a();
    a(); // a second release of the same slot is ignored
    await waiting;
    expect(third).toBe(true);
  });
});

describe('BufferRing', () => {
  it('Given a leased buffer, When the ring comes round to it, Then next() waits until the lease ends', async () => {
    const ring = new BufferRing(2, 16);
    const first = await ring.next();
    let end!: () => void;
    expect(lease(first.subarray(0, 4), new Promise<void>((r) => (end = r)))).toBe(true);
    const second = await ring.next();
    expect(second).not.toBe(first);
    let got: Buffer | undefined;
    const again = ring.next().then((b) => (got = b));
    await tick();
    expect(got).toBeUndefined();
    end();
    await again;
    expect(got).toBe(first);
    await ring.idle();
  });

  it('Given shared buffers, When made, Then they live in SharedArrayBuffers (a worker can read them)', async () => {
    const ring = new BufferRing(1, 8, { shared: true });
    expect((await ring.next()).buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});
