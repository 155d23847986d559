import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChartInfo, MemoryBlob, PlannedArtifact } from '../../src/bundle/plan.js';
import { sha256Digest } from '../../src/lib/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { planLocalChart } from '../../src/sources/chart.js';
import { writeChart } from '../support/chart-fixture.js';
import { sourceFailure } from '../support/helpers.js';

const run = promisify(execFile);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-chart-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const chartDir = () => join(dir, 'demo');
const blobOf = (a: PlannedArtifact, mediaType: string) =>
  a.blobs.find((b) => b.mediaType === mediaType) as MemoryBlob;
const infoOf = (a: PlannedArtifact) => a.finish(() => 'unused').info as ChartInfo;

async function listTgz(a: PlannedArtifact): Promise<string[]> {
  const file = join(dir, 'chart.tgz');
  await writeFile(file, blobOf(a, MediaType.helmChart).data);
  return (await run('tar', ['-tzvf', file])).stdout.trim().split('\n');
}

describe('planLocalChart', () => {
  it('Given a chart dir, When planned, Then it is a Helm OCI artifact: config JSON, tgz layer, manifest root', async () => {
    await writeChart(chartDir(), { name: 'demo', version: '1.2.3', appVersion: '4.5' });
    const artifact = await planLocalChart(chartDir(), 'charts/demo');
    const { root, info, extra } = artifact.finish(() => 'unused');

    expect(artifact.kind).toBe('chart');
    expect(artifact.refName).toBe('charts/demo:1.2.3');
    expect(artifact.platform).toBeUndefined();
    expect(extra).toEqual([]);
    expect(root.mediaType).toBe(MediaType.ociManifest);
    expect(sha256Digest(root.data)).toBe(root.digest);
    const manifest = JSON.parse(root.data.toString()) as {
      config: { mediaType: string; digest: string };
      layers: Array<{ mediaType: string; digest: string; size: number }>;
      annotations: Record<string, string>;
    };
    const config = blobOf(artifact, MediaType.helmConfig);
    const layer = blobOf(artifact, MediaType.helmChart);
    expect(manifest.config.digest).toBe(config.digest);
    expect(manifest.layers).toEqual([
      { mediaType: MediaType.helmChart, digest: layer.digest, size: layer.size },
    ]);
    expect(manifest.annotations).toEqual({
      'org.opencontainers.image.description': 'Test chart demo',
      'org.opencontainers.image.title': 'demo',
      'org.opencontainers.image.version': '1.2.3',
    });
    // Helm's chart.Metadata JSON: Go field order, empty fields left out.
    expect(config.data.toString()).toBe(
      '{"name":"demo","version":"1.2.3","description":"Test chart demo","apiVersion":"v2","appVersion":"4.5","type":"application"}',
    );
    expect(info).toEqual<ChartInfo>({
      kind: 'chart',
      name: 'demo',
      version: '1.2.3',
      appVersion: '4.5',
      ref: 'charts/demo:1.2.3',
      source: 'charts/demo',
      digest: root.digest,
      images: ['docker.io/example/demo:1.0.0'],
    });
  });

  it('Given the same chart dir planned twice, When compared, Then every digest is identical and tar lists <name>/Chart.yaml', async () => {
    await writeChart(chartDir(), { name: 'demo', version: '0.1.0', files: { 'files/a.txt': 'a' } });
    const first = await planLocalChart(chartDir(), 'x');
    const second = await planLocalChart(chartDir(), 'x');
    expect(first.blobs.map((b) => b.digest)).toEqual(second.blobs.map((b) => b.digest));
    expect(first.finish(() => '').root.digest).toBe(second.finish(() => '').root.digest);

    const listing = await listTgz(first);
    const names = listing.map((line) => line.split(/\s+/).pop());
    expect(names).toEqual([
      'demo/Chart.yaml',
      'demo/files/a.txt',
      'demo/templates/deployment.yaml',
      'demo/values.yaml',
    ]);
    for (const line of listing) expect(line).toMatch(/^-rw-r--r-- 0\/0 .* 1980-01-01 /);
  });

  it('Given a .helmignore, When packaged, Then ignored files and templates/ dotfiles are left out', async () => {
    await writeChart(chartDir(), {
      name: 'demo',
      version: '0.1.0',
      files: {
        '.helmignore': '# comment\n*.bak\nsecrets/\n/top.txt\n',
        'notes.bak': 'x',
        'secrets/key': 'x',
        'top.txt': 'x',
        'docs/top.txt': 'kept: the rule is anchored at the root',
        'templates/.hidden.yaml': 'x',
        'charts/sub/Chart.yaml': 'apiVersion: v2\nname: sub\nversion: 0.0.1\n',
      },
    });
    const names = (await listTgz(await planLocalChart(chartDir(), 'x'))).map((l) => l.split(/\s+/).pop());
    expect(names).toEqual([
      'demo/.helmignore',
      'demo/Chart.yaml',
      'demo/charts/sub/Chart.yaml',
      'demo/docs/top.txt',
      'demo/templates/deployment.yaml',
      'demo/values.yaml',
    ]);
  });

  it('Given annotation and values images, When planned, Then images are discovered, normalised, deduped, sorted', async () => {
    await writeChart(chartDir(), {
      name: 'demo',
      version: '0.1.0',
      appVersion: '2.0.0',
      images: ['ghcr.io/acme/api:1.0', 'redis:7'],
      values: [
        'api:',
        '  image: { registry: ghcr.io, repository: acme/api, tag: "1.0" }',
        'worker:',
        '  image: { repository: acme/worker }', // tag defaults to appVersion
        'cache:',
        '  image: docker.io/library/redis:7',
        'templated:',
        '  image: "{{ .Values.x }}"',
        'list:',
        '  - image: busybox',
        '',
      ].join('\n'),
      files: {
        'charts/sub/Chart.yaml': 'apiVersion: v2\nname: sub\nversion: 0.0.1\n',
        'charts/sub/values.yaml': 'image: quay.io/x/y:3\n',
      },
    });
    expect(infoOf(await planLocalChart(chartDir(), 'x')).images).toEqual([
      'docker.io/acme/worker:2.0.0',
      'docker.io/library/busybox:latest',
      'docker.io/library/redis:7',
      'ghcr.io/acme/api:1.0',
      'quay.io/x/y:3',
    ]);
  });

  it('Given a version with build metadata, When planned, Then the OCI tag uses _ like helm push', async () => {
    await writeChart(chartDir(), { name: 'demo', version: '1.0.0+build.5' });
    expect((await planLocalChart(chartDir(), 'x')).refName).toBe('charts/demo:1.0.0_build.5');
  });

  it.each([
    ['apiVersion: v1\nname: demo\nversion: 1.0.0\n', 'apiVersion must be v2'],
    ['apiVersion: v2\nversion: 1.0.0\n', 'name'],
    ['apiVersion: v2\nname: Demo\nversion: 1.0.0\n', 'name "Demo"'],
    ['apiVersion: v2\nname: demo\nversion: 1.0\n', 'version "1.0" is not a SemVer'],
    ['apiVersion: v2\nname: demo\n', 'version ""'],
    ['apiVersion: v2\nname: [demo\n', 'invalid YAML'],
    [
      'apiVersion: v2\nname: demo\nversion: 1.0.0\nannotations:\n  helm.sh/images: "- image: NOT A REF"\n',
      'helm.sh/images',
    ],
  ])(
    'Given a bad Chart.yaml (%j), When planned, Then a source error names the file and says %s',
    async (yaml, message) => {
      await writeChart(chartDir(), { name: 'demo', version: '1.0.0', files: { 'Chart.yaml': yaml } });
      const err = await sourceFailure(planLocalChart(chartDir(), 'x'));
      expect(err.message).toContain(join(chartDir(), 'Chart.yaml'));
      expect(err.message).toContain(message);
    },
  );

  it('Given a directory without Chart.yaml, When planned, Then the error says it is not a chart', async () => {
    const err = await sourceFailure(planLocalChart(dir, 'x'));
    expect(err.message).toContain('not a Helm chart directory');
  });
});

describe('charts/kubechat', () => {
  it('Given the real KubeChat chart, When planned, Then it packs and declares exactly its five images', async () => {
    const artifact = await planLocalChart(resolve('charts/kubechat'), 'charts/kubechat');
    const info = infoOf(artifact);
    expect(artifact.refName).toBe(`charts/kubechat:${info.version}`);
    // The helm.sh/images annotation and values.yaml must agree, or this list grows.
    expect(info.images).toHaveLength(5);
    expect(info.images.map((i) => i.replace(/:[^:/]+$/, ''))).toEqual([
      'docker.io/kubechat/kubechat-api',
      'docker.io/library/postgres',
      'docker.io/library/redis',
      'docker.io/library/registry',
      'docker.io/ollama/ollama',
    ]);
    const names = (await listTgz(artifact)).map((l) => l.split(/\s+/).pop());
    expect(names).toContain('kubechat/Chart.yaml');
    expect(names).toContain('kubechat/templates/_helpers.tpl');
  });
});
