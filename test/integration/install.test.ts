/**
 * kubechat install into an OCI image layout, an Ollama models directory, the Ollama HTTP API (double)
 * and a files directory, read back by tools nobody here wrote (skopeo) and checked blob by blob.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat, ROOT, sh } from '../support/cli.js';
import {
  conforms,
  corruptEntry,
  demoBundle,
  sha256File,
  type DemoBundle,
} from '../support/install-fixture.js';
import { OllamaDouble } from '../support/ollama-double.js';
import { trustError } from '../../src/lib/errors.js';
import { install, type InstallResult } from '../../src/install/install.js';
import { MemoryJournal } from '../../src/install/journal.js';
import { OciLayoutTarget } from '../../src/targets/oci-layout.js';

let demo: DemoBundle;
let dir: string;
let state: string;
const env = () => ({ KUBECHAT_STATE_DIR: state });
const run = (args: string[]) => kubechat(['install', ...args], { env: env() });

interface Result {
  upToDate: boolean;
  artifacts: Array<{
    kind: string;
    ref: string;
    digest: string;
    targetDigest: string;
    aliases: string[];
    status: string;
  }>;
  bytes: { pushed: number; skipped: number };
  blobs: { pushed: number; skipped: number };
  files: { written: number; skipped: number };
  resumedJobs: number;
  warnings: string[];
  seconds: number;
}

beforeAll(async () => {
  demo = await demoBundle('1.0.0');
  dir = await mkdtemp(join(tmpdir(), 'kubechat-install-'));
  state = join(dir, 'state');
});

describe('install into an OCI layout, an Ollama store and a files directory', () => {
  let oci: string;
  let store: string;
  let files: string;
  let first: Result;

  beforeAll(async () => {
    oci = join(dir, 'oci');
    store = join(dir, 'ollama');
    files = join(dir, 'files');
    const r = await run([
      demo.path,
      '--allow-unsigned',
      '--registry',
      `oci:${oci}`,
      '--ollama-store',
      store,
      '--files-dir',
      files,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'install');
    first = JSON.parse(r.stdout) as Result;
    expect(r.stderr).toMatch(/--allow-unsigned: demo 1\.0\.0 is not signed/);
  });

  it('Then skopeo reads every image and chart with the bundle’s exact manifest digest', async () => {
    for (const a of [...demo.manifest.artifacts.images, ...demo.manifest.artifacts.charts]) {
      const r = await sh(`skopeo inspect --raw oci:'${oci}':${a.ref} | sha256sum`);
      expect(r.code, r.stderr).toBe(0);
      expect(`sha256:${r.stdout.split(' ')[0]}`).toBe(a.digest);
    }
    const copy = await sh(
      `skopeo copy -q oci:'${oci}':docker.io/demo/hello:1.0 dir:'${join(dir, 'copied')}'`,
    );
    expect(copy.code, copy.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(dir, 'copied', 'manifest.json'), 'utf8')) as {
      layers: Array<{ digest: string }>;
    };
    for (const l of manifest.layers)
      expect(await sha256File(join(dir, 'copied', l.digest.slice(7)))).toBe(l.digest.slice(7));
  });

  it('Then the Ollama store holds the bundle’s manifest byte for byte, every blob under sha256-<hex>, and a version tag', async () => {
    const model = demo.manifest.artifacts.models[0]!;
    const mdir = join(store, 'manifests', 'registry.ollama.ai', 'library', 'assist');
    const serving = await readFile(join(mdir, '1.0'));
    expect(`sha256:${await sha256File(join(mdir, '1.0'))}`).toBe(model.digest);
    const version = `1.0-${model.digest.slice(7, 19)}`;
    expect(await readFile(join(mdir, version))).toEqual(serving);
    const m = JSON.parse(serving.toString()) as {
      config: { digest: string; size: number };
      layers: Array<{ digest: string; size: number }>;
    };
    for (const l of [m.config, ...m.layers]) {
      const p = join(store, 'blobs', `sha256-${l.digest.slice(7)}`);
      expect((await stat(p)).size).toBe(l.size);
      expect(await sha256File(p)).toBe(l.digest.slice(7));
    }
    const installed = first.artifacts.find((a) => a.kind === 'model')!;
    expect(installed.aliases).toEqual([`assist:${version}`]);
    expect(installed.targetDigest).toBe(model.digest);
  });

  it('Then files/ entries are written under --files-dir with their content and executable bit', async () => {
    const listed = demo.manifest.contents.filter((x) => x.path.startsWith('files/'));
    for (const c of listed) {
      const p = join(files, c.path.slice('files/'.length));
      expect(await sha256File(p)).toBe(c.sha256);
      expect((await stat(p)).mode & 0o111).toBe(c.mode === '0755' ? 0o111 : 0);
    }
    // The three docs files and the database migrations every bundle carries (files/migrations/).
    expect(listed.filter((c) => c.path.startsWith('files/migrations/')).length).toBeGreaterThan(0);
    expect(first.files.written).toBe(listed.length);
  });

  it('Then nothing temporary is left in the targets', async () => {
    const all = [
      ...(await readdir(oci, { recursive: true })),
      ...(await readdir(store, { recursive: true })),
    ];
    expect(all.filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it('When run again, Then it is a no-op that reads only the bundle header and pushes nothing', async () => {
    const r = await run([
      demo.path,
      '--allow-unsigned',
      '--registry',
      `oci:${oci}`,
      '--ollama-store',
      store,
      '--files-dir',
      files,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'install');
    const again = JSON.parse(r.stdout) as Result;
    expect(again.upToDate).toBe(true);
    expect(again.bytes.pushed).toBe(0);
    expect(again.bytes.skipped).toBe(first.bytes.pushed);
    expect(again.resumedJobs).toBeGreaterThan(0);
    expect(again.artifacts.every((a) => a.status === 'unchanged')).toBe(true);
  });

  it('When a target was wiped since, Then the journal is not trusted and the artifact is installed again', async () => {
    const mdir = join(store, 'manifests', 'registry.ollama.ai', 'library', 'assist');
    await sh(`rm -rf '${store}'`);
    const r = await run([
      demo.path,
      '--allow-unsigned',
      '--registry',
      `oci:${oci}`,
      '--ollama-store',
      store,
      '--files-dir',
      files,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const again = JSON.parse(r.stdout) as Result;
    expect(again.upToDate).toBe(false);
    expect(existsSync(join(mdir, '1.0'))).toBe(true);
    expect(again.artifacts.find((a) => a.kind === 'model')!.status).toBe('installed');
    expect(again.artifacts.find((a) => a.kind === 'image')!.status).toBe('unchanged');
  });
});

describe('refusals and faults', () => {
  it('The trust-policy seam runs before any target is touched, replaces the unsigned check, and its warnings are reported', async () => {
    const oci = join(dir, 'policy');
    const base = {
      bundlePath: demo.path,
      targets: [new OciLayoutTarget(oci)],
      openJournal: () => ({ journal: new MemoryJournal(), location: null }),
      allowUnsigned: false,
    };
    const refused = install({
      ...base,
      verifyPolicy: () => Promise.reject(trustError('expired', 'demo 1.0.0 expired', 'get a fresh bundle')),
    });
    await expect(refused).rejects.toMatchObject({ exitCode: 27 });
    expect(existsSync(oci)).toBe(false);
    let completed: InstallResult | undefined;
    const ok = await install({
      ...base,
      targets: [new OciLayoutTarget(oci)],
      verifyPolicy: () =>
        Promise.resolve({
          signed: true,
          keyId: 'k1',
          overrides: ['allow-expired'],
          warnings: ['--allow-expired: demo 1.0.0 expired'],
        }),
      onComplete: (r) => {
        completed = r;
        return Promise.resolve();
      },
    });
    expect(ok.warnings).toEqual(['--allow-expired: demo 1.0.0 expired']);
    expect(completed).toBe(ok);
    expect(ok.signature).toBe('verified');
    expect(ok.trust).toMatchObject({ keyId: 'k1', overrides: ['allow-expired'] });
    expect(ok.artifacts.filter((a) => a.status === 'installed')).toHaveLength(2);
  });

  it('Given an unsigned bundle and no --allow-unsigned, Then it exits 20 before touching any target', async () => {
    const oci = join(dir, 'unsigned');
    const r = await run([demo.path, '--registry', `oci:${oci}`, '--json']);
    expect(r.code).toBe(20);
    conforms(r.stdout, 'error');
    expect(r.stdout).toMatch(/--allow-unsigned/);
    expect(existsSync(oci)).toBe(false);
  });

  it('Given no target, Then it exits 3 naming the flags', async () => {
    const r = await run([demo.path, '--allow-unsigned']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--registry/);
  });

  it('Given a blob corrupted mid-stream, Then it stops with exit 6 naming the artifact, tags nothing that references it, and a good bundle then resumes', async () => {
    const image = demo.manifest.artifacts.images[0]!;
    // The image's largest layer: a blob only the image uses.
    const layer = demo.manifest.contents
      .filter((c) => c.path.startsWith('blobs/') && c.size > 500_000 && c.size < 2_000_000)
      .sort((a, b) => b.size - a.size)[0]!;
    const work = await mkdtemp(join(tmpdir(), 'kubechat-corrupt-'));
    const bad = await corruptEntry(demo.path, layer.path, work, 5000);
    const oci = join(work, 'oci');
    const r = await run([bad, '--allow-unsigned', '--registry', `oci:${oci}`]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(layer.path);
    expect(r.stderr).toContain(image.ref);
    const index = existsSync(join(oci, 'index.json')) ? await readFile(join(oci, 'index.json'), 'utf8') : '';
    expect(index).not.toContain(image.ref);
    expect(existsSync(join(oci, 'blobs', 'sha256', layer.path.split('/').at(-1)!))).toBe(false);
    const ok = await run([demo.path, '--allow-unsigned', '--registry', `oci:${oci}`, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const res = JSON.parse(ok.stdout) as Result;
    expect(res.blobs.skipped).toBeGreaterThanOrEqual(0);
    expect((await sh(`skopeo inspect --raw oci:'${oci}':${image.ref} | sha256sum`)).stdout).toContain(
      image.digest.slice(7),
    );
  });

  it('Given a directory target on a full disk, Then it exits 30 with a fix, and a re-run resumes', async () => {
    const mnt = join(dir, 'tiny');
    await sh(`mkdir -p '${mnt}'`);
    const mounted = await sh(`mount -t tmpfs -o size=1500k tmpfs '${mnt}'`);
    if (mounted.code !== 0) return; // needs root: the unshare/mount tests run as root in CI
    try {
      // The preflight suite sees the disk is too small and refuses before writing anything (exit 33)…
      const pre = await run([demo.path, '--allow-unsigned', '--ollama-store', join(mnt, 'ollama')]);
      expect(pre.code, pre.stderr).toBe(33);
      expect(pre.stderr).toMatch(/error: preflight failed, nothing was written: preflight disk/);
      expect(pre.stderr).toMatch(/fix: free /);
      expect(await readdir(mnt)).toEqual([]);
      // …and without it, install's own write fails cleanly (exit 30) and a re-run resumes.
      const r = await run([
        demo.path,
        '--allow-unsigned',
        '--no-validate',
        '--ollama-store',
        join(mnt, 'ollama'),
      ]);
      expect(r.code, r.stderr).toBe(30);
      expect(r.stderr).toMatch(/no space left on device/);
      expect(r.stderr).toMatch(/fix: free space/);
      const left = await readdir(join(mnt, 'ollama', 'blobs'));
      expect(left.filter((n) => n.includes('partial'))).toEqual([]);
      await sh(`mount -o remount,size=16m '${mnt}'`);
      const again = await run([
        demo.path,
        '--allow-unsigned',
        '--ollama-store',
        join(mnt, 'ollama'),
        '--json',
      ]);
      expect(again.code, again.stderr).toBe(0);
    } finally {
      await sh(`umount '${mnt}'`);
    }
  });
});

describe('install into Ollama servers over the API (double)', () => {
  const nodes: OllamaDouble[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('Given two GPU nodes, Then each gets the weights once, the serving and version tags, and the digest difference is reported', async () => {
    for (const i of [1, 2]) {
      const n = new OllamaDouble(join(dir, `node${i}`));
      await n.start();
      nodes.push(n);
    }
    const args = [demo.path, '--allow-unsigned', ...nodes.flatMap((n) => ['--ollama', n.url]), '--json'];
    const r = await run(args);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'install');
    const res = JSON.parse(r.stdout) as Result;
    const model = demo.manifest.artifacts.models[0]!;
    const version = `assist:1.0-${model.digest.slice(7, 19)}`;
    for (const n of nodes) {
      const tags = (await (await fetch(`${n.url}/api/tags`)).json()) as {
        models: Array<{ name: string; digest: string }>;
      };
      const names = tags.models.map((m) => m.name).sort();
      expect(names).toEqual(['assist:1.0', version].sort());
      expect(new Set(tags.models.map((m) => m.digest)).size).toBe(1); // copy keeps the manifest byte for byte
      expect(n.requests.filter((q) => q.startsWith('POST /api/blobs/')).length).toBe(1);
    }
    const installed = res.artifacts.filter((a) => a.kind === 'model');
    expect(installed).toHaveLength(2);
    for (const a of installed) expect(a.targetDigest).not.toBe(a.digest);
    expect(res.warnings.some((w) => w.includes('rewrote'))).toBe(true);

    const received = nodes.map((n) => n.receivedBytes);
    const again = await run(args);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Result).upToDate).toBe(true);
    expect(nodes.map((n) => n.receivedBytes)).toEqual(received);
  });

  it('The double rejects a blob whose bytes do not match its digest, as Ollama does, and keeps nothing', async () => {
    const n = nodes[0]!;
    const digest = `sha256:${'ab'.repeat(32)}`;
    const res = await fetch(`${n.url}/api/blobs/${digest}`, { method: 'POST', body: 'not those bytes' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/digest mismatch/);
    expect((await fetch(`${n.url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('The double deletes unreferenced blobs on delete and reports loaded models with expires_at', async () => {
    const n = nodes[1]!;
    const gen = await fetch(`${n.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'assist:1.0' }),
    });
    expect(gen.status).toBe(200);
    const ps = (await (await fetch(`${n.url}/api/ps`)).json()) as {
      models: Array<{ name: string; expires_at: string }>;
    };
    expect(ps.models.map((m) => m.name)).toEqual(['assist:1.0']);
    expect(Date.parse(ps.models[0]!.expires_at)).toBeGreaterThan(Date.now());
    const blobsBefore = await readdir(join(n.store, 'blobs'));
    for (const name of [
      'assist:1.0',
      `assist:1.0-${demo.manifest.artifacts.models[0]!.digest.slice(7, 19)}`,
    ]) {
      const del = await fetch(`${n.url}/api/delete`, {
        method: 'DELETE',
        body: JSON.stringify({ model: name }),
      });
      expect(del.status).toBe(200);
    }
    expect(blobsBefore.length).toBeGreaterThan(0);
    expect(await readdir(join(n.store, 'blobs'))).toEqual([]);
  });

  it('Given an Ollama URL nothing listens on, Then it exits 10 naming the server', async () => {
    const r = await run([demo.path, '--allow-unsigned', '--ollama', 'http://127.0.0.1:9']);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/Ollama http:\/\/127\.0\.0\.1:9: cannot reach/);
  });
});

describe('kill and resume', () => {
  it('Given an install killed mid-stream, When run again, Then it completes without re-sending what is there', async () => {
    const big = await demoBundle('2.0.0', { layerSize: 24 * 1024 * 1024, ggufSize: 24 * 1024 * 1024 });
    const oci = join(dir, 'killed-oci');
    const store = join(dir, 'killed-ollama');
    const args = [
      'install',
      big.path,
      '--allow-unsigned',
      '--registry',
      `oci:${oci}`,
      '--ollama-store',
      store,
      '--concurrency',
      '1',
    ];
    // Kill -9 as soon as the first large blob is complete in either target.
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
      env: { ...process.env, ...env(), CI: '1' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let killed = false;
    while (!killed) {
      const blobs = [
        ...(existsSync(join(store, 'blobs')) ? await readdir(join(store, 'blobs')) : []),
        ...(existsSync(join(oci, 'blobs', 'sha256')) ? await readdir(join(oci, 'blobs', 'sha256')) : []),
      ];
      const sizes = await Promise.all(
        blobs
          .filter((b) => !b.startsWith('.'))
          .map(
            async (b) =>
              (
                await stat(
                  join(b.startsWith('sha256-') ? join(store, 'blobs') : join(oci, 'blobs', 'sha256'), b),
                ).catch(() => ({ size: 0 }))
              ).size,
          ),
      );
      if (sizes.some((s) => s > 1024 * 1024)) {
        child.kill('SIGKILL');
        killed = true;
      } else if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(killed, 'the install was still running when a large blob landed').toBe(true);
    expect(await exited).toBe(null);
    const r = await kubechat([...args, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as Result;
    expect(res.bytes.skipped).toBeGreaterThan(1024 * 1024);
    expect(res.bytes.pushed).toBeLessThan(48 * 1024 * 1024);
    for (const a of big.manifest.artifacts.images) {
      expect((await sh(`skopeo inspect --raw oci:'${oci}':${a.ref} | sha256sum`)).stdout).toContain(
        a.digest.slice(7),
      );
    }
    for (const b of await readdir(join(oci, 'blobs', 'sha256')))
      expect(await sha256File(join(oci, 'blobs', 'sha256', b))).toBe(b);
    for (const b of await readdir(join(store, 'blobs')))
      expect(`sha256-${await sha256File(join(store, 'blobs', b))}`).toBe(b);
  });
});

describe('split parts and deltas', () => {
  it('Given a bundle split into parts, Then install reads the parts in place', async () => {
    const out = join(dir, 'split');
    const spec = await demo.ws.spec('1.0.0');
    const c = await kubechat(['bundle', 'create', '-f', spec, '-o', out, '--split', '1M', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const parts = (await readdir(out)).find((n) => n.endsWith('.parts.json'))!;
    const oci = join(dir, 'split-oci');
    const r = await run([join(out, parts), '--allow-unsigned', '--registry', `oci:${oci}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const image = demo.manifest.artifacts.images[0]!;
    expect((await sh(`skopeo inspect --raw oci:'${oci}':${image.ref} | sha256sum`)).stdout).toContain(
      image.digest.slice(7),
    );
  });

  it('Given a delta, Then it installs on top of its base, and is refused with exit 32 where the base is missing', async () => {
    const spec2 = await demo.ws.spec('1.1.0', { layerSeed: 'hello-app-1.1' });
    const out = join(dir, 'delta');
    const c = await kubechat(['bundle', 'create', '-f', spec2, '-o', out, '--base', demo.path, '--json']);
    expect(c.code, c.stderr).toBe(0);
    const delta = (JSON.parse(c.stdout) as { bundle: string }).bundle;
    const manifest = JSON.parse((await sh(`zstd -dc '${delta}' | tar -xO kubechat-bundle.json`)).stdout) as {
      artifacts: { images: Array<{ ref: string; digest: string }> };
    };
    const empty = await run([delta, '--allow-unsigned', '--ollama-store', join(dir, 'delta-empty')]);
    expect(empty.code, empty.stderr).toBe(32);
    expect(empty.stderr).toMatch(/base/);
    const oci = join(dir, 'delta-oci');
    const store = join(dir, 'delta-ollama');
    const base = await run([
      demo.path,
      '--allow-unsigned',
      '--registry',
      `oci:${oci}`,
      '--ollama-store',
      store,
    ]);
    expect(base.code, base.stderr).toBe(0);
    const r = await run([
      delta,
      '--allow-unsigned',
      '--registry',
      `oci:${oci}`,
      '--ollama-store',
      store,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const image = manifest.artifacts.images[0]!;
    expect((await sh(`skopeo inspect --raw oci:'${oci}':${image.ref} | sha256sum`)).stdout).toContain(
      image.digest.slice(7),
    );
  });
});

describe('interrupt', () => {
  it('Given Ctrl-C mid-install, Then it exits 130 and leaves no partial file in the targets', async () => {
    const big = await demoBundle('3.0.0', { ggufSize: 48 * 1024 * 1024 });
    const store = join(dir, 'sigint-ollama');
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'run.js'), 'install', big.path, '--allow-unsigned', '--ollama-store', store],
      { env: { ...process.env, ...env(), CI: '1' }, stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let sent = false;
    while (!sent && child.exitCode === null) {
      const names = existsSync(join(store, 'blobs')) ? await readdir(join(store, 'blobs')) : [];
      if (names.some((n) => n.includes('.partial-'))) {
        child.kill('SIGINT');
        sent = true;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const code = await exited;
    expect(sent, 'a partial blob was seen while the install ran').toBe(true);
    expect(code).toBe(130);
    expect((await readdir(join(store, 'blobs'))).filter((n) => n.includes('.partial-'))).toEqual([]);
  });
});
