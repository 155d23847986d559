import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeLeasable } from '../../src/lib/leases.js';
import { Channel, IN_USE_BEHIND } from '../../src/install/channel.js';
import { FileJournal, journalPath } from '../../src/targets/journal.js';
import { destinationOf, RegistryTarget } from '../../src/targets/registry.js';
import { parseOllamaRef, shortName, versionTag } from '../../src/ollama/names.js';

describe('FileJournal', () => {
  it('Given jobs started, completed and failed, When loaded by the next run, Then states and retries are recorded', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'kubechat-journal-')), 'j.jsonl');
    const j = new FileJournal(path);
    await Promise.all([
      j.start('a', 'blob', 'img:1'),
      j.start('b', 'blob', 'img:1'),
      j.start('c', 'file', 'x'),
    ]);
    await j.complete('a');
    await j.fail('b', 'registry down');
    await j.close();
    const again = new FileJournal(path);
    const jobs = await again.load();
    expect(jobs.get('a')).toMatchObject({ state: 'completed', type: 'blob', artifact: 'img:1', retries: 0 });
    expect(jobs.get('b')).toMatchObject({ state: 'failed', error: 'registry down' });
    expect(jobs.get('c')).toMatchObject({ state: 'running' });
    await again.start('b', 'blob', 'img:1');
    await again.complete('b');
    await again.close();
    expect((await new FileJournal(path).load()).get('b')).toMatchObject({ state: 'completed', retries: 1 });
  });

  it('Given a torn last line from a killed run, Then the journal still loads and the torn job is redone', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'kubechat-journal-')), 'j.jsonl');
    const j = new FileJournal(path);
    await j.start('a', 'blob', 'img');
    await j.complete('a');
    await j.close();
    await appendFile(path, '{"k":"b","s":"compl');
    const jobs = await new FileJournal(path).load();
    expect(jobs.get('a')?.state).toBe('completed');
    expect(jobs.has('b')).toBe(false);
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(3);
  });

  it('The journal file is keyed by bundle manifest digest and the set of targets, in any order', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(journalPath('/s', d, ['x', 'y'])).toBe(journalPath('/s', d, ['y', 'x']));
    expect(journalPath('/s', d, ['x'])).not.toBe(journalPath('/s', d, ['y']));
    expect(journalPath('/s', d, ['x'])).toMatch(/^\/s\/install\/aaaaaaaaaaaaaaaa-[a-f0-9]{16}\.jsonl$/);
  });
});

