/**
 * `kubechat registry serve` read by tools nobody here wrote: skopeo (inspect --raw, copy of every
 * image, a multi-arch index with --all), openssl-made TLS, and raw HTTP for Range, HEAD and the OCI
 * error bodies. Served from a bundle, from its split parts and from OCI layout directories.
 */
import { createHash } from 'node:crypto';
import { readFile, mkdir, writeFile, cp, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat, sh } from '../support/cli.js';
import { writeDemoSources } from '../support/demo-sources.js';
import { writeOciLayout, type OciFixture } from '../support/oci-fixture.js';
import { freePort, makeCertificates } from '../support/registry.js';
import { startServe, type RunningServe } from '../support/serve.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';
import { schemaValidator } from '../../src/lib/schema.js';

const MiB = 1024 * 1024;
/** Bigger than one 32 MiB zstd frame, so ranges cross a frame boundary. */
const BIG_LAYER = 40 * MiB;

let ws: Workspace;
let bundle: string;
let server: RunningServe;
let multi: OciFixture;
let sources: string;
let manifest: {
  artifacts: {
    images: Array<{ ref: string; digest: string }>;
    charts: Array<{ name: string; version: string; digest: string }>;
    models: Array<{ ref: string; digest: string }>;
  };
};

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const skopeo = (args: string) => sh(`skopeo ${args}`);
const insecure = '--src-tls-verify=false';

async function rawDigest(ref: string, flags = '--tls-verify=false'): Promise<string> {
  const r = await sh(`skopeo inspect ${flags} --raw 'docker://${ref}' | sha256sum`);
  expect(r.code, r.stderr).toBe(0);
  return `sha256:${r.stdout.split(' ')[0]}`;
}

function http(path: string, init: RequestInit = {}) {
  return fetch(`${server.info.url}${path}`, init);
}

async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: Array<{ code: string }> };
  return body.errors?.[0]?.code;
}

