/**
 * Writes real OCI image layouts for tests: layers are genuine tar streams (optionally gzipped), configs
 * carry rootfs diff_ids, so `skopeo inspect oci:DIR:TAG` and `skopeo copy` accept the result.
 * Content is streamed, so 32 MiB layers cost no memory. Output is deterministic for given options.
 * Note: skopeo's oci: transport only considers OCI media types in index.json, so `docker: true` layouts
 * are valid for kubechat but not readable by skopeo.
 */
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header } from 'tar';
import { MediaType } from '../../src/oci/media-types.js';
import type { Descriptor } from '../../src/oci/types.js';

export interface FixtureLayer {
  /** Size of the single file inside the layer tar, in bytes. */
  size: number;
  /** Given: pseudo-random content derived from the seed (incompressible). Absent: one repeated byte. */
  seed?: string | number;
}

export interface OciFixtureOptions {
  /** org.opencontainers.image.ref.name of the image in index.json */
  tag: string;
  layers: FixtureLayer[];
  /** os/arch[/variant]; more than one → an image index with one manifest per platform. Default linux/amd64. */
  platforms?: string[];
  /** Docker schema 2 media types (gzip layers, manifest list) instead of OCI. */
  docker?: boolean;
  /** gzip the layers (always on with docker). */
  gzip?: boolean;
  /** More ref names for the same root. */
  extraTags?: string[];
}

export interface OciFixture {
  indexDigest?: string;
  /** One per platform, in the order of `platforms`. */
  manifestDigests: string[];
  configDigests: string[];
  /** Platform-major: all layers of the first platform, then the next. */
  layerDigests: string[];
}

const CHUNK = 1024 * 1024;

/** The layer's single file: AES-CTR keystream for seeded content, a repeated byte otherwise. */
async function* fileContent(size: number, key: string, seeded: boolean): AsyncGenerator<Buffer> {
  const material = createHash('sha256').update(key).digest();
  const cipher = seeded ? createCipheriv('aes-256-ctr', material, Buffer.alloc(16)) : undefined;
  const fill = material[0] ?? 0x61;
  for (let left = size; left > 0; left -= CHUNK) {
    const n = Math.min(CHUNK, left);
    yield cipher ? cipher.update(Buffer.alloc(n)) : Buffer.alloc(n, fill);
  }
}

async function* layerTar(name: string, size: number, key: string, seeded: boolean): AsyncGenerator<Buffer> {
  const header = new Header({
    path: name,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime: new Date(0),
    type: 'File',
    uname: 'root',
    gname: 'root',
  });
  header.encode();
  if (!header.block) throw new Error('tar header not encoded');
  yield header.block;
  yield* fileContent(size, key, seeded);
  const pad = (512 - (size % 512)) % 512;
  yield Buffer.alloc(pad + 1024); // padding, then the two zero blocks that end an archive
}

function tap(hash: Hash, counter?: { n: number }) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      hash.update(chunk);
      if (counter) counter.n += chunk.length;
      yield chunk;
    }
  };
}

async function writeLayer(
  blobsDir: string,
  index: number,
  layer: FixtureLayer,
  key: string,
  gzip: boolean,
): Promise<{ digest: string; diffId: string; size: number }> {
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const counter = { n: 0 };
  const tmp = join(blobsDir, `.tmp-${process.pid}-${index}-${Math.random().toString(36).slice(2)}`);
  const source = layerTar(`layer-${index}.bin`, layer.size, key, layer.seed !== undefined);
  if (gzip) {
    await pipeline(source, tap(diff), createGzip(), tap(blob, counter), createWriteStream(tmp));
  } else {
    await pipeline(source, tap(diff), tap(blob, counter), createWriteStream(tmp));
  }
  const hex = blob.digest('hex');
  await rename(tmp, join(blobsDir, hex));
  return { digest: `sha256:${hex}`, diffId: `sha256:${diff.digest('hex')}`, size: counter.n };
}

async function writeJsonBlob(blobsDir: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const data = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(data).digest('hex');
  await writeFile(join(blobsDir, hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

function platformOf(s: string): { os: string; architecture: string; variant?: string } {
  const [os = 'linux', architecture = 'amd64', variant] = s.split('/');
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/**
 * Writes (or adds to) an OCI image layout in `dir`. An existing index.json is kept, entries carrying the
 * same ref names are replaced, so several images can share one layout.
 */
export async function writeOciLayout(dir: string, opts: OciFixtureOptions): Promise<OciFixture> {
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const docker = opts.docker ?? false;
  const gzip = docker || (opts.gzip ?? false);
  const platforms = opts.platforms ?? ['linux/amd64'];
  const result: OciFixture = { manifestDigests: [], configDigests: [], layerDigests: [] };
  const children: Descriptor[] = [];

  for (const platformName of platforms) {
    const platform = platformOf(platformName);
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    for (const [i, layer] of opts.layers.entries()) {
      // Platform in the key: each platform gets its own layers, as real multi-arch images do.
      const key = `${platformName}|${i}|${String(layer.seed ?? '')}`;
      const written = await writeLayer(blobsDir, i, layer, key, gzip);
      const mediaType = docker
        ? MediaType.dockerLayerGzip
        : gzip
          ? MediaType.ociLayerGzip
          : MediaType.ociLayer;
      layers.push({ mediaType, digest: written.digest, size: written.size });
      diffIds.push(written.diffId);
      result.layerDigests.push(written.digest);
    }
    const config = await writeJsonBlob(blobsDir, docker ? MediaType.dockerConfig : MediaType.ociConfig, {
      ...platform,
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'kubechat test fixture' })),
    });
    result.configDigests.push(config.digest);
    const manifestType = docker ? MediaType.dockerManifest : MediaType.ociManifest;
    const manifest = await writeJsonBlob(blobsDir, manifestType, {
      schemaVersion: 2,
      mediaType: manifestType,
      config,
      layers,
    });
    result.manifestDigests.push(manifest.digest);
    children.push({ ...manifest, platform });
  }

  let root: Descriptor;
  if (children.length > 1) {
    const indexType = docker ? MediaType.dockerManifestList : MediaType.ociIndex;
    root = await writeJsonBlob(blobsDir, indexType, {
      schemaVersion: 2,
      mediaType: indexType,
      manifests: children,
    });
    result.indexDigest = root.digest;
  } else {
    const only = children[0];
    if (!only) throw new Error('writeOciLayout: at least one platform is needed');
    root = { mediaType: only.mediaType, digest: only.digest, size: only.size };
  }

  const tags = [opts.tag, ...(opts.extraTags ?? [])];
  const existing = await readFile(join(dir, 'index.json'), 'utf8')
    .then((text) => (JSON.parse(text) as { manifests: Descriptor[] }).manifests)
    .catch(() => [] as Descriptor[]);
  const kept = existing.filter(
    (d) => !tags.includes(d.annotations?.['org.opencontainers.image.ref.name'] ?? ''),
  );
  const entries = tags.map((tag) => ({ ...root, annotations: { 'org.opencontainers.image.ref.name': tag } }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...kept, ...entries] }),
  );
  return result;
}