describe('Channel', () => {
  it('Given a slow consumer, Then the producer waits once `capacity` bytes are queued, and all bytes arrive in order', async () => {
    const ch = new Channel(10);
    const got: number[] = [];
    let pushed = 0;
    const producer = (async () => {
      for (let i = 0; i < 6; i++) {
        await ch.push(Buffer.alloc(5, i));
        pushed++;
      }
      ch.end();
    })();
    await new Promise((r) => setTimeout(r, 10));
    expect(pushed).toBe(2); // 10 bytes queued: the third push waits
    for await (const c of ch) got.push(c[0]!);
    await producer;
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('Given end(error), Then the consumer’s iteration throws it after the queued bytes', async () => {
    const ch = new Channel();
    await ch.push(Buffer.from('ab'));
    ch.end(new Error('digest mismatch'));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of ch) seen.push(c.toString());
      })(),
    ).rejects.toThrow('digest mismatch');
    expect(seen).toEqual(['ab']);
  });

  it('Given views of a reusable read buffer, Then each stays leased until the consumer is IN_USE_BEHIND bytes past it, and all are released at the end', async () => {
    const KiB = 1024;
    const ring = Array.from({ length: 4 }, () => {
      const b = Buffer.alloc(1024 * KiB);
      return { b, leases: makeLeasable(b.buffer) };
    });
    const ch = new Channel(64 * 1024 * KiB);
    // Twelve 512 KiB views: two per buffer, buffers used in turn (as a reusing reader does).
    const bufferOf = (i: number) => Math.floor(i / 2) % 4;
    for (let i = 0; i < 12; i++) {
      await ch.push(ring[bufferOf(i)]!.b.subarray((i % 2) * 512 * KiB, ((i % 2) + 1) * 512 * KiB));
    }
    ch.end();
    expect(ring.map((r) => r.leases.size)).toEqual([4, 4, 2, 2]); // nothing taken yet: all leased
    const it = ch[Symbol.asyncIterator]();
    const heldWhenAsked: number[][] = [];
    for (let n = 0; n < 12; n++) {
      await it.next();
      await new Promise((r) => setImmediate(r)); // let released leases settle
      heldWhenAsked.push(ring.map((r) => r.leases.size));
    }
    // Taking chunk k releases the chunks that end IN_USE_BEHIND (2 MiB: four chunks) or more before
    // the start of chunk k: a 1 MiB chunk in a socket's queue plus its 64 KiB high-water mark fit.
    expect(IN_USE_BEHIND).toBe(2048 * KiB);
    expect(heldWhenAsked[4]).toEqual([4, 4, 2, 2]);
    expect(heldWhenAsked[5]).toEqual([3, 4, 2, 2]); // chunk 0 goes
    expect(heldWhenAsked[6]).toEqual([2, 4, 2, 2]);
    expect(heldWhenAsked[11]).toEqual([2, 2, 0, 1]); // chunks 0-6 released, 7-11 held
    expect((await it.next()).done).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(ring.map((r) => r.leases.size)).toEqual([0, 0, 0, 0]);
  });

  it('Given a consumer that never reads (its write failed first), When abandoned, Then pushes return at once and no lease is left', async () => {
    const b = Buffer.alloc(64);
    const leases = makeLeasable(b.buffer);
    const ch = new Channel(16);
    await ch.push(b.subarray(0, 16));
    const blocked = ch.push(b.subarray(16, 32));
    let returned = false;
    void blocked.then(() => (returned = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(returned).toBe(false); // full: waits for the consumer
    expect(leases.size).toBe(1);
    ch.abandon();
    await blocked;
    await ch.push(b.subarray(32, 48)); // after abandon: returns at once, nothing kept
    await new Promise((r) => setImmediate(r));
    expect(leases.size).toBe(0);
  });
});

describe('where artifacts land', () => {
  it('maps bundle refs to registry repositories and tags, under a prefix', () => {
    expect(destinationOf('docker.io/demo/app:1.0')).toEqual({ repository: 'demo/app', tag: '1.0' });
    expect(destinationOf('docker.io/library/nginx:1.27', 'mirror/')).toEqual({
      repository: 'mirror/library/nginx',
      tag: '1.27',
    });
    expect(destinationOf('charts/kubechat:0.1.0')).toEqual({ repository: 'charts/kubechat', tag: '0.1.0' });
    expect(destinationOf('quay.io/a/b:2')).toEqual({ repository: 'a/b', tag: '2' });
    expect(RegistryTarget.withQuery('/v2/x/blobs/uploads/u?_state=s', 'digest=d')).toBe(
      '/v2/x/blobs/uploads/u?_state=s&digest=d',
    );
  });

  it('names Ollama models and their immutable version tags', () => {
    const n = parseOllamaRef('registry.ollama.ai/library/assist:1.0');
    expect(shortName(n)).toBe('assist:1.0');
    expect(shortName(n, versionTag('1.0', `sha256:${'0123456789ab'.repeat(5)}abcd`))).toBe(
      'assist:1.0-0123456789ab',
    );
    expect(shortName(parseOllamaRef('registry.ollama.ai/team/m:q4'))).toBe('team/m:q4');
    expect(shortName(parseOllamaRef('localhost:5000/team/m:q4'))).toBe('localhost:5000/team/m:q4');
    for (const bad of ['../../etc/m:1', 'registry.ollama.ai/../m:1', 'h/ns/m:..', 'h/ns/m'])
      expect(() => parseOllamaRef(bad), bad).toThrow(/not host\/namespace\/model:tag/);
  });
});
