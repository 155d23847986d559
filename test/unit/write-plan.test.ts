/**
 * The write plan of bundle create, on plain data: no file is read, nothing is written. Artifacts are
 * hand-made: each root manifest embeds the digests of its file blobs, as an image or model manifest does.
 */
import { describe, expect, it } from 'vitest';
import type { DeltaBase } from '../../src/bundle/delta.js';
import { blobPath, Entry } from '../../src/bundle/layout.js';
import type { FileBlob, MemoryBlob, PlannedArtifact, PlannedFileSet } from '../../src/bundle/plan.js';
import {
  archiveSizeBound,
  hashFirst,
  planWrite,
  storedSummary,
  type BundleContent,
  type KnownDigests,
} from '../../src/bundle/write-plan.js';
import { hexOf, sha256Digest } from '../../src/lib/digest.js';

const CREATED = '2026-01-02T03:04:05.000Z';
const d = (s: string) => sha256Digest(s);
const memory = (text: string): MemoryBlob => ({
  mediaType: 'application/vnd.oci.image.config.v1+json',
  digest: d(text),
  size: Buffer.byteLength(text),
  data: Buffer.from(text),
});
const file = (path: string, size: number, digest?: string): FileBlob => ({
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  digest,
  size,
  path,
});

function image(ref: string, blobs: Array<MemoryBlob | FileBlob>): PlannedArtifact {
  return {
    kind: 'image',
    refName: ref,
    blobs,
    finish(digestOf) {
      const layers = blobs.map((b) => ('path' in b ? digestOf(b) : b.digest));
      const root = memory(JSON.stringify({ ref, layers }));
      return {
        root,
        extra: [],
        info: {
          kind: 'image',
          ref,
          source: `oci:./${ref}`,
          digest: root.digest,
          mediaType: root.mediaType,
          platforms: ['linux/amd64'],
        },
      };
    },
  };
}

const docs: PlannedFileSet = {
  source: './docs',
  target: 'docs',
  files: [
    { path: 'files/docs/index.md', source: '/src/docs/index.md', size: 10, mode: 0o644 },
    { path: 'files/docs/run.sh', source: '/src/docs/run.sh', size: 20, mode: 0o755 },
  ],
};

const content = (artifacts: PlannedArtifact[], fileSets = [docs]): BundleContent => ({
  name: 'demo',
  version: '1.1.0',
  platforms: ['linux/amd64'],
  artifacts,
  fileSets,
});

const none: KnownDigests = { blobs: new Map(), files: new Map() };

const baseOf = (digests: string[], sizes: number[]): DeltaBase => ({
  name: 'demo',
  version: '1.0.0',
  manifestDigest: d('base manifest'),
  digests: new Set(digests.map(hexOf)),
  sizes: new Set(sizes),
});

