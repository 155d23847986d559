/**
 * `kubechat bundle verify`: one pass over the bundle (across split parts, in place) checking every
 * entry against the manifest — sha256 and size, nothing missing, extra or duplicated — plus the
 * table of contents and that every blob the OCI index reaches is in the bundle (or its base).
 */
import { createHash } from 'node:crypto';
import { formatPlatform } from '../oci/platform.js';
import { WorkerHash } from '../lib/hashing-reader.js';
import { ByteProgress, silentReporter, type Reporter } from '../lib/progress.js';
import { BLOB_PREFIX, digestOfBlobPath, Entry } from '../bundle/layout.js';
import { readToc, openBundle, streamEntries, type OpenedBundle } from '../bundle/reader.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from '../oci/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/types.js';
import { openTrustedBundle } from '../signing/policy.js';
import type { TrustedKey } from '../signing/signature.js';

/** Entries at least this large are hashed on the worker thread. */
const WORKER_HASH_FROM = 256 * 1024;

export type ProblemKind =
  | 'digest-mismatch'
  | 'size-mismatch'
  | 'missing'
  | 'unlisted'
  | 'duplicate'
  | 'misplaced'
  | 'toc-mismatch'
  | 'dangling-reference'
  | 'wrong-base';

export interface Problem {
  kind: ProblemKind;
  path: string;
  message: string;
}

export interface VerifyResult {
  bundle: string;
  name: string;
  version: string;
  manifestDigest: string;
  ok: boolean;
  /** 'verified': signed by a trusted key, and the signed statement names exactly this manifest. */
  signature: 'absent' | 'verified';
  signer: null | { keyId: string; key: string };
  /** The expiry that applies, or null. */
  expires: string | null;
  /** Overrides used (--allow-expired), each also a warning. */
  warnings: string[];
  parts: number;
  entries: { listed: number; checked: number; fromBase: number; bytes: number };
  delta: null | { base: { name: string; version: string; manifestDigest: string }; baseChecked: boolean };
  seekable: boolean;
  problems: Problem[];
}

export interface VerifyOptions {
  bundlePath: string;
  basePath?: string;
  /** Keys whose signatures are accepted. A signed bundle is always checked against them. */
  trustedKeys?: readonly TrustedKey[];
  /** Refuse an unsigned bundle (exit 20). */
  requireSignature?: boolean;
  allowExpired?: boolean;
  now?: Date;
  reporter?: Reporter;
}

export async function verifyBundle(options: VerifyOptions): Promise<VerifyResult> {
  const reporter = options.reporter ?? silentReporter;
  // The signature first: a bundle whose signature fails is rejected before the long pass.
  const { bundle, policy } = await openTrustedBundle(options.bundlePath, {
    trustedKeys: options.trustedKeys ?? [],
    allowUnsigned: !options.requireSignature,
    allowExpired: options.allowExpired,
    now: options.now,
  });
  const { manifest } = bundle;
  const listed = new Map(manifest.contents.map((c) => [c.path, c]));
  const problems: Problem[] = [];
  const problem = (kind: ProblemKind, path: string, message: string) =>
    problems.push({ kind, path, message });
  const seen = new Map<string, { header: number; data: number; size: number }>();
  const refs = new ReferenceTracker(manifest.artifacts.images.map((i) => [i.digest, i.platforms] as const));
  const total = manifest.contents.reduce((n, c) => n + c.size, 0);
  const progress = new ByteProgress(reporter, 'verify', `Verifying ${bundle.source.name}`, total);
  let position = 0;
  let tocSeenAt = -1;
  let checked = 0;
  const checks: Array<{
    path: string;
    size: number;
    expected: { size: number; sha256: string };
    hex: Promise<string>;
    keep: Buffer | undefined;
  }> = [];

  // A worker-hashed entry cut short by an error must still be closed, or the worker keeps the process alive.
  let open: WorkerHash | undefined;
  try {
    for await (const entry of streamEntries(bundle, { transient: true })) {
      const at = position++;
      if (entry.path === Entry.manifest || entry.path === Entry.signature) {
        const expectedAt = entry.path === Entry.manifest ? 0 : 1;
        if (at !== expectedAt)
          problem(
            'misplaced',
            entry.path,
            `${entry.path} must be entry ${expectedAt + 1}, found at ${at + 1}`,
          );
        continue;
      }
      if (entry.path === Entry.toc) {
        tocSeenAt = at;
        continue;
      }
      if (tocSeenAt >= 0) problem('misplaced', Entry.toc, `${Entry.toc} must be the last entry`);
      if (seen.has(entry.path)) {
        problem('duplicate', entry.path, `${entry.path} appears more than once`);
        continue;
      }
      seen.set(entry.path, { header: entry.headerOffset, data: entry.dataOffset, size: entry.size });
      const expected = listed.get(entry.path);
      if (!expected) {
        problem('unlisted', entry.path, `${entry.path} is in the archive but not in the manifest`);
        continue;
      }
      // Content is hashed on the worker thread while the next chunks are decompressed; small entries
      // and the JSON documents the reference check reads are hashed here.
      const keep = refs.wants(entry.path, entry.size) ? ([] as Buffer[]) : undefined;
      const hash = keep || entry.size < WORKER_HASH_FROM ? createHash('sha256') : new WorkerHash();
      if (hash instanceof WorkerHash) open = hash;
      for await (const chunk of entry.data) {
        if (hash instanceof WorkerHash) await hash.update(chunk);
        else hash.update(chunk);
        keep?.push(Buffer.from(chunk));
        progress.add(chunk.length);
      }
      checked++;
      open = undefined;
      checks.push({
        path: entry.path,
        size: entry.size,
        expected,
        hex: hash instanceof WorkerHash ? hash.digest() : Promise.resolve(hash.digest('hex')),
        keep: keep && Buffer.concat(keep),
      });
    }
  } catch (err) {
    void open?.digest();
    throw err;
  }
  // In archive order, so problems are reported in the order of the entries.
  for (const c of checks) {
    const hex = await c.hex;
    if (c.size !== c.expected.size) {
      problem('size-mismatch', c.path, `${c.path} has ${c.size} bytes, the manifest says ${c.expected.size}`);
    } else if (hex !== c.expected.sha256) {
      problem(
        'digest-mismatch',
        c.path,
        `${c.path} sha256 is ${hex}, the manifest says ${c.expected.sha256}`,
      );
    } else if (c.keep) {
      refs.add(c.path, c.keep);
    }
  }
  progress.finish();

  const missing = manifest.contents.filter((c) => !seen.has(c.path));
  let fromBase = 0;
  let baseChecked = false;
  if (manifest.delta) {
    const want = manifest.delta.base;
    if (options.basePath) {
      const base = await openBundle(options.basePath);
      baseChecked = true;
      if (base.manifestDigest !== want.manifestDigest) {
        problem(
          'wrong-base',
          options.basePath,
          `--base is ${base.manifest.name} ${base.manifest.version} (${base.manifestDigest}), the delta needs ${want.name} ${want.version} (${want.manifestDigest})`,
        );
      }
      const inBase = new Set(base.manifest.contents.map((c) => c.sha256));
      for (const m of missing) {
        if (inBase.has(m.sha256)) fromBase++;
        else problem('missing', m.path, `${m.path} is neither in the delta nor in its base`);
      }
    } else {
      fromBase = missing.length;
    }
  } else {
    for (const m of missing)
      problem('missing', m.path, `${m.path} is listed in the manifest but not in the archive`);
  }
  for (const d of refs.dangling(new Set(manifest.contents.map((c) => c.path)))) {
    problem('dangling-reference', d.path, d.message);
  }
  await checkToc(bundle, seen, problem);

  return {
    bundle: options.bundlePath,
    name: manifest.name,
    version: manifest.version,
    manifestDigest: bundle.manifestDigest,
    ok: problems.length === 0,
    signature: policy.signed ? 'verified' : 'absent',
    signer: policy.keyId ? { keyId: policy.keyId, key: policy.keySource! } : null,
    expires: policy.expires ?? null,
    warnings: policy.warnings.filter((_, i) => policy.overrides[i] !== 'allow-unsigned'),
    parts: bundle.source.parts?.parts.length ?? 0,
    entries: { listed: manifest.contents.length, checked, fromBase, bytes: total },
    delta: manifest.delta ? { base: manifest.delta.base, baseChecked } : null,
    seekable: bundle.frames !== undefined,
    problems,
  };
}

