/**
 * Large blobs read by ranged readers of their own (seek table) beside the main pass: the OCI layout
 * they produce is byte for byte the one a strictly sequential read (readStreams 1) produces, the
 * uploads really overlap, memory stays bounded by the channels, and a corrupt byte inside a blob
 * read by a ranged reader still stops the install before anything references it. Ranged readers
 * reuse a few read buffers that the per-target queues lease (targets/channel.ts): a model's weights
 * sent to an Ollama store and two Ollama servers at once, from the same buffers, arrive intact.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat } from '../support/cli.js';
import { demoBundle, sha256File } from '../support/install-fixture.js';
import { OllamaDouble } from '../support/ollama-double.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { install } from '../../src/install/install.js';
import { RANGED_READ_FROM } from '../../src/install/pass.js';
import { MemoryJournal } from '../../src/install/journal.js';
import { OciLayoutTarget } from '../../src/targets/oci-layout.js';
import type { Descriptor } from '../../src/oci/types.js';
import type { InstallArtifact } from '../../src/install/types.js';

const MiB = 1024 * 1024;
const BIG = RANGED_READ_FROM + MiB; // above the ranged-read threshold
let dir: string;
let bundle: string;
const bigLayers: string[] = [];

/** An OCI layout target that records, for each large blob write, how far the other large writes had got. */
class WatchedLayout extends OciLayoutTarget {
  readonly consumed = new Map<string, number>();
  /** For each large write after the first: the bytes the earlier large writes had consumed when it began. */
  readonly startedWhile: number[][] = [];
  peakQueued = 0;

  override async writeBlob(blob: Descriptor, artifacts: InstallArtifact[], data: AsyncIterable<Buffer>) {
    if (blob.size < RANGED_READ_FROM) return super.writeBlob(blob, artifacts, data);
    if (this.consumed.size > 0) this.startedWhile.push([...this.consumed.values()]);
    this.consumed.set(blob.digest, 0);
    const slow = async function* (this: WatchedLayout): AsyncGenerator<Buffer> {
      for await (const c of data) {
        // A slow disk: every chunk takes a moment, so a reader that does not wait would run ahead.
        await new Promise((r) => setTimeout(r, 10));
        this.consumed.set(blob.digest, this.consumed.get(blob.digest)! + c.length);
        this.peakQueued = Math.max(this.peakQueued, process.memoryUsage().arrayBuffers);
        yield c;
      }
    };
    return super.writeBlob(blob, artifacts, slow.call(this));
  }
}