function conforms(value: unknown, schema: string) {
  const validate = schemaValidator(`results/${schema}.schema.json`, true);
  const ok = validate(value);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

beforeAll(async () => {
  ws = await makeWorkspace();
  sources = join(ws.dir, 'sources');
  await writeDemoSources(sources, { layerSize: BIG_LAYER });
  multi = await writeOciLayout(join(sources, 'multi'), {
    tag: '2.0',
    layers: [{ size: 256 * 1024, seed: 'multi' }],
    platforms: ['linux/amd64', 'linux/arm64'],
  });
  await writeOciLayout(join(sources, 'other'), { tag: '1.0', layers: [{ size: 4096, seed: 'other' }] });
  const spec = join(ws.dir, 'serve.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: serve, version: 1.0.0}
spec:
  platforms: [linux/amd64]
  images:
    - {ref: "demo/hello:1.0", from: "oci:./sources/hello:1.0"}
    - {ref: "example.com/multi/app:2.0", from: "oci:./sources/multi:2.0"}
    - {ref: "ghcr.io/demo/hello:1.0", from: "oci:./sources/other:1.0"}
  charts:
    - {path: ./charts/kubechat}
  models:
    - {name: "assist:1.0", gguf: ./sources/models/assist.gguf}
`,
  );
  // Every platform of the multi-arch image, so skopeo copy --all finds every child of its index.
  const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out, '--all-platforms', '--json']);
  expect(r.code, r.stderr).toBe(0);
  bundle = (JSON.parse(r.stdout) as { bundle: string }).bundle;
  manifest = JSON.parse(
    (await sh(`zstd -dc '${bundle}' | tar -xO kubechat-bundle.json`)).stdout,
  ) as typeof manifest;
  server = await startServe([bundle, '--addr', '127.0.0.1:0']);
});

afterAll(async () => {
  await server?.stop();
});

const digestOf = (ref: string) => manifest.artifacts.images.find((i) => i.ref === ref)!.digest;

describe('registry serve from a bundle', () => {
  it('Given a bundle, When served with --json, Then one JSON line names the loopback address and every tag', () => {
    expect(server.line).not.toContain('\n');
    conforms(server.info, 'registry-serve');
    expect(server.info.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.info.url).toBe(`http://${server.info.address}`);
    const names = server.info.tags.map((t) => `${t.repository}:${t.tag}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'docker.io/demo/hello:1.0',
        'ghcr.io/demo/hello:1.0',
        'multi/app:2.0',
        'example.com/multi/app:2.0',
        'charts/kubechat:0.1.0',
        'library/assist:1.0',
        'registry.ollama.ai/library/assist:1.0',
      ]),
    );
    // demo/hello:1.0 names two different images (docker.io and ghcr.io): only the qualified names serve it.
    expect(names).not.toContain('demo/hello:1.0');
    expect(server.info.warnings.join('\n')).toContain('demo/hello:1.0 names more than one image');
  });

  it('Then skopeo inspect --raw returns exactly the bundle digest of every image, chart and model', async () => {
    const a = server.info.address;
    expect(await rawDigest(`${a}/docker.io/demo/hello:1.0`)).toBe(digestOf('docker.io/demo/hello:1.0'));
    expect(await rawDigest(`${a}/ghcr.io/demo/hello:1.0`)).toBe(digestOf('ghcr.io/demo/hello:1.0'));
    expect(await rawDigest(`${a}/multi/app:2.0`)).toBe(multi.indexDigest);
    expect(await rawDigest(`${a}/example.com/multi/app:2.0`)).toBe(digestOf('example.com/multi/app:2.0'));
    expect(await rawDigest(`${a}/charts/kubechat:0.1.0`)).toBe(manifest.artifacts.charts[0]!.digest);
    expect(await rawDigest(`${a}/library/assist:1.0`)).toBe(manifest.artifacts.models[0]!.digest);
  });

  it('Then skopeo copy pulls every image, and the multi-arch index with --all keeps its digest', async () => {
    const a = server.info.address;
    const dest = join(ws.dir, 'pulled');
    for (const [ref, tag] of [
      ['docker.io/demo/hello:1.0', 'hello'],
      ['ghcr.io/demo/hello:1.0', 'other'],
      ['charts/kubechat:0.1.0', 'chart'],
    ] as const) {
      const r = await skopeo(`copy ${insecure} docker://${a}/${ref} oci:${dest}:${tag}`);
      expect(r.code, r.stderr).toBe(0);
    }
    const r = await skopeo(
      `copy --all --preserve-digests ${insecure} docker://${a}/multi/app:2.0 oci:${dest}:multi`,
    );
    expect(r.code, r.stderr).toBe(0);
    const index = await readFile(join(dest, 'blobs', 'sha256', multi.indexDigest!.slice(7)));
    expect(sha256(index)).toBe(multi.indexDigest);
    for (const d of [...multi.manifestDigests, ...multi.layerDigests, ...multi.configDigests]) {
      expect(sha256(await readFile(join(dest, 'blobs', 'sha256', d.slice(7))))).toBe(d);
    }
    const big = await skopeo(`inspect --raw oci:${dest}:hello`);
    const layers = (JSON.parse(big.stdout) as { layers: Array<{ digest: string; size: number }> }).layers;
    expect(Math.max(...layers.map((l) => l.size))).toBeGreaterThan(32 * MiB);
  });

  it('Then every blob of the model is served with its digest (what ollama pull fetches)', async () => {
    const m = manifest.artifacts.models[0]!;
    const res = await http(`/v2/library/assist/manifests/1.0`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(m.digest);
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const doc = JSON.parse(Buffer.from(await res.arrayBuffer()).toString()) as {
      config: { digest: string };
      layers: Array<{ digest: string; size: number }>;
    };
    for (const d of [doc.config, ...doc.layers]) {
      const blob = Buffer.from(await (await http(`/v2/library/assist/blobs/${d.digest}`)).arrayBuffer());
      expect(sha256(blob)).toBe(d.digest);
    }
  });

  describe('HEAD and Range', () => {
    let layer: { digest: string; size: number };
    let source: Buffer;
    beforeAll(async () => {
      const res = await http('/v2/docker.io/demo/hello/manifests/1.0');
      const doc = (await res.json()) as { layers: Array<{ digest: string; size: number }> };
      layer = doc.layers.reduce((a, b) => (a.size > b.size ? a : b));
      source = await readFile(join(sources, 'hello', 'blobs', 'sha256', layer.digest.slice(7)));
    });

    it('Given HEAD on a blob and a manifest, Then 200 with size, digest and type, and no body', async () => {
      const res = await http(`/v2/docker.io/demo/hello/blobs/${layer.digest}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('content-length'))).toBe(layer.size);
      expect(res.headers.get('docker-content-digest')).toBe(layer.digest);
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect((await res.arrayBuffer()).byteLength).toBe(0);
      const m = await http('/v2/multi/app/manifests/2.0', { method: 'HEAD' });
      expect(m.status).toBe(200);
      expect(m.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
      expect(m.headers.get('docker-content-digest')).toBe(multi.indexDigest);
    });

    it.each([
      ['the first bytes', 'bytes=0-99', 0, 100],
      [
        'a range across the 32 MiB frame boundary',
        `bytes=${32 * MiB - 1000}-${32 * MiB + 999}`,
        32 * MiB - 1000,
        32 * MiB + 1000,
      ],
      ['an open-ended range', `bytes=${33 * MiB}-`, 33 * MiB, -1],
      ['a suffix range', 'bytes=-777', -777, -1],
      ['a range past the end (clamped)', `bytes=100-${BIG_LAYER * 2}`, 100, -1],
    ])('Given %s, Then 206 with the exact bytes and Content-Range', async (_what, range, from, to) => {
      const start = from < 0 ? layer.size + from : from;
      const end = to < 0 ? layer.size : to;
      const res = await http(`/v2/docker.io/demo/hello/blobs/${layer.digest}`, { headers: { Range: range } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end - 1}/${layer.size}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(source.subarray(start, end))).toBe(true);
    });

    it('Given a range starting at the end, Then 416 with Content-Range bytes */size', async () => {
      const res = await http(`/v2/docker.io/demo/hello/blobs/${layer.digest}`, {
        headers: { Range: `bytes=${layer.size}-` },
      });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${layer.size}`);
    });

    it('Given eight concurrent full downloads of the big layer, Then each one is complete and correct', async () => {
      const bodies = await Promise.all(
        Array.from({ length: 8 }, async () =>
          sha256(
            Buffer.from(await (await http(`/v2/docker.io/demo/hello/blobs/${layer.digest}`)).arrayBuffer()),
          ),
        ),
      );
      expect(new Set(bodies)).toEqual(new Set([layer.digest]));
      // 8 x 40 MiB in flight: a server that held blobs in memory would peak far above this.
      const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8');
      const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
      console.log(
        `registry serve peak RSS after 8 concurrent 40 MiB downloads: ${Math.round(peakKiB / 1024)} MiB`,
      );
      expect(peakKiB).toBeLessThan(256 * 1024);
    });
  });

  describe('errors', () => {
    it('Given an unknown repository, Then 404 NAME_UNKNOWN', async () => {
      const res = await http('/v2/nope/app/manifests/1.0');
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('NAME_UNKNOWN');
    });

    it('Given an unknown tag or manifest digest, Then 404 MANIFEST_UNKNOWN', async () => {
      for (const ref of ['9.9', `sha256:${'0'.repeat(64)}`]) {
        const res = await http(`/v2/multi/app/manifests/${ref}`);
        expect(res.status).toBe(404);
        expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
      }
    });

    it('Given an unknown blob, or a blob of another repository, Then 404 BLOB_UNKNOWN', async () => {
      const elsewhere = multi.layerDigests[0]!;
      for (const d of [`sha256:${'0'.repeat(64)}`, elsewhere]) {
        const res = await http(`/v2/docker.io/demo/hello/blobs/${d}`);
        expect(res.status).toBe(404);
        expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
      }
      expect((await http(`/v2/multi/app/blobs/${elsewhere}`)).status).toBe(200);
    });

    it('Given a malformed digest, Then 400 DIGEST_INVALID', async () => {
      const res = await http('/v2/multi/app/blobs/sha256:xyz');
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
    });

    it('Given a push (POST, PUT, PATCH, DELETE), Then 405 UNSUPPORTED', async () => {
      for (const [method, path] of [
        ['POST', '/v2/multi/app/blobs/uploads/'],
        ['PUT', '/v2/multi/app/manifests/3.0'],
        ['PATCH', '/v2/multi/app/blobs/uploads/x'],
        ['DELETE', `/v2/multi/app/manifests/${multi.indexDigest}`],
      ] as const) {
        const res = await http(path, { method, body: method === 'DELETE' ? undefined : 'x' });
        expect(res.status).toBe(405);
        expect(await errorCode(res)).toBe('UNSUPPORTED');
      }
      const push = await skopeo(
        `copy --dest-tls-verify=false oci:${join(sources, 'other')}:1.0 docker://${server.info.address}/pushed:1`,
      );
      expect(push.code).not.toBe(0);
    });

    it('Then /v2/ answers 200, tags/list and _catalog list names with n/last pagination', async () => {
      const root = await http('/v2/');
      expect(root.status).toBe(200);
      expect(root.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
      expect(await (await http('/v2/multi/app/tags/list')).json()).toEqual({
        name: 'multi/app',
        tags: ['2.0'],
      });
      const page = await http('/v2/_catalog?n=2');
      const first = (await page.json()) as { repositories: string[] };
      expect(first.repositories).toHaveLength(2);
      const next = /<([^>]+)>; rel="next"/.exec(page.headers.get('link') ?? '')?.[1];
      expect(next).toBeDefined();
      const rest = (await (await http(next!)).json()) as { repositories: string[] };
      expect(rest.repositories[0]! > first.repositories[1]!).toBe(true);
      const tagsList = await skopeo(
        `list-tags --tls-verify=false docker://${server.info.address}/charts/kubechat`,
      );
      expect(tagsList.code, tagsList.stderr).toBe(0);
      expect((JSON.parse(tagsList.stdout) as { Tags: string[] }).Tags).toEqual(['0.1.0']);
    });
  });
});

describe('registry serve from split parts and OCI layouts', () => {
  it('Given the bundle split into parts, When the parts file is served, Then skopeo pulls from it', async () => {
    const spec = join(ws.dir, 'serve.yaml');
    const out = join(ws.dir, 'split');
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', out, '--split', '8M', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const parts = join(out, 'serve-1.0.0.kcb.tar.zst.parts.json');
    const s = await startServe([parts, '--addr', '127.0.0.1:0']);
    try {
      expect(s.info.source.parts).toBeGreaterThan(3);
      const a = s.info.address;
      expect(await rawDigest(`${a}/docker.io/demo/hello:1.0`)).toBe(digestOf('docker.io/demo/hello:1.0'));
      const c = await skopeo(
        `copy ${insecure} docker://${a}/docker.io/demo/hello:1.0 oci:${join(ws.dir, 'from-parts')}:x`,
      );
      expect(c.code, c.stderr).toBe(0);
      // This bundle keeps only linux/amd64 of the multi-arch index: the index is served as it was
      // built, its amd64 child pulls, its absent arm64 child is MANIFEST_UNKNOWN.
      expect(await rawDigest(`${a}/multi/app:2.0`)).toBe(multi.indexDigest);
      const amd64 = await skopeo(
        `copy ${insecure} --override-os linux --override-arch amd64 docker://${a}/multi/app:2.0 oci:${join(ws.dir, 'from-parts')}:m`,
      );
      expect(amd64.code, amd64.stderr).toBe(0);
      const arm64 = await fetch(`${s.info.url}/v2/multi/app/manifests/${multi.manifestDigests[1]}`);
      expect(arm64.status).toBe(404);
      expect(await errorCode(arm64)).toBe('MANIFEST_UNKNOWN');
    } finally {
      await s.stop();
    }
  });

  it('Given an extracted bundle, When oci:DIR is served, Then images keep their normalised names', async () => {
    const dir = join(ws.dir, 'extracted');
    await mkdir(dir);
    expect((await sh(`zstd -dc '${bundle}' | tar -x -C '${dir}'`)).code).toBe(0);
    const s = await startServe([`oci:${dir}`, '--addr', '127.0.0.1:0']);
    try {
      conforms(s.info, 'registry-serve');
      const a = s.info.address;
      expect(await rawDigest(`${a}/multi/app:2.0`)).toBe(multi.indexDigest);
      const c = await skopeo(
        `copy ${insecure} docker://${a}/ghcr.io/demo/hello:1.0 oci:${join(ws.dir, 'from-dir')}:x`,
      );
      expect(c.code, c.stderr).toBe(0);
    } finally {
      await s.stop();
    }
  });

  it('Given a plain skopeo layout (bare tags), When served, Then tags live under the directory name', async () => {
    const dir = join(ws.dir, 'Plain_Layout');
    await cp(join(sources, 'multi'), dir, { recursive: true });
    const s = await startServe([`oci:${dir}`, '--addr', '127.0.0.1:0']);
    try {
      expect(s.info.tags.map((t) => `${t.repository}:${t.tag}`)).toEqual(['plain_layout:2.0']);
      expect(await rawDigest(`${s.info.address}/plain_layout:2.0`)).toBe(multi.indexDigest);
    } finally {
      await s.stop();
    }
  });
});

describe('registry serve from a layout holding a symlink', () => {
  it('Given a blob replaced by a symlink to a file outside, When served, Then that blob is BLOB_UNKNOWN, never the file', async () => {
    const dir = join(ws.dir, 'linked');
    await cp(join(sources, 'multi'), dir, { recursive: true });
    const outside = join(ws.dir, 'secret.txt');
    await writeFile(outside, 'not for the network\n');
    const victim = join(dir, 'blobs', 'sha256', multi.layerDigests[0]!.slice(7));
    await rm(victim);
    await symlink(outside, victim);
    const s = await startServe([`oci:${dir}`, '--addr', '127.0.0.1:0']);
    try {
      expect(s.info.warnings.join('\n')).toContain(`blob ${multi.layerDigests[0]} is not in`);
      const res = await fetch(`${s.info.url}/v2/linked/blobs/${multi.layerDigests[0]}`);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
      expect((await fetch(`${s.info.url}/v2/linked/blobs/${multi.layerDigests[1]}`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});

describe('registry serve over TLS', () => {
  it('Given a certificate from a test CA, When served with --tls-cert/--tls-key, Then skopeo pulls with the CA and refuses without it', async () => {
    const pki = await makeCertificates();
    const trust = join(pki.dir, 'trust'); // skopeo's --cert-dir takes CA certificates as *.crt
    await mkdir(trust);
    await cp(pki.ca, join(trust, 'ca.crt'));
    const s = await startServe([
      bundle,
      '--addr',
      '127.0.0.1:0',
      '--tls-cert',
      pki.cert,
      '--tls-key',
      pki.key,
    ]);
    try {
      expect(s.info.tls).toBe(true);
      expect(s.info.url).toBe(`https://${s.info.address}`);
      const a = s.info.address;
      const ok = await skopeo(
        `copy --src-cert-dir ${trust} docker://${a}/multi/app:2.0 oci:${join(ws.dir, 'tls')}:x`,
      );
      expect(ok.code, ok.stderr).toBe(0);
      expect(await rawDigest(`${a}/multi/app:2.0`, `--cert-dir ${trust}`)).toBe(multi.indexDigest);
      const refused = await skopeo(`inspect --raw docker://${a}/multi/app:2.0`);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/certificate/);
    } finally {
      await s.stop();
    }
    // A key that does not belong to the certificate: exit 36, nothing secret in the message.
    const other = await makeCertificates();
    const bad = await kubechat([
      'registry',
      'serve',
      bundle,
      '--addr',
      '127.0.0.1:0',
      '--tls-cert',
      pki.cert,
      '--tls-key',
      other.key,
      '--allow-unsigned',
    ]);
    expect(bad.code).toBe(36);
    expect(bad.stderr).toMatch(/^error: .*not a usable TLS certificate and key pair/m);
    expect(bad.stderr).not.toContain('PRIVATE KEY');
    const missing = await kubechat([
      'registry',
      'serve',
      bundle,
      '--tls-cert',
      join(pki.dir, 'nope.crt'),
      '--tls-key',
      pki.key,
      '--allow-unsigned',
    ]);
    expect(missing.code).toBe(36);
    expect(missing.stderr).toContain('nope.crt: cannot read the TLS certificate');
  });
});

describe('registry serve: refusals and lifecycle', () => {
  it('Given an address in use, Then exit 35 with a fix', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await kubechat([
        'registry',
        'serve',
        bundle,
        '--addr',
        `127.0.0.1:${port}`,
        '--json',
        '--allow-unsigned',
      ]);
      expect(r.code).toBe(35);
      const err = JSON.parse(r.stdout) as { error: { exitCode: number; message: string; fix: string } };
      conforms(err, 'error');
      expect(err.error.message).toContain('address already in use');
      expect(err.error.fix).toContain('--addr');
    } finally {
      busy.close();
    }
  });

  it('Given a malformed --addr, Then exit 3; --tls-cert without --tls-key, Then exit 2', async () => {
    const r = await kubechat(['registry', 'serve', bundle, '--addr', 'localhost', '--allow-unsigned']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('expected HOST:PORT');
    const t = await kubechat(['registry', 'serve', bundle, '--tls-cert', 'x.crt', '--allow-unsigned']);
    expect(t.code).toBe(2);
  });

  it('Given a bundle recompressed into one frame (no seek table), Then exit 37 and the fix serves it as oci:DIR', async () => {
    const flat = join(ws.dir, 'flat.kcb.tar.zst');
    expect((await sh(`zstd -dc '${bundle}' | zstd -q -1 -o '${flat}'`)).code).toBe(0);
    const r = await kubechat(['registry', 'serve', flat, '--addr', '127.0.0.1:0', '--allow-unsigned']);
    expect(r.code).toBe(37);
    expect(r.stderr).toContain('has no zstd seek table');
    expect(r.stderr).toMatch(/^fix: .*kubechat registry serve oci:DIR/m);
  });

  it('Given a delta bundle, Then exit 37 and the fix says to merge it first', async () => {
    const spec = join(ws.dir, 'serve.yaml');
    const text = (await readFile(spec, 'utf8')).replace('version: 1.0.0', 'version: 1.1.0');
    await writeFile(join(ws.dir, 'serve-1.1.yaml'), text);
    const d = await kubechat([
      'bundle',
      'create',
      '-f',
      join(ws.dir, 'serve-1.1.yaml'),
      '-o',
      join(ws.dir, 'delta'),
      '--base',
      bundle,
      '--json',
    ]);
    expect(d.code, d.stderr).toBe(0);
    const r = await kubechat([
      'registry',
      'serve',
      (JSON.parse(d.stdout) as { bundle: string }).bundle,
      '--allow-unsigned',
    ]);
    expect(r.code).toBe(37);
    expect(r.stderr).toContain('kubechat bundle merge');
  });

  it('Given a directory that is not an OCI layout, Then exit 37', async () => {
    const r = await kubechat(['registry', 'serve', `oci:${ws.dir}`, '--addr', '127.0.0.1:0']);
    expect(r.code).toBe(37);
    expect(r.stderr).toContain('not an OCI image layout');
  });

  it('Given no --json, When listening, Then the first stdout line gives the URL and then one pull name per tag', async () => {
    const s = await startServe([bundle, '--addr', '127.0.0.1:0'], { json: false });
    expect(s.line).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ \(serve 1\.0\.0, read-only\)$/);
    expect((await fetch(`${s.info.url}/v2/`)).status).toBe(200);
    const r = await s.stop('SIGTERM');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`  ${s.info.address}/multi/app:2.0  ${multi.indexDigest}`);
    expect(r.stderr).toContain('SIGTERM: stopping');
  });

  it('Given a running server, When SIGINT arrives, Then it stops cleanly with exit 0 and prints nothing more on stdout', async () => {
    const s = await startServe([bundle, '--addr', '127.0.0.1:0']);
    const r = await s.stop('SIGINT');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('SIGINT: stopping');
  });
});

describe('trust policy before serving a bundle', () => {
  it('Given an unsigned bundle without --allow-unsigned, Then exit 20 before the port opens', async () => {
    const port = await freePort();
    const r = await kubechat(['registry', 'serve', bundle, '--addr', `127.0.0.1:${port}`, '--json'], {
      env: { KUBECHAT_TRUST_DIR: join(ws.dir, 'no-trust') },
    });
    expect(r.code, r.stderr).toBe(20);
    expect(r.stdout).toContain('not signed');
  });

  it('Given a bundle signed by a trusted key, Then it serves it; by an untrusted key, Then exit 21', async () => {
    const env = { KUBECHAT_KEY_PASSPHRASE: 'serve-test-passphrase' };
    for (const name of ['serve-key', 'stranger'])
      expect((await kubechat(['keys', 'generate', '--out', join(ws.dir, name)], { env })).code).toBe(0);
    const signed = join(ws.dir, 'signed.kcb.tar.zst');
    await cp(bundle, signed);
    const s = await kubechat(['bundle', 'sign', signed, '--key', join(ws.dir, 'serve-key.key')], { env });
    expect(s.code, s.stderr).toBe(0);
    const refused = await kubechat(
      ['registry', 'serve', signed, '--trusted-key', join(ws.dir, 'stranger.pub'), '--addr', '127.0.0.1:0'],
      { env: { KUBECHAT_TRUST_DIR: join(ws.dir, 'no-trust') } },
    );
    expect(refused.code, refused.stderr).toBe(21);
    const ok = await startServe(
      [signed, '--trusted-key', join(ws.dir, 'serve-key.pub'), '--addr', '127.0.0.1:0'],
      {
        signed: true,
      },
    );
    try {
      expect(ok.info.tags.length).toBeGreaterThan(0);
    } finally {
      await ok.stop();
    }
  });
});

describe('registry serve --htpasswd (basic auth)', () => {
  const PASSWORD = 'Pull-Only-9f2c';
  async function htpasswdFile(): Promise<string> {
    const file = join(ws.dir, 'htpasswd');
    const r = await sh(
      `htpasswd -Bbn puller '${PASSWORD}' > '${file}' && htpasswd -Bbn other 'x-Other-1' >> '${file}'`,
    );
    expect(r.code, r.stderr).toBe(0);
    return file;
  }

  it('Given an htpasswd file, Then requests without or with wrong credentials get 401 and skopeo pulls with --creds', async () => {
    const file = await htpasswdFile();
    const s = await startServe([bundle, '--addr', '127.0.0.1:0', '--htpasswd', file]);
    try {
      expect(s.info.auth).toEqual({ kind: 'basic', users: 2 });
      const a = s.info.address;
      const anon = await fetch(`http://${a}/v2/`);
      expect(anon.status).toBe(401);
      expect(anon.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(((await anon.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe(
        'UNAUTHORIZED',
      );
      const wrong = await fetch(`http://${a}/v2/`, {
        headers: { authorization: `Basic ${Buffer.from('puller:nope').toString('base64')}` },
      });
      expect(wrong.status).toBe(401);
      const unknownUser = await fetch(`http://${a}/v2/`, {
        headers: { authorization: `Basic ${Buffer.from(`nobody:${PASSWORD}`).toString('base64')}` },
      });
      expect(unknownUser.status).toBe(401);
      const refused = await skopeo(
        `inspect ${insecure.replace('src-', '')} --raw docker://${a}/multi/app:2.0`,
      );
      expect(refused.code).not.toBe(0);
      const ok = await sh(
        `skopeo inspect --tls-verify=false --creds 'puller:${PASSWORD}' --raw 'docker://${a}/multi/app:2.0' | sha256sum`,
      );
      expect(ok.code, ok.stderr).toBe(0);
      expect(`sha256:${ok.stdout.split(' ')[0]}`).toBe(multi.indexDigest);
      const copied = await skopeo(
        `copy ${insecure} --src-creds 'puller:${PASSWORD}' docker://${a}/multi/app:2.0 oci:${join(ws.dir, 'auth-copy')}:x`,
      );
      expect(copied.code, copied.stderr).toBe(0);
    } finally {
      const { stderr } = await s.stop();
      expect(stderr).not.toContain(PASSWORD);
    }
  });

  it('Given a non-bcrypt entry, an unreadable file, or basic auth off loopback without TLS, Then exit 38 with the fix', async () => {
    const md5 = join(ws.dir, 'htpasswd-md5');
    expect((await sh(`htpasswd -mbn puller '${PASSWORD}' > '${md5}'`)).code).toBe(0);
    const serve = (...args: string[]) => kubechat(['registry', 'serve', bundle, '--allow-unsigned', ...args]);
    const weak = await serve('--addr', '127.0.0.1:0', '--htpasswd', md5);
    expect(weak.code).toBe(38);
    expect(weak.stderr).toMatch(/htpasswd-md5:1: not a "user:bcrypt-hash" line \(user puller\)/);
    expect(weak.stderr).toContain('htpasswd -B');
    expect(weak.stderr).not.toMatch(/\$apr1\$/);
    const missing = await serve('--addr', '127.0.0.1:0', '--htpasswd', join(ws.dir, 'no-such-htpasswd'));
    expect(missing.code).toBe(38);
    expect(missing.stderr).toContain('cannot read the htpasswd file');
    const clear = await serve('--addr', '0.0.0.0:0', '--htpasswd', await htpasswdFile());
    expect(clear.code).toBe(38);
    expect(clear.stderr).toContain('without TLS: passwords would cross the network in clear');
  });
});