async function checkToc(
  bundle: OpenedBundle,
  seen: Map<string, { header: number; data: number; size: number }>,
  problem: (kind: ProblemKind, path: string, message: string) => void,
) {
  if (!bundle.frames) return; // recompressed by standard tools: random access is not offered
  const toc = await readToc(bundle);
  if (!toc) {
    problem('toc-mismatch', Entry.toc, `${Entry.toc} is missing although the bundle has a seek table`);
    return;
  }
  for (const e of toc.entries) {
    const s = seen.get(e.path);
    if (!s) continue; // manifest and signature are checked by position
    if (s.header !== e.header || s.data !== e.data || s.size !== e.size) {
      problem(
        'toc-mismatch',
        e.path,
        `${Entry.toc} places ${e.path} at ${e.data}, the archive has it at ${s.data}`,
      );
    }
  }
}

/** Follows index.json → manifests/indexes → configs/layers, to find references to absent blobs. */
class ReferenceTracker {
  readonly #json = new Set<string>([Entry.index]);
  readonly #needed = new Map<string, string>(); // blob path -> who references it
  readonly #optional = new Set<string>();

  constructor(private readonly imagePlatforms: ReadonlyArray<readonly [string, string[]]>) {}

  wants(path: string, size: number): boolean {
    return this.#json.has(path) && size <= 16 * 1024 * 1024;
  }

  add(path: string, data: Buffer): void {
    let doc: Partial<ImageIndex & ImageManifest>;
    try {
      doc = JSON.parse(data.toString('utf8')) as Partial<ImageIndex & ImageManifest>;
    } catch {
      return;
    }
    const digest = digestOfBlobPath(path);
    const platforms = this.imagePlatforms.find(([d]) => d === digest)?.[1];
    const need = (d: Descriptor, optional: boolean) => {
      const p = BLOB_PREFIX + d.digest.slice('sha256:'.length);
      if (optional) this.#optional.add(p);
      else this.#needed.set(p, path);
      if (INDEX_MEDIA_TYPES.has(d.mediaType) || MANIFEST_MEDIA_TYPES.has(d.mediaType)) this.#json.add(p);
    };
    for (const d of doc.manifests ?? []) {
      // An image index keeps all its children's descriptors, but the bundle holds only the chosen platforms.
      const chosen =
        path === Entry.index || !platforms || (d.platform && platforms.includes(formatPlatform(d.platform)));
      if (d && typeof d.digest === 'string') need(d, !chosen);
    }
    if (doc.config && typeof doc.config.digest === 'string') need(doc.config, false);
    for (const d of doc.layers ?? []) if (d && typeof d.digest === 'string') need(d, false);
  }

  dangling(present: Set<string>): Array<{ path: string; message: string }> {
    return [...this.#needed]
      .filter(([p]) => !present.has(p))
      .map(([p, from]) => ({ path: p, message: `${from} references ${p}, which the bundle does not hold` }));
  }
}
