import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFileBlob, type ImageInfo, type MemoryBlob, type PlannedArtifact } from '../../src/bundle/plan.js';
import { sha256Digest } from '../../src/lib/digest.js';
import { KubechatError } from '../../src/lib/errors.js';
import { MediaType } from '../../src/oci/media-types.js';
import { formatPlatform, parsePlatform } from '../../src/oci/platform.js';
import { planOciLayoutImage } from '../../src/sources/oci-layout.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { sourceFailure } from '../support/helpers.js';

const run = promisify(execFile);
const SKOPEO = '/usr/bin/skopeo';
const REF = 'docker.io/demo/hello:1.0';
const amd64 = [parsePlatform('linux/amd64')];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-oci-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// `tag` is passed through as given: undefined means "no tag in the spec".
const plan = (platforms = amd64, all = false, ...tag: [string | undefined] | []) =>
  planOciLayoutImage(
    { ref: REF, layoutDir: dir, tag: tag.length === 0 ? '1.0' : tag[0], source: `oci:${dir}:1.0` },
    platforms,
    all,
  );

const digests = (a: PlannedArtifact) => a.blobs.map((b) => b.digest).sort();
const finish = (a: PlannedArtifact) => a.finish(() => 'unused');

describe('oci fixture', () => {
  it.skipIf(!existsSync(SKOPEO))(
    'Given a fixture layout with a 32 MiB gzip layer, When skopeo inspects and copies it, Then it is a real image',
    async () => {
      const fx = await writeOciLayout(dir, {
        tag: '1.0',
        layers: [{ size: 32 * 1024 * 1024, seed: 1 }, { size: 1000 }],
        gzip: true,
      });
      const { stdout } = await run(SKOPEO, ['inspect', `oci:${dir}:1.0`]);
      const inspected = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string };
      expect(inspected.Digest).toBe(fx.manifestDigests[0]);
      expect(inspected.Layers).toEqual(fx.layerDigests);
      expect(inspected.Architecture).toBe('amd64');
      const copy = join(dir, 'copy');
      await run(SKOPEO, ['copy', '--insecure-policy', `oci:${dir}:1.0`, `dir:${copy}`]);
      expect((await stat(join(copy, 'manifest.json'))).isFile()).toBe(true);
      // skopeo does not check diff_ids: do it here, and list the layer with tar as a real tar stream.
      const blob = (d: string) => join(dir, 'blobs', 'sha256', d.slice(7));
      const config = JSON.parse(await readFile(blob(fx.configDigests[0] as string), 'utf8')) as {
        rootfs: { diff_ids: string[] };
      };
      const unpacked = await Promise.all(
        fx.layerDigests.map(async (d) => gunzipSync(await readFile(blob(d)))),
      );
      expect(config.rootfs.diff_ids).toEqual(unpacked.map((u) => sha256Digest(u)));
      const listing = await run('tar', ['-tzf', blob(fx.layerDigests[0] as string)]);
      expect(listing.stdout.trim()).toBe('layer-0.bin');
    },
  );

  // skopeo's oci: transport only looks at OCI media types in index.json, so the docker variant is not checked here.
  it.skipIf(!existsSync(SKOPEO))(
    'Given a multi-platform fixture, When skopeo inspects it, Then it is an index with the arm64 image in it',
    async () => {
      await writeOciLayout(dir, {
        tag: '1.0',
        layers: [{ size: 10 }],
        platforms: ['linux/amd64', 'linux/arm64'],
      });
      const { stdout } = await run(SKOPEO, ['inspect', '--raw', `oci:${dir}:1.0`]);
      expect((JSON.parse(stdout) as { mediaType: string }).mediaType).toBe(MediaType.ociIndex);
      const arm = await run(SKOPEO, ['inspect', '--override-arch', 'arm64', `oci:${dir}:1.0`]);
      expect((JSON.parse(arm.stdout) as { Architecture: string }).Architecture).toBe('arm64');
    },
  );
});

