/**
 * End-to-end: bundles made by the CLI from generated sources, read back by tools nobody here wrote
 * (zstd, GNU tar, skopeo), tampered with, split, delta'd and merged.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile, truncate, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubechat, sh } from '../support/cli.js';
import { schemaValidator } from '../../src/lib/schema.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';

/** --json output is a contract: every result checked here must match its schema in schemas/results/. */
function conforms(result: string, schema: string): void {
  const validate = schemaValidator(`results/${schema}.schema.json`, true);
  const ok = validate(JSON.parse(result));
  expect(validate.errors ?? [], schema).toEqual([]);
  expect(ok).toBe(true);
}

let ws: Workspace;
let full1: string; // demo 1.0.0
let full2: string; // demo 1.1.0, full
let delta: string; // demo 1.1.0 against 1.0.0
const LAYER = 1024 * 1024;

const tarList = async (file: string) => {
  const r = await sh(`zstd -dc '${file}' | tar -t`);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
};

beforeAll(async () => {
  ws = await makeWorkspace();
  const spec1 = await ws.spec('1.0.0');
  // 1.1.0: a new app layer (random, incompressible), everything else unchanged.
  const spec2 = await ws.spec('1.1.0', { layerSeed: 'hello-app-1.1' });
  const r1 = await kubechat(['bundle', 'create', '-f', spec1, '-o', ws.out, '--json']);
  expect(r1.code, r1.stderr).toBe(0);
  conforms(r1.stdout, 'bundle-create');
  full1 = (JSON.parse(r1.stdout) as { bundle: string }).bundle;
  const r2 = await kubechat(['bundle', 'create', '-f', spec2, '-o', join(ws.dir, 'full'), '--json']);
  expect(r2.code, r2.stderr).toBe(0);
  full2 = (JSON.parse(r2.stdout) as { bundle: string }).bundle;
  const r3 = await kubechat(['bundle', 'create', '-f', spec2, '-o', ws.out, '--base', full1, '--json']);
  expect(r3.code, r3.stderr).toBe(0);
  conforms(r3.stdout, 'bundle-create');
  delta = (JSON.parse(r3.stdout) as { bundle: string }).bundle;
});

