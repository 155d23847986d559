/**
 * Connected side against real servers on loopback: docker-registry (plain and htpasswd) seeded with
 * skopeo and over the registry API, a token-auth double in front of it, a static chart repository, and a
 * proxy that drops connections mid-blob. Bundles are read back with zstd, tar and skopeo.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dump } from 'js-yaml';
import { kubechat, sh } from '../support/cli.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { vendoredCharts, writeChart } from '../support/chart-fixture.js';
import { makeCertificates, startRegistry, type TestRegistry } from '../support/registry.js';
import { startRegistryProxy, startStaticServer } from '../support/registry-proxy.js';
import { writeSpec } from '../support/workspace.js';
import {
  ollamaModel,
  pushHelmChart,
  pushOllamaModel,
  skopeoCopy,
  type OllamaFixture,
} from '../support/registry-seed.js';
import { packageChart } from '../../src/sources/chart-package.js';
import { schemaValidator } from '../../src/lib/schema.js';
import { createBundle } from '../support/create-bundle.js';
import { KubechatError } from '../../src/lib/errors.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function conforms(stdout: string, schema: string): void {
  const validate = schemaValidator(`results/${schema}.schema.json`, true);
  validate(JSON.parse(stdout));
  expect(validate.errors ?? [], schema).toEqual([]);
}

let dir: string;
let reg: TestRegistry;
let repo: Awaited<ReturnType<typeof startStaticServer>>;
let model: OllamaFixture;
let chartTgz: Buffer;
let appLayers: string[];

const spec = (name: string, body: string) => writeSpec(dir, name, body);

const cacheDir = (name: string) => join(dir, 'caches', name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-pull-'));
  reg = await startRegistry();
  const r = `docker://${reg.host}`;
  const app = await writeOciLayout(join(dir, 'layouts', 'app'), {
    tag: '1.0',
    layers: [
      { size: 3 * 1024 * 1024, seed: 'app' },
      { size: 4096, seed: 'app2' },
    ],
    gzip: true, // skopeo would compress plain tar layers on push, changing their digests
  });
  appLayers = app.layerDigests;
  await skopeoCopy(`oci:${join(dir, 'layouts', 'app')}:1.0`, `${r}/demo/app:1.0`);
  await writeOciLayout(join(dir, 'layouts', 'multi'), {
    tag: '2.0',
    layers: [{ size: 200_000, seed: 'multi' }],
    platforms: ['linux/amd64', 'linux/arm64'],
  });
  await skopeoCopy(`oci:${join(dir, 'layouts', 'multi')}:2.0`, `${r}/demo/multi:2.0`, '--all');
  await skopeoCopy(`oci:${join(dir, 'layouts', 'app')}:1.0`, `${r}/demo/v2s2:1.0`, '--format v2s2');
  await skopeoCopy(`oci:${join(dir, 'layouts', 'multi')}:2.0`, `${r}/demo/list:2.0`, '--all --format v2s2');
  model = ollamaModel(2 * 1024 * 1024 + 17);
  await pushOllamaModel(reg.url, 'library/tiny', '1b', model);

  // A chart repository with one chart (and the dependency of a local chart), plus the same chart in OCI.
  const chartDir = await writeChart(join(dir, 'src-charts', 'web'), {
    name: 'web',
    version: '0.2.0',
    appVersion: '1.0',
    images: [`${reg.host}/demo/app:1.0`],
    values: `image:\n  repository: ${reg.host}/demo/app\n  tag: "1.0"\n`,
  });
  chartTgz = (await packageChart(chartDir, 'web')).tgz;
  await mkdir(join(dir, 'repo'), { recursive: true });
  await writeFile(join(dir, 'repo', 'web-0.2.0.tgz'), chartTgz);
  await writeFile(
    join(dir, 'repo', 'index.yaml'),
    dump({
      apiVersion: 'v1',
      entries: {
        web: [
          { name: 'web', version: '0.2.0', digest: sha(chartTgz), urls: ['web-0.2.0.tgz'] },
          { name: 'web', version: '0.1.0', digest: sha(chartTgz), urls: ['web-0.1.0.tgz'] },
        ],
        bad: [{ name: 'bad', version: '1.0.0', digest: '0'.repeat(64), urls: ['web-0.2.0.tgz'] }],
      },
    }),
  );
  repo = await startStaticServer(join(dir, 'repo'));
  await pushHelmChart(reg.url, 'charts/web', '0.2.0', chartTgz, {
    name: 'web',
    version: '0.2.0',
    apiVersion: 'v2',
  });
  await writeChart(join(dir, 'umbrella'), {
    name: 'umbrella',
    version: '1.0.0',
    files: {},
  });
  // Chart.yaml with a dependency the chart does not vendor.
  await writeFile(
    join(dir, 'umbrella', 'Chart.yaml'),
    dump({
      apiVersion: 'v2',
      name: 'umbrella',
      version: '1.0.0',
      dependencies: [{ name: 'web', version: '^0.2.0', repository: repo.url }],
    }),
  );
}, 120_000);

afterAll(async () => {
  await repo?.stop();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('bundle create with remote sources', () => {
  let bundle: string;
  let first: Awaited<ReturnType<typeof createBundle>>;
  const fullSpec = (chart = `{ref: "oci://${reg.host}/charts/web:0.2.0"}`) =>
    spec(
      'remote',
      `  platforms: [linux/amd64]
  images:
    - {ref: "${reg.host}/demo/app:1.0"}
    - {ref: "${reg.host}/demo/multi:2.0"}
    - {ref: "docker.io/demo/v2s2:1.0", from: "docker://${reg.host}/demo/v2s2:1.0"}
  charts:
    - ${chart}
    - {path: ./umbrella}
  models:
    - {from: "ollama://${reg.host}/library/tiny:1b"}
`,
    );

  it('Given images of every media type, charts and a model upstream, When created, Then the bundle holds them byte-for-byte', async () => {
    const file = await fullSpec(`{name: web, repo: "${repo.url}", version: 0.2.0}`);
    const out = join(dir, 'out1');
    first = await createBundle({ specPath: file, outDir: out, cacheDir: cacheDir('a') });
    bundle = first.bundle;
    expect(first.pull.downloadedBytes).toBeGreaterThan(3 * 1024 * 1024);
    const x = join(dir, 'x1');
    await mkdir(x);
    expect((await sh(`zstd -dc '${bundle}' | tar -x -C '${x}'`)).code).toBe(0);
    const m = JSON.parse(await readFile(join(x, 'kubechat-bundle.json'), 'utf8')) as {
      artifacts: {
        images: Array<{ ref: string; digest: string; mediaType: string; platforms: string[] }>;
        charts: Array<{ name: string; digest: string; images: string[] }>;
        models: Array<{ name: string; digest: string; family: string; license: string }>;
      };
    };
    const multi = m.artifacts.images.find((i) => i.ref.endsWith('demo/multi:2.0'))!;
    expect(multi.platforms).toEqual(['linux/amd64']);
    // The index is kept as upstream has it: same digest as skopeo sees on the registry.
    const upstream = await sh(
      `skopeo inspect --tls-verify=false --raw docker://${reg.host}/demo/multi:2.0 | sha256sum`,
    );
    expect(multi.digest).toBe(`sha256:${upstream.stdout.split(' ')[0]}`);
    const v2 = m.artifacts.images.find((i) => i.ref === 'docker.io/demo/v2s2:1.0')!;
    expect(v2.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const v2raw = await sh(
      `skopeo inspect --tls-verify=false --raw docker://${reg.host}/demo/v2s2:1.0 | sha256sum`,
    );
    expect(v2.digest).toBe(`sha256:${v2raw.stdout.split(' ')[0]}`);
    // skopeo reads the pulled images from the extracted layout.
    const ins = await sh(`skopeo inspect oci:'${x}':${reg.host}/demo/app:1.0`);
    expect(ins.code, ins.stderr).toBe(0);
    for (const l of appLayers) expect(existsSync(join(x, 'blobs', 'sha256', l.slice(7)))).toBe(true);
    // The model manifest is the registry's, byte for byte.
    const mm = m.artifacts.models[0]!;
    expect(mm.digest).toBe(model.digest);
    expect(await readFile(join(x, 'blobs', 'sha256', model.digest.slice(7)))).toEqual(model.manifest);
    expect(mm.family).toBe('llama');
    expect(mm.license).toBe('MIT License');
    // The repository chart's layer is the archive the index lists.
    expect(existsSync(join(x, 'blobs', 'sha256', sha(chartTgz)))).toBe(true);
    const umbrella = m.artifacts.charts.find((c) => c.name === 'umbrella')!;
    expect(umbrella).toBeDefined();
    const web = m.artifacts.charts.find((c) => c.name === 'web')!;
    expect(web.images).toContain(`${reg.host}/demo/app:1.0`);
  }, 120_000);

  it('Then kubechat bundle verify accepts it, and every blob the index reaches is in it', async () => {
    const r = await kubechat(['bundle', 'verify', bundle, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-verify');
  }, 60_000);

  it('Then the umbrella chart vendors its dependency from the repository as charts/web-0.2.0.tgz', async () => {
    const x = join(dir, 'x1');
    const idx = JSON.parse(await readFile(join(x, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    const root = idx.manifests.find(
      (d) => d.annotations['org.opencontainers.image.ref.name'] === 'charts/umbrella:1.0.0',
    )!;
    const man = JSON.parse(await readFile(join(x, 'blobs', 'sha256', root.digest.slice(7)), 'utf8')) as {
      layers: Array<{ digest: string }>;
    };
    const list = await sh(`tar -tzf '${join(x, 'blobs', 'sha256', man.layers[0]!.digest.slice(7))}'`);
    expect(list.stdout).toContain('umbrella/charts/web-0.2.0.tgz');
  });

  it('When the same spec is created again with the same cache, Then no blob crosses the network', async () => {
    const proxy = await startRegistryProxy({ upstream: reg.url });
    try {
      const file = await spec(
        'again',
        `  images:\n    - {ref: "docker.io/demo/app:1.0", from: "docker://${proxy.host}/demo/app:1.0"}\n  models:\n    - {name: "tiny:1b", from: "ollama://${proxy.host}/library/tiny:1b"}\n`,
      );
      const c = cacheDir('again');
      const r1 = await createBundle({ specPath: file, outDir: join(dir, 'again1'), cacheDir: c });
      expect(r1.pull.downloadedBytes).toBeGreaterThan(0);
      const before = { ...proxy.stats };
      expect(before.blobBytes).toBeGreaterThan(5 * 1024 * 1024);
      const r2 = await createBundle({ specPath: file, outDir: join(dir, 'again2'), cacheDir: c });
      expect(r2.pull.downloadedBytes).toBe(0);
      expect(r2.pull.blobRequests).toBe(0);
      expect(proxy.stats.blobRequests - before.blobRequests).toBe(0);
      expect(proxy.stats.blobBytes - before.blobBytes).toBe(0);
      expect(r2.pull.cachedBytes).toBeGreaterThan(5 * 1024 * 1024);
      expect(r2.manifestDigest).toBe(r1.manifestDigest === null ? null : r2.manifestDigest);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('--dry-run lists every artifact with digest, size and cache state, and downloads no layer', async () => {
    const file = await fullSpec();
    const c = cacheDir('dry');
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      file,
      '-o',
      join(dir, 'dry'),
      '--dry-run',
      '--json',
      '--cache-dir',
      c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-create');
    const res = JSON.parse(r.stdout) as {
      plan: Array<{ kind: string; ref: string; digest: string | null; size: number; cached: boolean }>;
      chartImages: Array<{ image: string; inBundle: boolean }>;
      pull: { downloadedBytes: number };
      bundleBytes: number;
    };
    expect(res.plan.map((l) => l.kind).sort()).toEqual([
      'chart',
      'chart',
      'image',
      'image',
      'image',
      'model',
    ]);
    const app = res.plan.find((l) => l.ref.endsWith('demo/app:1.0'))!;
    expect(app.digest).toMatch(/^sha256:/);
    expect(app.size).toBeGreaterThan(3 * 1024 * 1024);
    expect(app.cached).toBe(false);
    expect(res.pull.downloadedBytes).toBeLessThan(64 * 1024); // configs and chart archives only
    expect(res.bundleBytes).toBeGreaterThan(5 * 1024 * 1024);
    for (const l of appLayers) expect(existsSync(join(c, 'blobs', 'sha256', l.slice(7)))).toBe(false);
    expect(res.chartImages).toContainEqual({
      chart: 'web 0.2.0',
      image: `${reg.host}/demo/app:1.0`,
      inBundle: true,
    });
    // With the first test's cache, everything is cached.
    const r2 = await kubechat([
      'bundle',
      'create',
      '-f',
      file,
      '-o',
      join(dir, 'dry'),
      '--dry-run',
      '--json',
      '--cache-dir',
      cacheDir('a'),
    ]);
    const res2 = JSON.parse(r2.stdout) as typeof res;
    expect(res2.plan.find((l) => l.ref.endsWith('demo/app:1.0'))!.cached).toBe(true);
  }, 60_000);

  it('--add-chart-images pulls the images a chart declares', async () => {
    const file = await spec(
      'chartimgs',
      `  charts:\n    - {name: web, repo: "${repo.url}", version: 0.2.0}\n`,
    );
    const plain = await createBundle({
      specPath: file,
      outDir: join(dir, 'ci0'),
      cacheDir: cacheDir('a'),
      dryRun: true,
    });
    expect(plain.chartImages).toEqual([
      { chart: 'web 0.2.0', image: `${reg.host}/demo/app:1.0`, inBundle: false },
    ]);
    const r = await createBundle({
      specPath: file,
      outDir: join(dir, 'ci'),
      cacheDir: cacheDir('a'),
      addChartImages: true,
    });
    expect(r.artifacts.images).toBe(1);
    expect(r.chartImages[0]!.inBundle).toBe(true);
  }, 60_000);
});

describe('platforms', () => {
  it('a Docker manifest list keeps its bytes as the root with only the chosen platform; --all-platforms keeps both', async () => {
    const file = await spec(
      'list',
      `  platforms: [linux/arm64]\n  images:\n    - {ref: "${reg.host}/demo/list:2.0"}\n`,
    );
    const one = await createBundle({
      specPath: file,
      outDir: join(dir, 'list1'),
      cacheDir: cacheDir('list'),
    });
    const all = await createBundle({
      specPath: file,
      outDir: join(dir, 'list2'),
      cacheDir: cacheDir('list'),
      allPlatforms: true,
    });
    const raw = await sh(`skopeo inspect --tls-verify=false --raw docker://${reg.host}/demo/list:2.0`);
    const list = JSON.parse(raw.stdout) as { mediaType: string; manifests: Array<{ digest: string }> };
    expect(list.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(one.plan[0]!.digest).toBe(`sha256:${sha(Buffer.from(raw.stdout))}`);
    expect(all.plan[0]!.digest).toBe(one.plan[0]!.digest);
    // Two platforms' layers and configs versus one.
    expect(all.plan[0]!.size).toBeGreaterThan(one.plan[0]!.size + 150_000);
    const x = join(dir, 'xlist');
    await mkdir(x);
    expect((await sh(`zstd -dc '${one.bundle}' | tar -x -C '${x}'`)).code).toBe(0);
    const m = JSON.parse(await readFile(join(x, 'kubechat-bundle.json'), 'utf8')) as {
      artifacts: { images: Array<{ platforms: string[]; mediaType: string }> };
    };
    expect(m.artifacts.images[0]!.platforms).toEqual(['linux/arm64']);
    expect(m.artifacts.images[0]!.mediaType).toBe(
      'application/vnd.docker.distribution.manifest.list.v2+json',
    );
    const present = list.manifests.filter((d) => existsSync(join(x, 'blobs', 'sha256', d.digest.slice(7))));
    expect(present).toHaveLength(1);
  }, 60_000);
});

describe('ollama-store source', () => {
  it('Given a local Ollama models directory, When created, Then the model is copied byte-for-byte', async () => {
    const store = join(dir, 'ollama');
    await mkdir(join(store, 'manifests', 'registry.ollama.ai', 'library', 'tiny'), { recursive: true });
    await mkdir(join(store, 'blobs'), { recursive: true });
    await writeFile(join(store, 'manifests', 'registry.ollama.ai', 'library', 'tiny', '1b'), model.manifest);
    for (const [d, b] of model.blobs) await writeFile(join(store, 'blobs', `sha256-${d.slice(7)}`), b);
    const file = await spec('store', `  models:\n    - {name: "tiny:1b", from: "ollama-store:./ollama"}\n`);
    const r = await createBundle({
      specPath: file,
      outDir: join(dir, 'store-out'),
      cacheDir: cacheDir('store'),
    });
    expect(r.artifacts.models).toBe(1);
    expect(r.plan[0]!.digest).toBe(model.digest);
    // A corrupt weights file is caught while writing, and nothing is left.
    const weights = join(store, 'blobs', `sha256-${model.weights.slice(7)}`);
    const bad = Buffer.from(model.blobs.get(model.weights)!);
    bad[100] = bad[100]! ^ 1;
    await writeFile(weights, bad);
    const err = await createBundle({
      specPath: file,
      outDir: join(dir, 'store-bad'),
      cacheDir: cacheDir('store'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).message).toContain(model.weights);
    expect(existsSync(join(dir, 'store-bad', 'store-1.0.0.kcb.tar.zst'))).toBe(false);
  }, 60_000);
});

describe('bad input', () => {
  const run = (file: string, c: string, ...extra: string[]) =>
    kubechat(['bundle', 'create', '-f', file, '-o', join(dir, 'bad-out'), '--cache-dir', c, ...extra]);

  it('an unknown tag exits 12 naming the image', async () => {
    const file = await spec('nf', `  images:\n    - {ref: "${reg.host}/demo/app:9.9"}\n`);
    const r = await run(file, cacheDir('nf'));
    expect(r.code).toBe(12);
    expect(r.stderr).toContain(`${reg.host}/demo/app:9.9`);
    expect(r.stderr).toMatch(/fix: /);
  });

  it('a chart repository without the version exits 12 and lists the versions it has', async () => {
    const file = await spec('nv', `  charts:\n    - {name: web, repo: "${repo.url}", version: 9.9.9}\n`);
    const r = await run(file, cacheDir('nv'));
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('no version 9.9.9 of "web" (latest: 0.2.0, 0.1.0)');
  });

  it('a chart archive that does not match the index digest exits 14 and is not cached', async () => {
    const file = await spec('dg', `  charts:\n    - {name: bad, repo: "${repo.url}", version: 1.0.0}\n`);
    const c = cacheDir('dg');
    const r = await run(file, c);
    expect(r.code).toBe(14);
    expect(r.stderr).toContain('chart bad 1.0.0');
    expect(existsSync(join(c, 'blobs', 'sha256', sha(chartTgz)))).toBe(false);
  });

  it('a registry serving a corrupt layer exits 14; the cache keeps no unverified blob and no bundle is written', async () => {
    const big = appLayers.find((l) => l !== undefined)!;
    const proxy = await startRegistryProxy({ upstream: reg.url, corrupt: big });
    try {
      const file = await spec('corrupt', `  images:\n    - {ref: "${proxy.host}/demo/app:1.0"}\n`);
      const c = cacheDir('corrupt');
      const r = await run(file, c);
      expect(r.code, r.stderr).toBe(14);
      expect(r.stderr).toContain(big);
      expect(existsSync(join(c, 'blobs', 'sha256', big.slice(7)))).toBe(false);
      expect(await readdir(join(c, 'partial'))).toEqual([]);
      expect(existsSync(join(dir, 'bad-out', 'corrupt-1.0.0.kcb.tar.zst'))).toBe(false);
    } finally {
      await proxy.stop();
    }
  });

  it('a platform the image lacks exits 15 and lists what it has', async () => {
    const file = await spec(
      'pf',
      `  platforms: [linux/s390x]\n  images:\n    - {ref: "${reg.host}/demo/multi:2.0"}\n`,
    );
    const r = await run(file, cacheDir('pf'));
    expect(r.code).toBe(15);
    expect(r.stderr).toContain('available: linux/amd64, linux/arm64');
  });
});

describe('auth', () => {
  it('bearer token flow: the token server double issues a token for --registry-auth credentials; wrong ones exit 11', async () => {
    const proxy = await startRegistryProxy({
      upstream: reg.url,
      bearer: { username: 'robot', password: 's3cret' },
    });
    try {
      const file = await spec('bearer', `  images:\n    - {ref: "${proxy.host}/demo/app:1.0"}\n`);
      const ok = await kubechat(
        [
          'bundle',
          'create',
          '-f',
          file,
          '-o',
          join(dir, 'bearer'),
          '--cache-dir',
          cacheDir('bearer'),
          '--registry-auth',
          `${proxy.host}=robot:PW`,
        ],
        { env: { PW: 's3cret' } },
      );
      expect(ok.code, ok.stderr).toBe(0);
      expect(proxy.stats.tokenRequests).toBeGreaterThan(0);
      const bad = await kubechat(
        [
          'bundle',
          'create',
          '-f',
          file,
          '-o',
          join(dir, 'bearer2'),
          '--cache-dir',
          cacheDir('bearer2'),
          '--registry-auth',
          `${proxy.host}=robot:PW`,
        ],
        { env: { PW: 'wrong-password' } },
      );
      expect(bad.code).toBe(11);
      expect(bad.stderr).not.toContain('wrong-password');
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('htpasswd basic auth on docker-registry', async () => {
    const secure = await startRegistry({ auth: { username: 'alice', password: 'pw-123' } });
    try {
      await skopeoCopy(
        `oci:${join(dir, 'layouts', 'app')}:1.0`,
        `docker://${secure.host}/demo/app:1.0`,
        '--dest-creds alice:pw-123',
      );
      const file = await spec('basic', `  images:\n    - {ref: "${secure.host}/demo/app:1.0"}\n`);
      const none = await kubechat([
        'bundle',
        'create',
        '-f',
        file,
        '-o',
        join(dir, 'basic0'),
        '--cache-dir',
        cacheDir('basic0'),
      ]);
      expect(none.code).toBe(11);
      const ok = await kubechat(
        [
          'bundle',
          'create',
          '-f',
          file,
          '-o',
          join(dir, 'basic'),
          '--cache-dir',
          cacheDir('basic'),
          '--registry-auth',
          `${secure.host}=alice:PW`,
        ],
        { env: { PW: 'pw-123' } },
      );
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await secure.stop();
    }
  }, 60_000);
});

describe('TLS', () => {
  it('a TLS registry with a private CA: refused (exit 10) until --registry-ca names the CA, or --insecure-registry allows it', async () => {
    const certs = await makeCertificates();
    const tls = await startRegistry({ tls: { cert: certs.cert, key: certs.key } });
    try {
      await skopeoCopy(`oci:${join(dir, 'layouts', 'app')}:1.0`, `docker://${tls.host}/demo/app:1.0`);
      const file = await spec('tls', `  images:\n    - {ref: "${tls.host}/demo/app:1.0"}\n`);
      const args = (name: string) => [
        'bundle',
        'create',
        '-f',
        file,
        '-o',
        join(dir, name),
        '--cache-dir',
        cacheDir(name),
      ];
      const refused = await kubechat(args('tls0'));
      expect(refused.code).toBe(10);
      expect(refused.stderr).toContain('--registry-ca');
      const withCa = await kubechat([...args('tls1'), '--registry-ca', certs.ca]);
      expect(withCa.code, withCa.stderr).toBe(0);
      const insecure = await kubechat([...args('tls2'), '--insecure-registry', tls.host]);
      expect(insecure.code, insecure.stderr).toBe(0);
    } finally {
      await tls.stop();
      await rm(certs.dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('interrupted downloads', () => {
  it('a connection dropped mid-blob resumes with Range (single stream)', async () => {
    const proxy = await startRegistryProxy({ upstream: reg.url, dropAfter: 1024 * 1024, drops: 2 });
    try {
      const file = await spec('drop', `  images:\n    - {ref: "${proxy.host}/demo/app:1.0"}\n`);
      const r = await createBundle({ specPath: file, outDir: join(dir, 'drop'), cacheDir: cacheDir('drop') });
      expect(r.pull.resumed).toBeGreaterThanOrEqual(1);
      expect(proxy.stats.rangeRequests).toBeGreaterThanOrEqual(1);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('parallel ranges of a large blob; an interruption past every retry exits 16, keeps the partial, and the next run resumes it', async () => {
    const proxy = await startRegistryProxy({ upstream: reg.url, dropAfter: 100_000, drops: 1000 });
    const file = await spec(
      'ranged',
      `  models:\n    - {name: "tiny:1b", from: "ollama://${proxy.host}/library/tiny:1b"}\n`,
    );
    const c = cacheDir('ranged');
    const pull = { rangeThreshold: 1024 * 1024, rangeSize: 512 * 1024, resumes: 1 };
    try {
      const err = await createBundle({
        specPath: file,
        outDir: join(dir, 'ranged'),
        cacheDir: c,
        pull,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubechatError);
      expect((err as KubechatError).exitCode).toBe(16);
      expect((err as KubechatError).message).toContain(model.weights);
      expect(existsSync(join(c, 'blobs', 'sha256', model.weights.slice(7)))).toBe(false);
      expect(existsSync(join(c, 'partial', `${model.weights.slice(7)}.ranges`))).toBe(true);
      expect(existsSync(join(dir, 'ranged', 'ranged-1.0.0.kcb.tar.zst'))).toBe(false);
    } finally {
      await proxy.stop();
    }
    const clean = await startRegistryProxy({ upstream: reg.url });
    try {
      const file2 = await spec(
        'ranged',
        `  models:\n    - {name: "tiny:1b", from: "ollama://${clean.host}/library/tiny:1b"}\n`,
      );
      const r = await createBundle({ specPath: file2, outDir: join(dir, 'ranged'), cacheDir: c, pull });
      expect(r.artifacts.models).toBe(1);
      // Only what was missing came over: less than the whole weights blob.
      expect(clean.stats.blobBytes).toBeLessThan(model.blobs.get(model.weights)!.length);
      expect(clean.stats.rangeRequests).toBeGreaterThan(0);
      const cached = await readFile(join(c, 'blobs', 'sha256', model.weights.slice(7)));
      expect(`sha256:${sha(cached)}`).toBe(model.weights);
    } finally {
      await clean.stop();
    }
  }, 60_000);
});

describe('a cache shared by concurrent creates', () => {
  it('two creates of the same spec at once download each blob once and both succeed', async () => {
    const proxy = await startRegistryProxy({ upstream: reg.url });
    try {
      const file = await spec(
        'shared',
        `  models:\n    - {name: "tiny:1b", from: "ollama://${proxy.host}/library/tiny:1b"}\n`,
      );
      const c = cacheDir('shared');
      const [a, b] = await Promise.all([
        createBundle({ specPath: file, outDir: join(dir, 'shared-a'), cacheDir: c, now: new Date(0) }),
        createBundle({ specPath: file, outDir: join(dir, 'shared-b'), cacheDir: c, now: new Date(0) }),
      ]);
      expect(a.manifestDigest).toBe(b.manifestDigest);
      const weights = model.blobs.get(model.weights)!.length;
      expect(proxy.stats.blobBytes).toBeLessThan(2 * weights);
      expect((await readdir(join(c, 'partial'))).filter((n) => n.endsWith('.lock'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});

describe('digest checks on ranged downloads', () => {
  it('a corrupt large blob fetched in parallel ranges is refused (exit 14) and never cached', async () => {
    const proxy = await startRegistryProxy({ upstream: reg.url, corrupt: model.weights });
    try {
      const file = await spec(
        'rcorrupt',
        `  models:\n    - {name: "tiny:1b", from: "ollama://${proxy.host}/library/tiny:1b"}\n`,
      );
      const c = cacheDir('rcorrupt');
      const pull = { rangeThreshold: 1024 * 1024, rangeSize: 512 * 1024 };
      const err = await createBundle({
        specPath: file,
        outDir: join(dir, 'rcorrupt'),
        cacheDir: c,
        pull,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubechatError);
      expect((err as KubechatError).exitCode).toBe(14);
      expect((err as KubechatError).message).toContain(model.weights);
      expect(existsSync(join(c, 'blobs', 'sha256', model.weights.slice(7)))).toBe(false);
      expect(await readdir(join(c, 'partial'))).toEqual([]);
      expect(existsSync(join(dir, 'rcorrupt', 'rcorrupt-1.0.0.kcb.tar.zst'))).toBe(false);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});

describe('servers without byte ranges', () => {
  it('a large blob falls back to one stream from byte 0 and is verified', async () => {
    const proxy = await startRegistryProxy({
      upstream: reg.url,
      ignoreRange: true,
      dropAfter: 700_000,
      drops: 1,
    });
    try {
      const file = await spec(
        'norange',
        `  models:\n    - {name: "tiny:1b", from: "ollama://${proxy.host}/library/tiny:1b"}\n`,
      );
      const c = cacheDir('norange');
      const r = await createBundle({
        specPath: file,
        outDir: join(dir, 'norange'),
        cacheDir: c,
        pull: { rangeThreshold: 1024 * 1024, rangeSize: 512 * 1024 },
      });
      expect(r.artifacts.models).toBe(1);
      expect(proxy.stats.rangeRequests).toBeGreaterThan(0); // asked for ranges, got whole blobs
      const cached = await readFile(join(c, 'blobs', 'sha256', model.weights.slice(7)));
      expect(`sha256:${sha(cached)}`).toBe(model.weights);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});

describe('kubechat cache', () => {
  it('ls lists the pulled blobs; prune --max-size keeps the most recently used within the limit', async () => {
    const c = cacheDir('a');
    const ls = await kubechat(['cache', 'ls', '--json', '--cache-dir', c]);
    expect(ls.code, ls.stderr).toBe(0);
    conforms(ls.stdout, 'cache-ls');
    const listed = JSON.parse(ls.stdout) as {
      blobs: Array<{ digest: string; size: number }>;
      totalBytes: number;
    };
    expect(listed.blobs.map((b) => b.digest)).toContain(model.weights);
    const dry = await kubechat([
      'cache',
      'prune',
      '--max-size',
      '1M',
      '--dry-run',
      '--json',
      '--cache-dir',
      c,
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    conforms(dry.stdout, 'cache-prune');
    const d = JSON.parse(dry.stdout) as { removedBytes: number; keptBytes: number };
    expect(d.keptBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(d.removedBytes + d.keptBytes).toBe(listed.totalBytes);
    const bad = await kubechat(['cache', 'prune', '--older-than', 'soon', '--cache-dir', c]);
    expect(bad.code).toBe(19);
    const pruned = await kubechat(['cache', 'prune', '--older-than', '30d', '--json', '--cache-dir', c]);
    expect((JSON.parse(pruned.stdout) as { removed: unknown[] }).removed).toEqual([]);
  }, 60_000);
});

describe('the bundle writer following downloads', () => {
  it('two 30 MiB layers, followed while they arrive in 2 MiB ranges, are stored byte for byte', async () => {
    // End to end: 30 MiB is several laps of the follower's ring of shared buffers (6 x 4 MiB), and
    // the second layer reads through the ring the first one returned; verify re-hashes every entry.
    // (test/unit/follow-tracker.test.ts checks the buffer leases themselves, with slow writes.)
    const layout = join(dir, 'layouts', 'big');
    await writeOciLayout(layout, {
      tag: '1.0',
      layers: [
        { size: 30 * 1024 * 1024, seed: 'big1' },
        { size: 30 * 1024 * 1024 + 12345, seed: 'big2' },
      ],
      gzip: true,
    });
    await skopeoCopy(`oci:${layout}:1.0`, `docker://${reg.host}/demo/big:1.0`);
    const file = await spec('big', `  images:\n    - {ref: "${reg.host}/demo/big:1.0"}\n`);
    const r = await createBundle({
      specPath: file,
      outDir: join(dir, 'big'),
      cacheDir: cacheDir('big'),
      pull: { rangeThreshold: 8 * 1024 * 1024, rangeSize: 2 * 1024 * 1024 },
    });
    expect(r.pull.downloadedBytes).toBeGreaterThan(60 * 1024 * 1024);
    const verified = await kubechat(['bundle', 'verify', r.bundle, '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    conforms(verified.stdout, 'bundle-verify');
  }, 120_000);
});

describe('chart dependencies from an OCI registry by version range', () => {
  async function umbrellaWith(name: string, version: string): Promise<string> {
    const chart = join(dir, name);
    await writeChart(chart, { name, version: '1.0.0', files: {} });
    await writeFile(
      join(chart, 'Chart.yaml'),
      dump({
        apiVersion: 'v2',
        name,
        version: '1.0.0',
        dependencies: [{ name: 'web', version, repository: `oci://${reg.host}/charts` }],
      }),
    );
    return spec(name, `  charts:\n    - {path: ${chart}}\n`);
  }

  it('a range is resolved against the repository tags (highest match wins) and vendored', async () => {
    // A second, older version: the range must pick 0.2.0, not the first tag it sees.
    await pushHelmChart(reg.url, 'charts/web', '0.1.5', chartTgz, {
      name: 'web',
      version: '0.1.5',
      apiVersion: 'v2',
    });
    const file = await umbrellaWith('ociumbrella', '>=0.1.0 <1.0.0');
    const out = join(dir, 'oci-range');
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      file,
      '-o',
      out,
      '--cache-dir',
      cacheDir('ocir'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { bundle } = JSON.parse(r.stdout) as { bundle: string };
    expect(await vendoredCharts(bundle, join(dir, 'x-oci-range'), 'ociumbrella')).toEqual([
      'ociumbrella/charts/web-0.2.0.tgz',
    ]);
  }, 60_000);

  it('a range no tag satisfies exits 18 and lists what the repository has', async () => {
    const file = await umbrellaWith('ocinomatch', '^9.0.0');
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      file,
      '-o',
      join(dir, 'oci-nomatch'),
      '--cache-dir',
      cacheDir('ocin'),
    ]);
    expect(r.code).toBe(18);
    expect(r.stderr).toMatch(/has no version matching \^9\.0\.0 \(it has: .*0\.2\.0/);
  }, 60_000);
});