describe('planOciLayoutImage: single manifest', () => {
  it('Given a single-platform layout, When planned, Then manifest and config are memory blobs and layers file blobs', async () => {
    const fx = await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 5000, seed: 'a' }, { size: 10 }] });
    const artifact = await plan();
    const { root, info, extra } = finish(artifact);

    expect(artifact.kind).toBe('image');
    expect(artifact.refName).toBe(REF);
    expect(artifact.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(root.digest).toBe(fx.manifestDigests[0]);
    expect(root.mediaType).toBe(MediaType.ociManifest);
    expect(sha256Digest(root.data)).toBe(root.digest);
    expect(extra).toEqual([]);
    expect(digests(artifact)).toEqual([...(fx.configDigests as string[]), ...fx.layerDigests].sort());
    const layers = artifact.blobs.filter(isFileBlob);
    expect(layers.map((l) => l.digest)).toEqual(fx.layerDigests);
    for (const l of layers) expect(l.path).toBe(join(dir, 'blobs', 'sha256', l.digest?.slice(7) ?? ''));
    const config = artifact.blobs.find((b) => !isFileBlob(b)) as MemoryBlob;
    expect(sha256Digest(config.data)).toBe(config.digest);
    expect(info).toEqual<ImageInfo>({
      kind: 'image',
      ref: REF,
      source: `oci:${dir}:1.0`,
      digest: root.digest,
      mediaType: MediaType.ociManifest,
      platforms: ['linux/amd64'],
    });
  });

  it('Given a docker-schema layout, When planned, Then docker media types are kept', async () => {
    await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 100 }], docker: true });
    const artifact = await plan();
    expect(finish(artifact).root.mediaType).toBe(MediaType.dockerManifest);
    expect(artifact.blobs.filter(isFileBlob)[0]?.mediaType).toBe(MediaType.dockerLayerGzip);
  });

  it('Given two identical layers, When planned, Then the blob appears once', async () => {
    await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 64, seed: 's' }] });
    const manifestPath = (d: string) => join(dir, 'blobs', 'sha256', d.slice(7));
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; size: number }>;
    };
    const entry = index.manifests[0] as { digest: string; size: number };
    const manifest = JSON.parse(await readFile(manifestPath(entry.digest), 'utf8')) as { layers: unknown[] };
    manifest.layers.push(manifest.layers[0]);
    const data = Buffer.from(JSON.stringify(manifest));
    const digest = sha256Digest(data);
    await writeFile(manifestPath(digest), data);
    Object.assign(entry, { digest, size: data.length });
    await writeFile(join(dir, 'index.json'), JSON.stringify(index));

    const artifact = await plan();
    expect(artifact.blobs.filter(isFileBlob)).toHaveLength(1);
  });

  it('Given a single amd64 image, When arm64 is asked for, Then a source error names the platform', async () => {
    await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 10 }] });
    const err = await sourceFailure(plan([parsePlatform('linux/arm64')]));
    expect(err.message).toContain(dir);
    expect(err.message).toContain('linux/arm64');
    expect(err.message).toContain('linux/amd64');
  });

  it('Given several tags, When planning by tag, full ref name, or none, Then the right manifest or a listing error comes back', async () => {
    const a = await writeOciLayout(dir, {
      tag: '1.0',
      layers: [{ size: 10 }],
      extraTags: ['docker.io/demo/hello:1.0'],
    });
    const b = await writeOciLayout(dir, { tag: '2.0', layers: [{ size: 20 }] });
    expect(finish(await plan(amd64, false, '2.0')).root.digest).toBe(b.manifestDigests[0]);
    expect(finish(await plan(amd64, false, 'demo/hello:1.0')).root.digest).toBe(a.manifestDigests[0]);
    const missing = await sourceFailure(plan(amd64, false, '3.0'));
    expect(missing.message).toContain('"3.0"');
    expect(missing.message).toContain('2.0');
    const ambiguous = await sourceFailure(plan(amd64, false, undefined));
    expect(ambiguous.message).toContain('3 manifests');
  });

  it('Given only full ref names in the layout, When planning by the bare tag, Then the ref decides', async () => {
    const fx = await writeOciLayout(dir, { tag: 'docker.io/demo/hello:1.0', layers: [{ size: 10 }] });
    expect(finish(await plan()).root.digest).toBe(fx.manifestDigests[0]);
  });

  it('Given one manifest and no tag, When planned, Then that manifest is taken', async () => {
    const fx = await writeOciLayout(dir, { tag: 'whatever', layers: [{ size: 10 }] });
    expect(finish(await plan(amd64, false, undefined)).root.digest).toBe(fx.manifestDigests[0]);
  });
});

