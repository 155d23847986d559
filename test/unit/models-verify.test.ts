import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, truncate, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import {
  listStoreManifests,
  storeBlobPath,
  unmatchedNames,
  verifyOllamaStore,
} from '../../src/models/verify.js';

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes blobs and a manifest the way Ollama lays them out; returns the blob descriptors. */
async function putModel(store: string, name: string, blobs: Buffer[]) {
  const descs = [];
  for (const b of blobs) {
    const d = { mediaType: 'application/vnd.ollama.image.model', digest: digestOf(b), size: b.length };
    await mkdir(join(store, 'blobs'), { recursive: true });
    await writeFile(storeBlobPath(store, d.digest), b);
    descs.push(d);
  }
  const config = Buffer.from(JSON.stringify({ model_format: 'gguf', model_family: 'llama' }));
  const cfg = {
    mediaType: 'application/vnd.docker.container.image.v1+json',
    digest: digestOf(config),
    size: config.length,
  };
  await writeFile(storeBlobPath(store, cfg.digest), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: cfg,
      layers: descs,
    }),
  );
  const [repo, tag] = name.split(':') as [string, string];
  const dir = join(store, 'manifests', ...repo.split('/'));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, tag), manifest);
  return { descs, config: cfg, manifestDigest: digestOf(manifest) };
}