describe('bundle create', () => {
  it('Given the demo spec, When created, Then the file is named <name>-<version>.kcb.tar.zst and nothing else is left', async () => {
    expect(full1).toBe(join(ws.out, 'demo-1.0.0.kcb.tar.zst'));
    const names = await readdir(ws.out);
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('Then plain zstd | tar reads it, with entries in the documented order', async () => {
    const entries = await tarList(full1);
    expect(entries[0]).toBe('kubechat-bundle.json');
    expect(entries.slice(1, 3)).toEqual(['oci-layout', 'index.json']);
    expect(entries.at(-1)).toBe('kubechat-toc.json');
    const firstFile = entries.findIndex((e) => e.startsWith('files/'));
    expect(entries.slice(firstFile, -1).every((e) => e.startsWith('files/'))).toBe(true);
    expect(entries).toContain('files/docs/guide/install.md');
    expect((await sh(`zstd -t '${full1}'`)).code).toBe(0);
  });

  it('Then skopeo reads the extracted OCI layout by the normalised reference', async () => {
    const dir = join(ws.dir, 'extracted');
    await mkdir(dir, { recursive: true });
    expect((await sh(`zstd -dc '${full1}' | tar -x -C '${dir}'`)).code).toBe(0);
    const manifest = JSON.parse(await readFile(join(dir, 'kubechat-bundle.json'), 'utf8')) as {
      artifacts: {
        images: Array<{ ref: string; digest: string }>;
        models: Array<{ ref: string; digest: string }>;
      };
    };
    expect(manifest.artifacts.images[0]!.ref).toBe('docker.io/demo/hello:1.0');
    const r = await sh(`skopeo inspect --raw oci:'${dir}':docker.io/demo/hello:1.0 | sha256sum`);
    expect(r.code, r.stderr).toBe(0);
    expect(`sha256:${r.stdout.split(' ')[0]}`).toBe(manifest.artifacts.images[0]!.digest);
    const copy = await sh(
      `skopeo copy oci:'${dir}':docker.io/demo/hello:1.0 oci:'${join(ws.dir, 'copied')}':hello`,
    );
    expect(copy.code, copy.stderr).toBe(0);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ annotations: Record<string, string> }>;
    };
    const kinds = index.manifests.map((m) => m.annotations['io.kubechat.kind']).sort();
    expect(kinds).toEqual(['chart', 'image', 'model']);
    expect(manifest.artifacts.models[0]!.ref).toBe('registry.ollama.ai/library/assist:1.0');
  });

  it('Given SOURCE_DATE_EPOCH, When created twice with different thread counts, Then the bundles are byte-identical', async () => {
    const spec = join(ws.dir, 'demo-1.0.0.yaml');
    const env = { SOURCE_DATE_EPOCH: '1767225600' };
    const sums: string[] = [];
    for (const threads of ['1', '3']) {
      const out = join(ws.dir, `repro-${threads}`);
      const r = await kubechat(['bundle', 'create', '-f', spec, '-o', out, '--threads', threads], { env });
      expect(r.code, r.stderr).toBe(0);
      sums.push((await sh(`sha256sum < '${join(out, 'demo-1.0.0.kcb.tar.zst')}'`)).stdout);
    }
    expect(sums[0]).toBe(sums[1]);
    const created = (
      await sh(
        `zstd -dc '${join(ws.dir, 'repro-1', 'demo-1.0.0.kcb.tar.zst')}' | tar -xO kubechat-bundle.json`,
      )
    ).stdout;
    expect((JSON.parse(created) as { created: string }).created).toBe('2026-01-01T00:00:00.000Z');
  });

  it('Then an executable file keeps its executable bit, recorded in the manifest', async () => {
    const listing = (await sh(`zstd -dc '${full1}' | tar -tv`)).stdout;
    expect(listing).toMatch(/-rwxr-xr-x .* files\/docs\/guide\/preflight\.sh/);
    expect(listing).toMatch(/-rw-r--r-- .* files\/docs\/guide\/install\.md/);
    const manifest = JSON.parse((await sh(`zstd -dc '${full1}' | tar -xO kubechat-bundle.json`)).stdout) as {
      contents: Array<{ path: string; mode?: string }>;
    };
    expect(manifest.contents.find((c) => c.path === 'files/docs/guide/preflight.sh')?.mode).toBe('0755');
    expect(manifest.contents.find((c) => c.path === 'files/docs/guide/install.md')?.mode).toBeUndefined();
  });

  it('Then the --json result is on stdout and progress on stderr', async () => {
    const r = await kubechat(['bundle', 'inspect', full1, '--json']);
    expect(r.code).toBe(0);
    conforms(r.stdout, 'bundle-inspect');
    const result = JSON.parse(r.stdout) as {
      name: string;
      version: string;
      manifest: { contents: unknown[] };
      artifacts: { images: Array<{ size: number }>; charts: Array<{ size: number }> };
    };
    // The image: a 64 KiB and a 1 MiB random layer (gzip'd), its config and manifest.
    expect(result.artifacts.images[0]!.size).toBeGreaterThan(1024 * 1024);
    expect(result.artifacts.images[0]!.size).toBeLessThan(1024 * 1024 + 64 * 1024);
    expect(result.artifacts.charts[0]!.size).toBeGreaterThan(1000);
    expect(result.name).toBe('demo');
    expect(result.version).toBe('1.0.0');
    expect(result.manifest.contents.length).toBeGreaterThan(5);
  });
});

