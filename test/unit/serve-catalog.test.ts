import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCatalog, listTags, type BlobStore } from '../../src/serve/catalog.js';
import { MediaType } from '../../src/oci/media-types.js';
import { collect, failure } from '../support/helpers.js';

const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An in-memory OCI layout: blobs by digest and an index.json. */
function memoryStore(blobs: Buffer[], index: unknown): BlobStore {
  const byDigest = new Map(blobs.map((b) => [digest(b), b]));
  return {
    name: 'memory',
    indexJson: () => Promise.resolve(Buffer.from(JSON.stringify(index))),
    size: (d) => Promise.resolve(byDigest.get(d)?.length),
    async *read(d, start, end) {
      yield byDigest.get(d)!.subarray(start, end);
    },
  };
}

function image(seed: string) {
  const layer = Buffer.from(`layer ${seed}`);
  const config = Buffer.from(`{"seed":"${seed}"}`);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: digest(config), size: config.length },
      layers: [{ mediaType: MediaType.ociLayer, digest: digest(layer), size: layer.length }],
    }),
  );
  const root = (ref: string, kind = 'image') => ({
    mediaType: MediaType.ociManifest,
    digest: digest(manifest),
    size: manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': ref, 'io.kubechat.kind': kind },
  });
  return { blobs: [layer, config, manifest], layer: digest(layer), manifest: digest(manifest), root };
}

describe('buildCatalog', () => {
  it('Given images, a chart and a model, Then each is served under its names and blobs only in its own repositories', async () => {
    const a = image('a');
    const c = image('chart');
    const m = image('model');
    const catalog = await buildCatalog(
      memoryStore([...a.blobs, ...c.blobs, ...m.blobs], {
        schemaVersion: 2,
        manifests: [
          a.root('docker.io/demo/app:1.0'),
          c.root('charts/kubechat:0.1.0', 'chart'),
          m.root('registry.ollama.ai/library/assist:1.0', 'model'),
        ],
      }),
    );
    expect(listTags(catalog).map((t) => `${t.repository}:${t.tag}`)).toEqual([
      'charts/kubechat:0.1.0',
      'demo/app:1.0',
      'docker.io/demo/app:1.0',
      'library/assist:1.0',
      'registry.ollama.ai/library/assist:1.0',
    ]);
    expect(catalog.repositories.get('demo/app')!.blobs.has(a.layer)).toBe(true);
    expect(catalog.repositories.get('charts/kubechat')!.blobs.has(a.layer)).toBe(false);
    expect(catalog.manifests.get(a.manifest)!.mediaType).toBe(MediaType.ociManifest);
    expect(catalog.warnings).toEqual([]);
  });

  it('Given two registries with the same path and tag, Then the short name is withheld and both qualified names serve', async () => {
    const a = image('a');
    const b = image('b');
    const catalog = await buildCatalog(
      memoryStore([...a.blobs, ...b.blobs], {
        manifests: [a.root('docker.io/demo/app:1.0'), b.root('quay.io/demo/app:1.0')],
      }),
    );
    expect(catalog.repositories.get('demo/app')?.tags.get('1.0')).toBeUndefined();
    expect(catalog.repositories.get('docker.io/demo/app')!.tags.get('1.0')).toBe(a.manifest);
    expect(catalog.repositories.get('quay.io/demo/app')!.tags.get('1.0')).toBe(b.manifest);
    expect(catalog.warnings.join('\n')).toContain('demo/app:1.0 names more than one image');
  });

  it('Given a manifest whose bytes do not match its digest, Then an integrity error (exit 6)', async () => {
    const a = image('a');
    const store = memoryStore(a.blobs, { manifests: [a.root('demo/app:1.0')] });
    const tampered: BlobStore = {
      ...store,
      async *read(d, start, end) {
        const real = await collect(store.read(d, start, end));
        yield d === a.manifest ? Buffer.from(real.toString().replace('layer', 'LAYER')) : real;
      },
    };
    const err = await failure(buildCatalog(tampered));
    expect(err.exitCode).toBe(6);
    expect(err.message).toContain('does not match its digest');
  });

  it.each([null, [], { manifests: [null] }])(
    'Given index.json %j, Then an integrity error, never a crash',
    async (index) => {
      const err = await failure(buildCatalog(memoryStore([], index)));
      expect(err.exitCode).toBe(6);
    },
  );
});