describe('planOciLayoutImage: image index', () => {
  const three = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];

  it('Given a 3-platform index, When two platforms are chosen, Then the original index is root and only their children are stored', async () => {
    const fx = await writeOciLayout(dir, {
      tag: '1.0',
      layers: [{ size: 100, seed: 1 }, { size: 50 }],
      platforms: three,
    });
    const indexBytes = await readFile(join(dir, 'blobs', 'sha256', fx.indexDigest?.slice(7) ?? ''));
    const artifact = await plan([parsePlatform('linux/arm64'), parsePlatform('linux/arm')]);
    const { root, info } = finish(artifact);

    expect(root.digest).toBe(fx.indexDigest);
    expect(root.data.equals(indexBytes)).toBe(true);
    expect(root.mediaType).toBe(MediaType.ociIndex);
    expect(artifact.platform).toBeUndefined();
    expect(info.kind === 'image' && info.platforms).toEqual(['linux/arm64', 'linux/arm/v7']);
    const kept = [1, 2].flatMap((p) => [
      fx.manifestDigests[p] as string,
      fx.configDigests[p] as string,
      ...fx.layerDigests.slice(p * 2, p * 2 + 2),
    ]);
    expect(digests(artifact)).toEqual(kept.sort());
    expect(digests(artifact)).not.toContain(fx.manifestDigests[0]);
  });

  it('Given a 3-platform index, When all platforms are asked for, Then every child is stored', async () => {
    const fx = await writeOciLayout(dir, {
      tag: '1.0',
      layers: [{ size: 10 }],
      platforms: three,
      docker: true,
    });
    const artifact = await plan(amd64, true);
    expect(finish(artifact).root.mediaType).toBe(MediaType.dockerManifestList);
    expect(digests(artifact)).toEqual(
      [...fx.manifestDigests, ...fx.configDigests, ...fx.layerDigests].sort(),
    );
    const info = finish(artifact).info as ImageInfo;
    expect(info.platforms).toEqual(three);
  });

  it('Given an index without s390x, When s390x is asked for, Then the error lists the available platforms', async () => {
    await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 10 }], platforms: three });
    const err = await sourceFailure(plan([parsePlatform('linux/amd64'), parsePlatform('linux/s390x')]));
    expect(err.message).toContain('linux/s390x');
    expect(err.message).toContain('linux/amd64, linux/arm64, linux/arm/v7');
  });

  it('Given an index with one real platform and an attestation, When planned, Then its image manifest is the root', async () => {
    const fx = await writeOciLayout(dir, {
      tag: '1.0',
      layers: [{ size: 10 }],
      platforms: ['linux/amd64', 'unknown/unknown'],
    });
    const artifact = await plan();
    expect(finish(artifact).root.digest).toBe(fx.manifestDigests[0]);
    expect(artifact.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(digests(artifact)).not.toContain(fx.manifestDigests[1]);
  });
});

describe('planOciLayoutImage: broken layouts', () => {
  it('Given a manifest blob whose bytes changed, When planned, Then a digest mismatch names layout and digest', async () => {
    const fx = await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 10 }] });
    const digest = fx.manifestDigests[0] as string;
    const path = join(dir, 'blobs', 'sha256', digest.slice(7));
    const data = await readFile(path);
    data[data.length - 2] = data[data.length - 2] === 0x5d ? 0x7d : 0x5d; // same size, other content
    await writeFile(path, data);
    const err = await sourceFailure(plan());
    expect(err.message).toContain(dir);
    expect(err.message).toContain(digest);
    expect(err.message).toContain('corrupt');
  });

  it('Given a missing layer blob, When planned, Then the error names layout and digest', async () => {
    const fx = await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 10 }, { size: 20 }] });
    const digest = fx.layerDigests[1] as string;
    await unlink(join(dir, 'blobs', 'sha256', digest.slice(7)));
    const err = await sourceFailure(plan());
    expect(err.message).toContain(dir);
    expect(err.message).toContain(`layer blob ${digest} is missing`);
  });

  it('Given a truncated layer, When planned, Then the size mismatch is reported', async () => {
    const fx = await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 3000 }] });
    await writeFile(join(dir, 'blobs', 'sha256', (fx.layerDigests[0] as string).slice(7)), 'short');
    expect((await sourceFailure(plan())).message).toContain('is 5 bytes, descriptor says');
  });

  it('Given a missing config or bad index.json or no oci-layout, When planned, Then each is a source error', async () => {
    const fx = await writeOciLayout(dir, { tag: '1.0', layers: [{ size: 10 }] });
    await unlink(join(dir, 'blobs', 'sha256', (fx.configDigests[0] as string).slice(7)));
    expect((await sourceFailure(plan())).message).toContain(`config blob ${fx.configDigests[0]} is missing`);
    await writeFile(join(dir, 'index.json'), '{not json');
    expect((await sourceFailure(plan())).message).toContain('index.json is not valid JSON');
    await unlink(join(dir, 'oci-layout'));
    expect((await sourceFailure(plan())).message).toContain('oci-layout file is missing');
  });
});

describe('platform strings', () => {
  it('Given platform strings, When parsed and formatted, Then they round-trip and aliases normalise', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(formatPlatform(parsePlatform('linux/arm/v7'))).toBe('linux/arm/v7');
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(() => parsePlatform('linux')).toThrow(/expected os\/arch/);
    expect(() => parsePlatform('linux//v7')).toThrow(KubechatError);
  });
});