describe('bundle verify', () => {
  it('Given an intact bundle, When verified inside a network namespace with no network, Then it passes', async () => {
    const r = await kubechat(['bundle', 'verify', full1, '--json'], { wrap: ['unshare', '-n'] });
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-verify');
    const v = JSON.parse(r.stdout) as {
      ok: boolean;
      signature: string;
      seekable: boolean;
      entries: { checked: number };
    };
    expect(v.ok).toBe(true);
    expect(v.signature).toBe('absent');
    expect(v.seekable).toBe(true);
    expect(v.entries.checked).toBeGreaterThan(5);
  });

  it('Given a bundle recompressed by standard tools into one frame, Then verify and inspect still read it', async () => {
    const plain = join(ws.dir, 'recompressed.kcb.tar.zst');
    expect((await sh(`zstd -dc '${full1}' | zstd -q -19 --single-thread -o '${plain}'`)).code).toBe(0);
    const v = await kubechat(['bundle', 'verify', plain, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect((JSON.parse(v.stdout) as { seekable: boolean }).seekable).toBe(false);
    expect((await kubechat(['bundle', 'inspect', plain])).code).toBe(0);
  });

  it('Given a blob changed inside the tar, Then verify exits 6 naming the entry', async () => {
    const tar = join(ws.dir, 'tampered.tar');
    await sh(`zstd -dc '${full1}' > '${tar}'`);
    const list = await tarList(full1);
    const fh = await readFile(tar);
    // Flip one byte in the last file's content (a docs file): find it by its text.
    const at = fh.indexOf('Run kubechat install.');
    expect(at).toBeGreaterThan(0);
    fh[at] = 'X'.charCodeAt(0);
    await writeFile(tar, fh);
    const bad = join(ws.dir, 'tampered.kcb.tar.zst');
    await sh(`zstd -q -f '${tar}' -o '${bad}'`);
    const r = await kubechat(['bundle', 'verify', bad]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^error: .*files\/docs\/guide\/install\.md sha256/m);
    expect(r.stderr).toMatch(/^fix: /m);
    expect(list.length).toBeGreaterThan(0);
  });

  it('Given an entry deleted from the tar and one added, Then verify reports both and exits 6', async () => {
    const tar = join(ws.dir, 'edited.tar');
    await sh(`zstd -dc '${full1}' > '${tar}'`);
    // GNU tar's --delete garbles the entries after the deleted one unless the archive is a whole
    // number of its 10 KiB records; bundles end after the end-of-archive blocks, so pad first.
    await sh(`truncate -s %10240 '${tar}'`);
    expect((await sh(`tar --delete -f '${tar}' files/docs/index.md`)).code).toBe(0);
    await writeFile(join(ws.dir, 'extra.txt'), 'not in the manifest');
    expect((await sh(`tar -rf '${tar}' -C '${ws.dir}' extra.txt`)).code).toBe(0);
    const bad = join(ws.dir, 'edited.kcb.tar.zst');
    await sh(`zstd -q -f '${tar}' -o '${bad}'`);
    const r = await kubechat(['bundle', 'verify', bad, '--json']);
    expect(r.code).toBe(6);
    conforms(r.stdout, 'bundle-verify');
    const v = JSON.parse(r.stdout) as { problems: Array<{ kind: string; path: string }> };
    expect(v.problems).toContainEqual(
      expect.objectContaining({ kind: 'missing', path: 'files/docs/index.md' }),
    );
    expect(v.problems).toContainEqual(expect.objectContaining({ kind: 'unlisted', path: 'extra.txt' }));
  });

  it('Given a truncated bundle, Then verify exits 5 with one line saying it is truncated', async () => {
    const cut = join(ws.dir, 'cut.kcb.tar.zst');
    await copyFile(full1, cut);
    await truncate(cut, Math.floor((await stat(full1)).size * 0.6));
    const r = await kubechat(['bundle', 'verify', cut]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^error: .*truncated/m);
  });

  it('Given a file that is not a bundle, Then inspect exits 5', async () => {
    const junk = join(ws.dir, 'junk.kcb.tar.zst');
    await writeFile(junk, 'hello world, not zstd');
    const r = await kubechat(['bundle', 'inspect', junk]);
    expect(r.code).toBe(5);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
  });
});

describe('split bundles', () => {
  let parts: string;
  beforeAll(async () => {
    const spec = join(ws.dir, 'demo-1.0.0.yaml');
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      spec,
      '-o',
      join(ws.dir, 'split'),
      '--split',
      '1M',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    parts = (JSON.parse(r.stdout) as { bundle: string }).bundle;
  });

  it('When split into 1 MiB parts, Then parts and a parts file are written and cat | zstd | tar reads them', async () => {
    expect(parts).toMatch(/demo-1\.0\.0\.kcb\.tar\.zst\.parts\.json$/);
    const names = (await readdir(join(ws.dir, 'split'))).sort();
    expect(names).toContain('demo-1.0.0.kcb.tar.zst.001');
    expect(names).toContain('demo-1.0.0.kcb.tar.zst.002');
    expect(names.some((n) => n.startsWith('.'))).toBe(false);
    const r = await sh(`cat demo-1.0.0.kcb.tar.zst.0* | zstd -dc | tar -t | head -1`, join(ws.dir, 'split'));
    expect(r.stdout.trim()).toBe('kubechat-bundle.json');
  });

  it('Then verify and inspect accept the first part or the parts file, reading parts in place', async () => {
    const first = join(ws.dir, 'split', 'demo-1.0.0.kcb.tar.zst.001');
    for (const arg of [first, parts]) {
      const v = await kubechat(['bundle', 'verify', arg, '--json']);
      expect(v.code, v.stderr).toBe(0);
      expect((JSON.parse(v.stdout) as { parts: number }).parts).toBeGreaterThan(1);
    }
    expect((await kubechat(['bundle', 'inspect', first])).code).toBe(0);
  });

  it('Given --dry-run, Then nothing is written and the sizes and part count are upper bounds of the real ones', async () => {
    const spec = join(ws.dir, 'demo-1.0.0.yaml');
    const out = join(ws.dir, 'split-dry');
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      spec,
      '-o',
      out,
      '--split',
      '1M',
      '--dry-run',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-create');
    const dry = JSON.parse(r.stdout) as {
      dryRun: boolean;
      bundleBytes: number;
      parts: number;
      manifestDigest: null;
    };
    expect(dry.dryRun).toBe(true);
    expect(dry.manifestDigest).toBeNull();
    expect(existsSync(out)).toBe(false);
    const real = JSON.parse(await readFile(parts, 'utf8')) as { size: number; parts: unknown[] };
    expect(dry.bundleBytes).toBeGreaterThanOrEqual(real.size);
    expect(dry.bundleBytes).toBeLessThan(real.size * 1.2); // a useful bound, not a guess
    expect(dry.parts).toBeGreaterThanOrEqual(real.parts.length);
  });

  it('Given a corrupted part, Then verify fails naming the part', async () => {
    const dir = join(ws.dir, 'split-bad');
    await sh(`cp -r '${join(ws.dir, 'split')}' '${dir}'`);
    const p2 = join(dir, 'demo-1.0.0.kcb.tar.zst.002');
    const data = await readFile(p2);
    data.writeUInt8(data.readUInt8(data.length >> 1) ^ 0xff, data.length >> 1);
    await writeFile(p2, data);
    const r = await kubechat(['bundle', 'verify', join(dir, 'demo-1.0.0.kcb.tar.zst.parts.json')]);
    expect([5, 6]).toContain(r.code);
    expect(r.stderr).toMatch(/error: .*(\.002|corrupt)/);
  });
});

describe('delta and merge', () => {
  it('Given 1.1.0 with one changed layer, When created against 1.0.0, Then the delta holds little more than the change', async () => {
    expect(delta).toBe(join(ws.out, 'demo-1.1.0.delta-1.0.0.kcb.tar.zst'));
    const size = (await stat(delta)).size;
    expect(size).toBeGreaterThan(LAYER); // the changed layer is random: it cannot compress
    expect(size).toBeLessThan(LAYER + 64 * 1024);
    const full = (await stat(full2)).size;
    expect(size).toBeLessThan(full / 2);
  });

  it('Given --dry-run with --base, Then it stores exactly what the real delta stores', async () => {
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      join(ws.dir, 'demo-1.1.0.yaml'),
      '-o',
      ws.out,
      '--base',
      full1,
      '--dry-run',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const dry = JSON.parse(r.stdout) as {
      entries: { stored: number; fromBase: number };
      content: { stored: number };
    };
    const real = JSON.parse((await kubechat(['bundle', 'inspect', delta, '--json'])).stdout) as {
      totals: { storedEntries: number; storedBytes: number };
    };
    expect(dry.entries.stored).toBe(real.totals.storedEntries);
    expect(dry.content.stored).toBe(real.totals.storedBytes);
  });

  it('Then inspect names the base, and verify passes alone and against the base', async () => {
    const i = JSON.parse((await kubechat(['bundle', 'inspect', delta, '--json'])).stdout) as {
      delta: { base: { version: string } };
      totals: { storedEntries: number; entries: number };
    };
    expect(i.delta.base.version).toBe('1.0.0');
    expect(i.totals.storedEntries).toBeLessThan(i.totals.entries);
    const alone = JSON.parse((await kubechat(['bundle', 'verify', delta, '--json'])).stdout) as {
      ok: boolean;
      entries: { fromBase: number };
    };
    expect(alone.ok).toBe(true);
    expect(alone.entries.fromBase).toBeGreaterThan(0);
    const withBase = await kubechat(['bundle', 'verify', delta, '--base', full1, '--json']);
    expect(withBase.code, withBase.stdout).toBe(0);
    const wrong = await kubechat(['bundle', 'verify', delta, '--base', full2, '--json']);
    expect(wrong.code).toBe(6);
  });

  it('When merged with its base, Then the result has the same entries as a full create and the delta manifest', async () => {
    const out = join(ws.dir, 'merged');
    const r = await kubechat(['bundle', 'merge', '--base', full1, delta, '-o', out, '--json'], {
      wrap: ['unshare', '-n'],
    });
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-merge');
    const merged = (JSON.parse(r.stdout) as { bundle: string }).bundle;
    expect(merged).toBe(join(out, 'demo-1.1.0.kcb.tar.zst'));
    const [a, b] = [await tarList(merged), await tarList(full2)];
    expect(a).toEqual(b);
    const modes = async (f: string) => (await sh(`zstd -dc '${f}' | tar -tv | cut -c1-10`)).stdout;
    expect(await modes(merged)).toBe(await modes(full2));
    const hashes = async (file: string) =>
      (
        await sh(
          `d=$(mktemp -d) && zstd -dc '${file}' | tar -x -C $d && cd $d && find . -type f ! -name 'kubechat-*' | sort | xargs sha256sum`,
        )
      ).stdout;
    expect(await hashes(merged)).toBe(await hashes(full2));
    const m1 = (await sh(`zstd -dc '${merged}' | tar -xO kubechat-bundle.json`)).stdout;
    const m2 = (await sh(`zstd -dc '${delta}' | tar -xO kubechat-bundle.json`)).stdout;
    expect(m1).toBe(m2);
    expect((await kubechat(['bundle', 'verify', merged])).code).toBe(0);
  });

  it('Given a base recompressed by standard tools (no seek table), Then merge still rebuilds the bundle', async () => {
    const plainBase = join(ws.dir, 'plain-base.kcb.tar.zst');
    expect((await sh(`zstd -dc '${full1}' | zstd -q -3 -o '${plainBase}'`)).code).toBe(0);
    const out = join(ws.dir, 'merged-plain');
    const r = await kubechat(['bundle', 'merge', '--base', plainBase, delta, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const merged = (JSON.parse(r.stdout) as { bundle: string }).bundle;
    expect(await tarList(merged)).toEqual(await tarList(full2));
    expect((await kubechat(['bundle', 'verify', merged])).code).toBe(0);
    expect((await readdir(out)).filter((n) => n.startsWith('.'))).toEqual([]); // spool removed
  });

  it('Given a base of the same version or of another bundle, Then create refuses with exit 3', async () => {
    const same = await kubechat([
      'bundle',
      'create',
      '-f',
      join(ws.dir, 'demo-1.0.0.yaml'),
      '-o',
      ws.out,
      '--base',
      full1,
    ]);
    expect(same.code).toBe(3);
    expect(same.stderr).toMatch(/same version 1\.0\.0/);
    const other = join(ws.dir, 'other.yaml');
    await writeFile(
      other,
      (await readFile(join(ws.dir, 'demo-1.1.0.yaml'), 'utf8')).replace('name: demo', 'name: other'),
    );
    const r = await kubechat(['bundle', 'create', '-f', other, '-o', ws.out, '--base', full1]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is bundle "demo", not "other"/);
  });

  it('Given merge of a full bundle, Then it says merge needs a delta (exit 5)', async () => {
    const r = await kubechat(['bundle', 'merge', '--base', full1, full2, '-o', join(ws.dir, 'm')]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not a delta/);
  });

  it('Given the wrong base, Then merge refuses with exit 6 and writes nothing', async () => {
    const out = join(ws.dir, 'merged-wrong');
    const r = await kubechat(['bundle', 'merge', '--base', full2, delta, '-o', out]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^fix: /m);
    expect(existsSync(join(out, 'demo-1.1.0.kcb.tar.zst'))).toBe(false);
  });
});

describe('bad input', () => {
  it('Given a spec with an unknown field, Then create exits 3 naming the field', async () => {
    const spec = join(ws.dir, 'bad.yaml');
    await writeFile(
      spec,
      'apiVersion: kubechat.io/v1\nkind: Bundle\nmetadata: {name: x, version: 1.0.0}\nspec:\n  imagez: []\n',
    );
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: .*unknown field "imagez"/m);
  });

  it('Given a spec listing the same image twice, Then create exits 3', async () => {
    const spec = await ws.spec('2.4.0');
    const text = await readFile(spec, 'utf8');
    const line = text.split('\n').find((l) => l.includes('demo/hello:1.0'))!;
    await writeFile(spec, text.replace(line, `${line}\n${line}`));
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/docker\.io\/demo\/hello:1\.0 is listed twice/);
  });

  it('Given a bad --split size, Then create exits 3 before reading anything', async () => {
    const r = await kubechat([
      'bundle',
      'create',
      '-f',
      join(ws.dir, 'demo-1.0.0.yaml'),
      '-o',
      ws.out,
      '--split',
      'lots',
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^fix: use fat32, dvd, bd or a size/m);
  });

  it('Given a spec naming a missing GGUF, Then create exits 4 naming the file', async () => {
    const spec = await ws.spec('2.0.0');
    const text = (await readFile(spec, 'utf8')).replace('models/assist.gguf', 'models/missing.gguf');
    await writeFile(spec, text);
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/missing\.gguf/);
  });

  it('Given a corrupt GGUF header, Then create exits 4', async () => {
    const spec = await ws.spec('2.1.0');
    const gguf = join(ws.dir, 'sources-2.1.0', 'models', 'assist.gguf');
    const data = await readFile(gguf);
    data.write('GGXX', 0);
    await writeFile(gguf, data);
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/assist\.gguf.*GGUF/);
  });

  it('Given a layer whose bytes do not match its digest, Then create exits 4 and leaves no bundle or temp file', async () => {
    const spec = await ws.spec('2.2.0');
    const blobs = join(ws.dir, 'sources-2.2.0', 'hello', 'blobs', 'sha256');
    const sizes = await Promise.all(
      (await readdir(blobs)).map(async (n) => ({ n, s: (await stat(join(blobs, n))).size })),
    );
    const biggest = sizes.sort((x, y) => y.s - x.s)[0]!.n;
    const data = await readFile(join(blobs, biggest));
    data.writeUInt8(data.readUInt8(100) ^ 0xff, 100);
    await writeFile(join(blobs, biggest), data);
    const out = join(ws.dir, 'out-bad');
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', out]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/does not match its digest/);
    expect(await readdir(out)).toEqual([]);
  });

  it('Given a bad image reference, Then create exits 3', async () => {
    const spec = await ws.spec('2.3.0');
    await writeFile(spec, (await readFile(spec, 'utf8')).replace('demo/hello:1.0', 'Demo/Hello:1.0'));
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out, '--json']);
    expect(r.code).toBe(3);
    conforms(r.stdout, 'error');
    const e = JSON.parse(r.stdout) as { error: { exitCode: number; message: string; fix: string } };
    expect(e.error.exitCode).toBe(3);
    expect(e.error.message).toMatch(/Demo\/Hello/);
  });

  it('Given a create interrupted with Ctrl-C while writing, Then it exits 130 and leaves nothing behind', async () => {
    const spec = await ws.spec('3.0.0', { ggufSize: 256 * 1024 * 1024 });
    const out = join(ws.dir, 'out-interrupted');
    let sent = false;
    const r = await kubechat(['bundle', 'create', '-f', spec, '-o', out], {
      onStderr: (text, child) => {
        if (!sent && /Writing demo-3\.0\.0/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(await readdir(out)).toEqual([]);
  });

  // Mounting a 1 MiB tmpfs needs root, as CI has.
  it.skipIf(process.getuid?.() !== 0)(
    'Given an output disk that fills up, Then create exits 8 and leaves nothing behind',
    async () => {
      const mnt = join(ws.dir, 'tiny');
      await mkdir(mnt, { recursive: true });
      const mounted = await sh(`mount -t tmpfs -o size=1m tmpfs '${mnt}'`);
      expect(mounted.code, mounted.stderr).toBe(0);
      try {
        for (const split of [[], ['--split', '256K']]) {
          const r = await kubechat([
            'bundle',
            'create',
            '-f',
            join(ws.dir, 'demo-1.0.0.yaml'),
            '-o',
            join(mnt, 'out'),
            ...split,
          ]);
          expect(r.code).toBe(8);
          expect(r.stderr).toMatch(/^error: .*no space left on device/m);
          expect(r.stderr).toMatch(/^fix: free space/m);
          expect(await readdir(join(mnt, 'out'))).toEqual([]);
        }
      } finally {
        await sh(`umount '${mnt}'`);
      }
    },
  );
});