async function tree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const p = join(f.parentPath, f.name);
    out.set(p.slice(root.length), await sha256File(p));
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-ranged-'));
  for (const name of ['one', 'two']) {
    const fx = await writeOciLayout(join(dir, 'src', name), {
      tag: '1.0',
      layers: [{ size: 64 * 1024 }, { size: BIG, seed: `${name}-big` }],
    });
    bigLayers.push(fx.layerDigests[1]!);
  }
  const spec = join(dir, 'ranged.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: ranged, version: 1.0.0}
spec:
  images:
    - {ref: "demo/one:1.0", from: "oci:./src/one:1.0"}
    - {ref: "demo/two:1.0", from: "oci:./src/two:1.0"}
`,
  );
  const r = await kubechat(['bundle', 'create', '-f', spec, '-o', join(dir, 'out'), '--json']);
  expect(r.code, r.stderr).toBe(0);
  bundle = (JSON.parse(r.stdout) as { bundle: string }).bundle;
});

const installInto = (target: OciLayoutTarget, readStreams: number, path = bundle) =>
  install({
    bundlePath: path,
    targets: [target],
    openJournal: () => ({ journal: new MemoryJournal(), location: null }),
    allowUnsigned: true,
    readStreams,
  });

describe('ranged reads of large blobs', () => {
  it('Then two streams and one produce the same layout byte for byte, and with two the large uploads overlap', async () => {
    const two = new WatchedLayout(join(dir, 'two-streams'));
    const one = new WatchedLayout(join(dir, 'one-stream'));
    const a = await installInto(two, 2);
    const b = await installInto(one, 1);
    expect(a.blobs.pushed).toBe(b.blobs.pushed);
    // Artifacts are committed as their last blob lands: the order may differ, the set may not.
    expect(a.artifacts.map((x) => x.digest).sort()).toEqual(b.artifacts.map((x) => x.digest).sort());
    const ta = await tree(join(dir, 'two-streams'));
    const tb = await tree(join(dir, 'one-stream'));
    expect([...ta.keys()].sort()).toEqual([...tb.keys()].sort());
    for (const [k, v] of ta) if (k !== '/index.json') expect(tb.get(k), k).toBe(v);
    const entries = async (root: string) => {
      const index = JSON.parse(await readFile(join(dir, root, 'index.json'), 'utf8')) as {
        manifests: unknown[];
      };
      return index.manifests.map((m) => JSON.stringify(m)).sort();
    };
    expect(await entries('two-streams')).toEqual(await entries('one-stream'));
    for (const d of bigLayers) expect(ta.get(`/blobs/sha256/${d.slice(7)}`)).toBe(d.slice(7));
    // Two streams: the second large upload began while the first had barely started.
    expect(two.startedWhile).toHaveLength(1);
    expect(Math.max(...two.startedWhile[0]!)).toBeLessThan(BIG / 2);
    // One stream: the pass reads the first blob through before the second begins (up to the 8 MiB
    // the channel holds for a slow target, plus the chunk in the consumer's hands and the one being
    // pushed: up to 1 MiB each).
    expect(one.startedWhile).toHaveLength(1);
    expect(Math.max(...one.startedWhile[0]!)).toBeGreaterThanOrEqual(BIG - 10 * MiB);
    // Bounded memory: the slow target never lets the readers run a whole blob ahead.
    expect(two.peakQueued).toBeLessThan(200 * MiB);
  });

  it('Given a corrupt byte inside a blob read by a ranged reader, Then it stops with exit 6 and tags nothing that references it', async () => {
    const data = await readFile(bundle);
    // Incompressible layers are stored as raw zstd blocks: the blob's bytes sit verbatim in the file.
    const layer = await readFile(join(dir, 'src', 'two', 'blobs', 'sha256', bigLayers[1]!.slice(7)));
    const probe = layer.subarray(10 * MiB, 10 * MiB + 64);
    const at = data.indexOf(probe);
    expect(at).toBeGreaterThan(0);
    data.writeUInt8(data.readUInt8(at + 7) ^ 0xff, at + 7);
    const bad = join(dir, 'corrupt.kcb.tar.zst');
    await writeFile(bad, data);
    const oci = join(dir, 'corrupt-target');
    await expect(installInto(new OciLayoutTarget(oci), 2, bad)).rejects.toMatchObject({ exitCode: 6 });
    const index = existsSync(join(oci, 'index.json')) ? await readFile(join(oci, 'index.json'), 'utf8') : '';
    expect(index).not.toContain('demo/two');
    expect(existsSync(join(oci, 'blobs', 'sha256', bigLayers[1]!.slice(7)))).toBe(false);
  });
});

describe('large blobs from reused read buffers, to several targets at once', () => {
  const nodes: OllamaDouble[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('Given 24 MiB weights and a 20 MiB layer, When installed into an Ollama store, two Ollama servers and an OCI layout in one run, Then every target holds every byte', async () => {
    const demo = await demoBundle('1.0.0', { ggufSize: 24 * MiB, layerSize: 20 * MiB });
    for (const i of [1, 2]) {
      const n = new OllamaDouble(join(demo.ws.dir, `node${i}`));
      await n.start();
      nodes.push(n);
    }
    const store = join(demo.ws.dir, 'store');
    const oci = join(demo.ws.dir, 'oci');
    const r = await kubechat([
      'install',
      demo.path,
      '--allow-unsigned',
      '--no-validate',
      '--ollama-store',
      store,
      ...nodes.flatMap((n) => ['--ollama', n.url]),
      '--registry',
      `oci:${oci}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const blobs = demo.manifest.contents.filter((c) => c.path.startsWith('blobs/sha256/'));
    const large = blobs.filter((c) => c.size >= RANGED_READ_FROM);
    expect(large.length).toBeGreaterThanOrEqual(2); // the weights and the layer take the ranged path
    let checked = 0;
    for (const c of large) {
      const inStore = join(store, 'blobs', `sha256-${c.sha256}`);
      const inLayout = join(oci, 'blobs', 'sha256', c.sha256);
      const copies = [inStore, inLayout, ...nodes.map((n) => n.blobPath(`sha256:${c.sha256}`))].filter((p) =>
        existsSync(p),
      );
      // The weights land in the store and on both servers (the double re-hashes what it receives);
      // the image layer in the OCI layout.
      expect(copies.length).toBeGreaterThanOrEqual(1);
      for (const p of copies) {
        expect(await sha256File(p), p).toBe(c.sha256);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });
});