describe('verifyOllamaStore', () => {
  let store: string;
  beforeEach(async () => {
    store = await mkdtemp(join(tmpdir(), 'kubechat-verify-'));
  });
  afterEach(async () => {
    await rm(store, { recursive: true, force: true });
  });

  it('Given two models and a version tag sharing a 3 MiB weights blob, Then all pass and the shared blob is hashed once', async () => {
    const weights = randomBytes(3 * 1024 * 1024 + 17);
    const template = Buffer.from('{{ .Prompt }}');
    const a = await putModel(store, 'registry.ollama.ai/library/assist:1.0', [weights, template]);
    await putModel(store, 'registry.ollama.ai/library/assist:1.0-abcdef012345', [weights, template]);
    const b = await putModel(store, 'registry.example.org/team/coder:2', [weights, Buffer.from('params')]);
    let hashed = 0;
    const checks = await verifyOllamaStore(store, { concurrency: 2, onBytes: (n) => (hashed += n) });
    expect(checks.map((c) => c.name)).toEqual([
      'registry.example.org/team/coder:2',
      'registry.ollama.ai/library/assist:1.0',
      'registry.ollama.ai/library/assist:1.0-abcdef012345',
    ]);
    expect(checks.every((c) => c.problems.length === 0 && c.parseError === undefined)).toBe(true);
    const assist = checks[1]!;
    expect(assist.manifestDigest).toBe(a.manifestDigest);
    expect(assist.blobs).toBe(3);
    expect(assist.bytes).toBe(weights.length + template.length + a.config.size);
    // weights once, template once (two manifests), two configs (same bytes: one blob), params once
    const distinct = weights.length + template.length + a.config.size + 'params'.length;
    expect(hashed).toBe(distinct);
    expect(checks[0]!.manifestDigest).toBe(b.manifestDigest);
  });

  it('Given a bit flipped in a shared blob, Then every manifest using it reports it corrupt with the digest found', async () => {
    const weights = randomBytes(2 * 1024 * 1024);
    const { descs } = await putModel(store, 'registry.ollama.ai/library/assist:1.0', [weights]);
    await putModel(store, 'registry.ollama.ai/library/other:1', [weights, Buffer.from('x')]);
    const path = storeBlobPath(store, descs[0]!.digest);
    const fh = await open(path, 'r+');
    await fh.write(Buffer.from([weights[1000]! ^ 1]), 0, 1, 1000);
    await fh.close();
    const flipped = Buffer.from(weights);
    flipped[1000]! ^= 1;
    const checks = await verifyOllamaStore(store);
    for (const c of checks) {
      expect(c.problems).toEqual([
        {
          digest: descs[0]!.digest,
          path,
          problem: 'corrupt',
          expectedSize: weights.length,
          actualSize: weights.length,
          actualDigest: digestOf(flipped),
        },
      ]);
    }
  });

  it('Given a truncated blob and a deleted one, Then they are reported as size and missing', async () => {
    const big = randomBytes(1500);
    const small = Buffer.from('template');
    const { descs } = await putModel(store, 'registry.ollama.ai/library/assist:1.0', [big, small]);
    await truncate(storeBlobPath(store, descs[0]!.digest), 1000);
    await rm(storeBlobPath(store, descs[1]!.digest));
    const [check] = await verifyOllamaStore(store);
    expect(check!.problems).toEqual([
      {
        digest: descs[0]!.digest,
        path: storeBlobPath(store, descs[0]!.digest),
        problem: 'size',
        expectedSize: 1500,
        actualSize: 1000,
      },
      {
        digest: descs[1]!.digest,
        path: storeBlobPath(store, descs[1]!.digest),
        problem: 'missing',
        expectedSize: small.length,
      },
    ]);
  });

  it('Given a manifest that is not JSON and a partial file from an interrupted write, Then the first has a parseError and the second is ignored', async () => {
    await putModel(store, 'registry.ollama.ai/library/assist:1.0', [Buffer.from('w')]);
    const dir = join(store, 'manifests', 'registry.ollama.ai', 'library', 'assist');
    await writeFile(join(dir, 'broken'), '{"layers": [');
    await writeFile(join(dir, '.1.0.partial-123-0'), 'half');
    await writeFile(
      join(dir, 'badref'),
      JSON.stringify({ config: { digest: 'sha256:nothex', size: 1 }, layers: [] }),
    );
    const checks = await verifyOllamaStore(store);
    expect(checks.map((c) => [c.name.split(':')[1], c.parseError?.split(' ')[0]])).toEqual([
      ['1.0', undefined],
      ['badref', 'config:'],
      ['broken', 'not'],
    ]);
  });

  it('Given name filters, Then full, short and untagged names select manifests and unknown names are reported', async () => {
    await putModel(store, 'registry.ollama.ai/library/assist:1.0', [Buffer.from('a')]);
    await putModel(store, 'registry.ollama.ai/library/assist:2.0', [Buffer.from('b')]);
    await putModel(store, 'registry.ollama.ai/team/coder:1', [Buffer.from('c')]);
    const names = async (f: string[]) => (await verifyOllamaStore(store, { names: f })).map((c) => c.name);
    expect(await names(['assist:1.0'])).toEqual(['registry.ollama.ai/library/assist:1.0']);
    expect(await names(['assist'])).toHaveLength(2);
    expect(await names(['team/coder:1', 'registry.ollama.ai/library/assist:2.0'])).toEqual([
      'registry.ollama.ai/library/assist:2.0',
      'registry.ollama.ai/team/coder:1',
    ]);
    expect(unmatchedNames(await listStoreManifests(store), ['assist:1.0', 'nope:1', 'coder:1'])).toEqual([
      'nope:1',
      'coder:1',
    ]);
  });

  it('Given an aborted signal mid-way, Then it rejects with the abort reason', async () => {
    await putModel(store, 'registry.ollama.ai/library/assist:1.0', [randomBytes(8 * 1024 * 1024)]);
    const ctl = new AbortController();
    const run = verifyOllamaStore(store, { signal: ctl.signal, onBytes: () => ctl.abort(new Error('stop')) });
    await expect(run).rejects.toThrow('stop');
  });

  it('Given a store directory that does not exist, Then it fails with a fix; an empty one has no models', async () => {
    const err = await verifyOllamaStore(join(store, 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).fix).toBeTruthy();
    expect(await verifyOllamaStore(store)).toEqual([]);
  });
});
