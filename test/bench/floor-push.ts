/**
 * The Node floor for bench:install: the least a Node client can do to put blobs into a registry,
 * with none of kubechat (no CLI, no bundle, no journal, no manifests, no small blobs, no checks).
 * Per file, concurrently: POST an upload, one streamed PATCH of the file in 1 MiB reads, PUT
 * ?digest=. With `--sha256` it also hashes every chunk on the way and compares before the PUT, as
 * install must. Its time against skopeo's, in the same run, says what this machine allows any Node
 * installer that verifies what it sends.
 *
 *   node floor-push.js HOST:PORT [--sha256] FILE...   (each FILE named by its sha256 hex, as in an OCI layout)
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';

const [host, ...rest] = process.argv.slice(2);
const verify = rest.includes('--sha256');
const files = rest.filter((a) => a !== '--sha256');

async function push(file: string, i: number): Promise<void> {
  const base = `http://${host}`;
  const digest = `sha256:${basename(file)}`;
  const post = await request(`${base}/v2/floor/blob${i}/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  if (post.statusCode !== 202) throw new Error(`POST: ${post.statusCode}`);
  const hash = createHash('sha256');
  const body = Readable.from(
    (async function* () {
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        if (verify) hash.update(chunk);
        yield chunk;
      }
    })(),
  );
  const patch = await request(new URL(String(post.headers.location), base), {
    method: 'PATCH',
    body,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) },
  });
  await patch.body.dump();
  if (patch.statusCode !== 202) throw new Error(`PATCH: ${patch.statusCode}`);
  if (verify && `sha256:${hash.digest('hex')}` !== digest) throw new Error(`${file}: digest mismatch`);
  const put = new URL(String(patch.headers.location), base);
  put.searchParams.set('digest', digest);
  const done = await request(put, { method: 'PUT' });
  await done.body.dump();
  if (done.statusCode !== 201) throw new Error(`PUT: ${done.statusCode}`);
}

await Promise.all(files.map(push));
