/**
 * kubechat install into real docker-registry instances (plain, TLS with a private CA and basic auth),
 * read back with skopeo; a registry that dies mid-push; and the whole install inside `unshare -n`.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat, ROOT, sh } from '../support/cli.js';
import { conforms, sha256File } from '../support/install-fixture.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { makeCertificates, REGISTRY_BIN, startRegistry, type TestRegistry } from '../support/registry.js';
import { makeWorkspace } from '../support/workspace.js';

interface Result {
  upToDate: boolean;
  artifacts: Array<{ kind: string; ref: string; digest: string; location: string; status: string }>;
  bytes: { pushed: number; skipped: number };
  blobs: { pushed: number; skipped: number };
}

const BIG = 20 * 1024 * 1024; // above the monolithic limit: goes up in PATCH chunks
let dir: string;
let bundle: string;
let refs: Array<{ ref: string; digest: string; path: string }>;
const registries: TestRegistry[] = [];
const env = () => ({ KUBECHAT_STATE_DIR: join(dir, 'state') });

beforeAll(async () => {
  const ws = await makeWorkspace();
  dir = ws.dir;
  // Two images sharing their first layer (pushed once, mounted into the other repository).
  await writeOciLayout(join(dir, 'src', 'hello'), {
    tag: '1.0',
    layers: [{ size: 64 * 1024 }, { size: BIG, seed: 'hello-big' }],
    gzip: true,
  });
  await writeOciLayout(join(dir, 'src', 'other'), {
    tag: '2.0',
    layers: [{ size: 64 * 1024 }, { size: 512 * 1024, seed: 'other' }],
    gzip: true,
  });
  const spec = join(dir, 'reg.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: reg, version: 1.0.0}
spec:
  platforms: [linux/amd64]
  images:
    - {ref: "demo/hello:1.0", from: "oci:./src/hello:1.0"}
    - {ref: "quay.io/demo/other:2.0", from: "oci:./src/other:2.0"}
  charts:
    - {path: ./charts/kubechat}
`,
  );
  const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out, '--json']);
  expect(r.code, r.stderr).toBe(0);
  bundle = (JSON.parse(r.stdout) as { bundle: string }).bundle;
  const manifest = JSON.parse((await sh(`zstd -dc '${bundle}' | tar -xO kubechat-bundle.json`)).stdout) as {
    artifacts: {
      images: Array<{ ref: string; digest: string }>;
      charts: Array<{ ref: string; digest: string }>;
    };
  };
  refs = [
    ...manifest.artifacts.images.map((i) => ({ ...i, path: i.ref.replace(/^[^/]+\//, '') })),
    ...manifest.artifacts.charts.map((c) => ({ ...c, path: c.ref })),
  ];
  expect(refs.map((r) => r.path).sort()).toEqual([
    'charts/kubechat:0.1.0',
    'demo/hello:1.0',
    'demo/other:2.0',
  ]);
});

afterAll(async () => {
  await Promise.all(registries.map((r) => r.stop()));
});

async function registry(options: Parameters<typeof startRegistry>[0] = {}) {
  const r = await startRegistry(options);
  registries.push(r);
  return r;
}

describe('install into a plain docker-registry', () => {
  let reg: TestRegistry;
  let first: Result;

  beforeAll(async () => {
    reg = await registry();
    const r = await kubechat(['install', bundle, '--allow-unsigned', '--registry', reg.host, '--json'], {
      env: env(),
    });
    expect(r.code, r.stderr + reg.log()).toBe(0);
    conforms(r.stdout, 'install');
    first = JSON.parse(r.stdout) as Result;
  });

  it('Then every image and chart is under its original path and tag with the bundle’s exact digest', async () => {
    for (const a of refs) {
      const r = await sh(
        `skopeo inspect --tls-verify=false --raw docker://${reg.host}/${a.path} | sha256sum`,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(`sha256:${r.stdout.split(' ')[0]}`).toBe(a.digest);
    }
    expect(first.artifacts.map((a) => a.location).sort()).toEqual(
      refs.map((a) => `${reg.host}/${a.path}`).sort(),
    );
  });

  it('Then skopeo copy pulls every blob of every image, the shared layer pushed once and mounted', async () => {
    for (const a of refs.filter((x) => !x.path.startsWith('charts/'))) {
      const out = join(dir, 'pulled', a.path.replace(/[/:]/g, '_'));
      await mkdir(out, { recursive: true });
      const r = await sh(`skopeo copy -q --src-tls-verify=false docker://${reg.host}/${a.path} dir:'${out}'`);
      expect(r.code, r.stderr).toBe(0);
      for (const f of (await readdir(out)).filter((n) => /^[a-f0-9]{64}$/.test(n)))
        expect(await sha256File(join(out, f))).toBe(f);
    }
    // 2 manifests' configs + 3 distinct layers + chart config and layer: the shared layer only once.
    expect(first.blobs.pushed).toBe(7);
  });

  it('When run again, Then nothing is pushed', async () => {
    const r = await kubechat(['install', bundle, '--allow-unsigned', '--registry', reg.host, '--json'], {
      env: env(),
    });
    expect(r.code, r.stderr).toBe(0);
    const again = JSON.parse(r.stdout) as Result;
    expect(again.upToDate).toBe(true);
    expect(again.bytes.pushed).toBe(0);
  });

  it('When the journal is gone, Then HEAD checks skip every blob already there', async () => {
    const r = await kubechat(['install', bundle, '--allow-unsigned', '--registry', reg.host, '--json'], {
      env: { KUBECHAT_STATE_DIR: join(dir, 'fresh-state') },
    });
    expect(r.code, r.stderr).toBe(0);
    const again = JSON.parse(r.stdout) as Result;
    expect(again.bytes.pushed).toBe(0);
    expect(again.blobs.skipped).toBe(7);
  });

  it('With --registry-prefix, Then repositories go under the prefix', async () => {
    const r = await kubechat(
      [
        'install',
        bundle,
        '--allow-unsigned',
        '--registry',
        reg.host,
        '--registry-prefix',
        'mirror/kc',
        '--json',
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const digest = await sh(
      `skopeo inspect --tls-verify=false --raw docker://${reg.host}/mirror/kc/demo/other:2.0 | sha256sum`,
    );
    expect(digest.stdout).toContain(refs.find((a) => a.path === 'demo/other:2.0')!.digest.slice(7));
  });
});

describe('install into a TLS registry with a private CA and basic auth', () => {
  it('Then --registry-ca and --registry-auth get it in; without the CA it exits 10, with a wrong password 11', async () => {
    const certs = await makeCertificates();
    const reg = await registry({
      tls: { cert: certs.cert, key: certs.key },
      auth: { username: 'kc', password: 's3cret-pw' },
    });
    const base = ['install', bundle, '--allow-unsigned', '--registry', reg.host];
    const noCa = await kubechat([...base, '--registry-auth', `${reg.host}=kc:REG_PW`], {
      env: { ...env(), REG_PW: 's3cret-pw' },
    });
    expect(noCa.code).toBe(10);
    expect(noCa.stderr).toMatch(/--registry-ca/);
    const wrong = await kubechat(
      [...base, '--registry-ca', certs.ca, '--registry-auth', `${reg.host}=kc:REG_PW`],
      {
        env: { ...env(), REG_PW: 'nope' },
      },
    );
    expect(wrong.code).toBe(11);
    expect(wrong.stderr).not.toContain('nope');
    const ok = await kubechat(
      [...base, '--registry-ca', certs.ca, '--registry-auth', `${reg.host}=kc:REG_PW`, '--json'],
      {
        env: { ...env(), REG_PW: 's3cret-pw' },
      },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toContain('s3cret-pw');
    const a = refs.find((x) => x.path === 'demo/hello:1.0')!;
    // skopeo reads *.crt in --cert-dir as CAs (and *.key as client keys, so only the CA goes there).
    const certDir = await mkdtemp(join(tmpdir(), 'kubechat-skopeo-certs-'));
    await writeFile(join(certDir, 'ca.crt'), await readFile(certs.ca));
    const r = await sh(
      `skopeo inspect --cert-dir '${certDir}' --creds kc:s3cret-pw --raw docker://${reg.host}/${a.path} | sha256sum`,
    );
    expect(r.stdout, r.stderr).toContain(a.digest.slice(7));
  });
});

describe('install into a TLS registry whose CA is not given', () => {
  it('Then --insecure-registry HOST gets it in; the old bare form too, with a warning on stderr and clean JSON on stdout', async () => {
    const certs = await makeCertificates();
    const reg = await registry({ tls: { cert: certs.cert, key: certs.key } });
    // --no-validate: the post-install registry suite rightly fails an unverified certificate (exit 34).
    const base = ['install', bundle, '--allow-unsigned', '--no-validate', '--registry', reg.host, '--json'];
    const refused = await kubechat(base, { env: { KUBECHAT_STATE_DIR: join(dir, 'state-insecure') } });
    expect(refused.code).toBe(10);
    expect(refused.stderr + refused.stdout).toContain(`--insecure-registry ${reg.host}`);

    const named = await kubechat([...base, '--insecure-registry', reg.host], {
      env: { KUBECHAT_STATE_DIR: join(dir, 'state-insecure-named') },
    });
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).not.toContain('deprecated');
    expect((JSON.parse(named.stdout) as Result).blobs.pushed).toBeGreaterThan(0);

    // The boolean form, last on the line and before the bundle argument (an existing file, not a HOST).
    for (const [i, argv] of [
      [...base, '--insecure-registry'],
      [
        'install',
        '--insecure-registry',
        bundle,
        '--allow-unsigned',
        '--no-validate',
        '--registry',
        reg.host,
        '--json',
      ],
    ].entries()) {
      const r = await kubechat(argv, { env: { KUBECHAT_STATE_DIR: join(dir, `state-insecure-bare-${i}`) } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(
        `--insecure-registry without a HOST is deprecated: use --insecure-registry HOST (here: ${reg.host})`,
      );
      conforms(r.stdout, 'install');
    }
  });
});

describe('registry faults', () => {
  it('Given no registry listening, Then it exits 10 before reading the bundle', async () => {
    const r = await kubechat(['install', bundle, '--allow-unsigned', '--registry', '127.0.0.1:9'], {
      env: env(),
    });
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/127\.0\.0\.1:9/);
  });

  it('Given a registry that dies mid-push, Then it fails cleanly, and a re-run against it restarted resumes', async () => {
    const storage = await mkdtemp(join(tmpdir(), 'kubechat-regstore-'));
    const reg = await registry({ storage });
    const args = ['install', bundle, '--allow-unsigned', '--registry', reg.host, '--concurrency', '1'];
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
      env: { ...process.env, ...env(), CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Kill the registry once its first blob upload has landed.
    for (;;) {
      const blobs = await sh(`find '${storage}' -path '*blobs/sha256*' -name data | wc -l`);
      if (Number(blobs.stdout.trim()) > 0 || child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    reg.process.kill('SIGKILL');
    registries.splice(registries.indexOf(reg), 1); // killed: nothing left to stop
    const code = await exited;
    if (code === 0) return; // the push won the race: nothing to resume (rare on a fast machine)
    expect(code).toBe(10);
    expect(stderr).toMatch(/^error: .*127\.0\.0\.1/m);
    expect(stderr).toMatch(/^fix: /m);
    const again = await registry({ storage });
    const r = await kubechat(['install', bundle, '--allow-unsigned', '--registry', again.host, '--json'], {
      env: env(),
    });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as Result;
    expect(res.blobs.skipped).toBeGreaterThan(0);
    const a = refs.find((x) => x.path === 'demo/hello:1.0')!;
    expect(
      (await sh(`skopeo inspect --tls-verify=false --raw docker://${again.host}/${a.path} | sha256sum`))
        .stdout,
    ).toContain(a.digest.slice(7));
  });
});

describe('zero egress', () => {
  it('Given a network namespace with only loopback, Then install into a registry started inside it succeeds', async () => {
    const probe = await sh('unshare -n true');
    if (probe.code !== 0) return; // needs root (CI runs the suite as root)
    const work = await mkdtemp(join(tmpdir(), 'kubechat-netns-'));
    await writeFile(
      join(work, 'config.yml'),
      `version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\nstorage:\n  filesystem: {rootdirectory: "${work}/storage"}\nhttp:\n  addr: 127.0.0.1:5000\n  secret: x\n`,
    );
    const script = `
set -e
ip link set lo up
test "$(ip -o link show | grep -vc ' lo:')" = 0
${REGISTRY_BIN} serve '${work}/config.yml' > '${work}/registry.log' 2>&1 &
REG=$!
trap 'kill $REG' EXIT
for i in $(seq 100); do curl -sf http://127.0.0.1:5000/v2/ >/dev/null && break; sleep 0.1; done
KUBECHAT_STATE_DIR='${work}/state' CI=1 '${process.execPath}' '${join(ROOT, 'bin', 'run.js')}' install '${bundle}' --allow-unsigned --registry 127.0.0.1:5000 --files-dir '${work}/files' --json > '${work}/result.json'
skopeo inspect --tls-verify=false --raw docker://127.0.0.1:5000/demo/hello:1.0 | sha256sum > '${work}/digest'
`;
    await writeFile(join(work, 'run.sh'), script);
    const r = await sh(`unshare -n bash '${join(work, 'run.sh')}'`);
    expect(r.code, r.stderr).toBe(0);
    conforms(await readFile(join(work, 'result.json'), 'utf8'), 'install');
    const a = refs.find((x) => x.path === 'demo/hello:1.0')!;
    expect(await readFile(join(work, 'digest'), 'utf8')).toContain(a.digest.slice(7));
  });
});