describe('planWrite', () => {
  it('Given two images sharing a declared layer, When planned, Then blobs come first, each once, then files/, all verified or hashed while written', () => {
    const shared = file('/cache/shared', 100, d('shared'));
    const a = image('a', [memory('config-a'), shared, file('/cache/a', 200, d('a'))]);
    const b = image('b', [memory('config-b'), file('/cache/shared-again', 100, d('shared'))]);

    const plan = planWrite({
      content: content([a, b]),
      base: undefined,
      known: none,
      created: CREATED,
      expires: null,
    });

    expect(plan.fileName).toBe('demo-1.1.0.kcb.tar.zst');
    expect(plan.body.map((e) => [e.kind, e.path, e.source, e.expected])).toEqual([
      ['blob', blobPath(d('shared')), '/cache/shared', d('shared')],
      ['blob', blobPath(d('a')), '/cache/a', d('a')],
      ['file', 'files/docs/index.md', '/src/docs/index.md', undefined],
      ['file', 'files/docs/run.sh', '/src/docs/run.sh', undefined],
    ]);
    expect(plan.body.map((e) => e.mode)).toEqual([undefined, undefined, 0o644, 0o755]);
    expect(plan.placeholders.size).toBe(0);
    expect(plan.fileCount).toBe(2);
  });

  it('Then the header is manifest, oci-layout, index.json and the in-memory blobs, and the manifest lists every entry', () => {
    const a = image('a', [memory('config-a'), file('/cache/a', 200, d('a'))]);
    const plan = planWrite({
      content: content([a]),
      base: undefined,
      known: none,
      created: CREATED,
      expires: null,
    });
    const header = plan.header({
      blobs: new Map(),
      files: new Map([...docs.files.map((f) => [f.path, 'f'.repeat(64)] as const)]),
    });

    const root = a.finish((b) => b.digest!).root;
    expect(header.entries.map((e) => e.path)).toEqual([
      Entry.manifest,
      Entry.ociLayout,
      Entry.index,
      blobPath(root.digest),
      blobPath(d('config-a')),
    ]);
    expect(header.manifest.delta).toBeNull();
    expect(header.manifest.created).toBe(CREATED);
    expect(header.manifest.contents.map((c) => c.path)).toEqual([
      Entry.ociLayout,
      Entry.index,
      blobPath(root.digest),
      blobPath(d('config-a')),
      blobPath(d('a')),
      'files/docs/index.md',
      'files/docs/run.sh',
    ]);
    expect(header.manifest.contents.find((c) => c.path === 'files/docs/run.sh')).toMatchObject({
      mode: '0755',
    });
  });

  it('Given a blob whose digest is learned while written, Then it has a placeholder path, and the provisional header is as large as the real one', () => {
    const weights = file('/models/w.gguf', 500);
    const m = image('m', [weights]);
    const plan = planWrite({
      content: content([m]),
      base: undefined,
      known: none,
      created: CREATED,
      expires: null,
    });

    const placeholder = plan.placeholders.get('/models/w.gguf')!;
    expect(placeholder).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.body[0]).toMatchObject({
      path: blobPath(placeholder),
      provisional: true,
      expected: undefined,
    });

    const learned: KnownDigests = {
      blobs: new Map([['/models/w.gguf', d('weights')]]),
      files: new Map(docs.files.map((f) => [f.path, hexOf(d(f.path))])),
    };
    const real = plan.header(learned);
    // Same entries, same sizes: the room reserved for the provisional header fits the real one.
    expect(real.entries.map((e) => e.data.length)).toEqual(
      plan.provisionalHeader.entries.map((e) => e.data.length),
    );
    expect(real.manifest.contents.map((c) => c.path)).not.toContain(blobPath(placeholder));
    expect(real.manifest.contents.map((c) => c.path)).toContain(blobPath(d('weights')));
    expect(() => plan.header(none)).toThrow(/was not hashed/);
  });

  it('Given a delta base, Then content the base holds is listed but not stored, and the manifest names the base', () => {
    const kept = file('/cache/old', 100, d('old layer'));
    const fresh = file('/cache/new', 300, d('new layer'));
    const a = image('a', [memory('config-a'), kept, fresh]);
    const root = a.finish((b) => b.digest!).root;
    const base = baseOf(
      [d('old layer'), d('config-a'), root.digest, sha256Digest('index.md content')],
      [100, 10],
    );
    const known: KnownDigests = {
      blobs: new Map(),
      files: new Map([['files/docs/index.md', hexOf(sha256Digest('index.md content'))]]),
    };

    const plan = planWrite({ content: content([a]), base, known, created: CREATED, expires: null });

    expect(plan.fileName).toBe('demo-1.1.0.delta-1.0.0.kcb.tar.zst');
    expect(plan.body.map((e) => e.path)).toEqual([blobPath(d('new layer')), 'files/docs/run.sh']);
    const header = plan.header({
      blobs: new Map(),
      files: new Map([...known.files, ['files/docs/run.sh', 'a'.repeat(64)]]),
    });
    expect(header.entries.map((e) => e.path)).toEqual([Entry.manifest, Entry.ociLayout, Entry.index]);
    expect(header.manifest.delta).toEqual({
      base: { name: 'demo', version: '1.0.0', manifestDigest: d('base manifest') },
    });
    expect(header.manifest.contents).toHaveLength(8);
  });

  it('Given a delta and an artifact whose root embeds a digest learned while written, Then its root is stored even if the base has it', () => {
    const weights = file('/models/w.gguf', 500);
    const m = image('m', [weights]);
    const root = m.finish(() => d('weights')).root;
    const base = baseOf([root.digest, d('weights')], [1]);

    const plan = planWrite({ content: content([m], []), base, known: none, created: CREATED, expires: null });
    const header = plan.header({ blobs: new Map([['/models/w.gguf', d('weights')]]), files: new Map() });

    expect(header.entries.map((e) => e.path)).toContain(blobPath(root.digest));
    expect(header.entries.map((e) => e.path)).toContain(Entry.index);
    expect(header.entries.length).toBe(plan.provisionalHeader.entries.length);
  });

  it('Given a blob hashed before planning, Then equal content under two paths is stored once', () => {
    const one = file('/a/layer', 64);
    const two = file('/b/layer', 64);
    const plan = planWrite({
      content: content([image('a', [one]), image('b', [two])], []),
      base: undefined,
      known: {
        blobs: new Map([
          ['/a/layer', d('same')],
          ['/b/layer', d('same')],
        ]),
        files: new Map(),
      },
      created: CREATED,
      expires: null,
    });
    expect(plan.body.map((e) => [e.path, e.expected])).toEqual([[blobPath(d('same')), d('same')]]);
  });
});

describe('hashFirst', () => {
  it('Given no base, Then only undeclared blobs whose size another blob shares are hashed first', () => {
    const c = content([image('a', [file('/x', 10), file('/y', 10), file('/z', 20), file('/w', 10, d('w'))])]);
    const first = hashFirst(c, undefined);
    expect(first.blobs.map((b) => b.path)).toEqual(['/x', '/y']);
    expect(first.files).toEqual([]);
  });

  it('Given a base, Then undeclared blobs and files of a size the base has are hashed first', () => {
    const c = content([image('a', [file('/x', 10), file('/z', 20)])]);
    const first = hashFirst(c, baseOf([], [20]));
    expect(first.blobs.map((b) => b.path)).toEqual(['/z']);
    expect(first.files.map((f) => f.path)).toEqual(['files/docs/run.sh']);
  });
});

describe('storedSummary and archiveSizeBound', () => {
  it('Then entries the archive does not store count as from the base', () => {
    const a = image('a', [file('/cache/a', 200, d('a'))]);
    const plan = planWrite({
      content: content([a], []),
      base: undefined,
      known: none,
      created: CREATED,
      expires: null,
    });
    const stored = new Set([Entry.manifest, Entry.ociLayout, Entry.index]);
    const s = storedSummary(plan.provisionalHeader.manifest, stored, 0);
    expect(s.entries).toEqual({ total: 4, stored: 2, fromBase: 2 });
    expect(s.artifacts).toEqual({ images: 1, charts: 0, models: 0, files: 0 });
    expect(s.content.all).toBeGreaterThan(s.content.stored);
  });

  it('Then the bound covers zstd expansion and per-entry overhead', () => {
    expect(archiveSizeBound(1000, 24, 2)).toBe(1024 + 4 + 4096 * 6);
  });
});
