/**
 * The registry target sends views of reused read buffers without copying them; the channel keeps
 * each buffer leased while a socket may still hold it (targets/channel.ts IN_USE_BEHIND). This
 * pushes 1 MiB views (the largest chunk a reader gives) of a four-buffer ring, refilled the moment
 * its leases end, to a registry double that reads slowly, so the socket's queue fills up. Any buffer
 * refilled too early changes bytes on the wire, and the double refuses the digest.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leasesEnded, makeLeasable } from '../../src/lib/leases.js';
import { Channel } from '../../src/install/channel.js';
import { registryTarget } from '../../src/targets/registry.js';
import type { InstallArtifact } from '../../src/install/types.js';

const MiB = 1024 * 1024;

/** POST → 202 + Location; PATCH (read with a pause every 64 KiB) → 202; PUT ?digest= checks the bytes. */
function slowRegistry(): { server: Server; received: () => number } {
  const uploads = new Map<string, { hash: ReturnType<typeof createHash>; size: number }>();
  let received = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/v2/') return res.end('{}');
    if (req.method === 'POST') {
      const id = String(uploads.size + 1);
      uploads.set(id, { hash: createHash('sha256'), size: 0 });
      res.writeHead(202, { location: `/v2/test/blobs/uploads/${id}`, 'content-length': 0 });
      return res.end();
    }
    const id = url.pathname.split('/').pop()!;
    const upload = uploads.get(id);
    if (!upload) return res.writeHead(404).end();
    if (req.method === 'PATCH') {
      req.on('data', (chunk: Buffer) => {
        upload.hash.update(chunk);
        upload.size += chunk.length;
        received += chunk.length;
        req.pause();
        setTimeout(() => req.resume(), 2); // a registry slower than the reader: the socket backs up
      });
      req.on('end', () => {
        res.writeHead(202, { location: `/v2/test/blobs/uploads/${id}`, 'content-length': 0 });
        res.end();
      });
      return;
    }
    if (req.method === 'PUT') {
      const digest = `sha256:${upload.hash.digest('hex')}`;
      req.resume();
      req.on('end', () => {
        if (digest !== url.searchParams.get('digest')) {
          res.writeHead(400, { 'content-type': 'application/json' });
          return res.end(
            JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'digest did not match' }] }),
          );
        }
        res.writeHead(201, { location: `/v2/test/blobs/${digest}`, 'content-length': 0 });
        res.end();
      });
      return;
    }
    res.writeHead(405).end();
  });
  return { server, received: () => received };
}

describe('registry push of reused read buffers', () => {
  let registry: ReturnType<typeof slowRegistry>;
  let host: string;
  beforeAll(async () => {
    registry = slowRegistry();
    await new Promise<void>((r) => registry.server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(registry.server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => registry.server.close(() => r())));

  it('Given 1 MiB views of a four-buffer ring refilled as soon as their leases end, When pushed to a slow registry, Then it receives exactly the bytes hashed', async () => {
    const ring = Array.from({ length: 4 }, () => {
      const buffer = Buffer.allocUnsafeSlow(MiB);
      return { buffer, leases: makeLeasable(buffer.buffer) };
    });
    const size = 24 * MiB; // above the monolithic limit: chunked PATCHes of a stream body
    const content = Array.from({ length: size / MiB }, () => randomFillSync(Buffer.alloc(MiB)));
    const digest = `sha256:${createHash('sha256').update(Buffer.concat(content)).digest('hex')}`;
    const channel = new Channel();
    const producer = (async () => {
      for (const [i, bytes] of content.entries()) {
        const slot = ring[i % ring.length]!;
        await leasesEnded(slot.leases);
        bytes.copy(slot.buffer); // new bytes in a buffer a socket may still be sending
        await channel.push(slot.buffer);
      }
      channel.end();
    })();
    const target = await registryTarget({ registry: host });
    await target.prepare();
    const artifact = { ref: `${host}/test:1` } as InstallArtifact;
    const descriptor = { mediaType: 'application/octet-stream', size, digest };
    await Promise.all([target.writeBlob(descriptor, [artifact], channel), producer]);
    await target.close();
    expect(registry.received()).toBe(size);
    expect(ring.map((r) => r.leases.size)).toEqual([0, 0, 0, 0]);
  });
});
