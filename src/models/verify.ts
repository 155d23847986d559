/**
 * Integrity check of an Ollama models directory (OLLAMA_MODELS): every manifest under
 * manifests/<host>/<namespace>/<model>/<tag> is read, and every blob it references
 * (blobs/sha256-<hex>) is re-hashed and compared with the digest and size the manifest names.
 * Ollama itself never re-checks blobs once they are on disk (ollama/ollama#7215), so a bit flip
 * or a truncated copy is only found here. A blob shared by several manifests (version tags, models
 * built on the same weights) is hashed once; distinct blobs are hashed concurrently, largest first.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DIGEST_RE } from '../lib/digest.js';
import { describeFsError, targetError } from '../lib/errors.js';
import { FileHasher, defaultHashConcurrency, type FileHash } from '../lib/file-hasher.js';
import { hasTag, shortName, type OllamaName } from '../ollama/names.js';
import { storeBlobPath } from '../targets/ollama-store.js';

export interface BlobProblem {
  digest: string;
  path: string;
  problem: 'missing' | 'corrupt' | 'size';
  expectedSize?: number;
  actualSize?: number;
  actualDigest?: string;
}

export interface ModelCheck {
  /** host/namespace/model:tag, as the manifest sits under manifests/. */
  name: string;
  manifestPath: string;
  manifestDigest: string;
  /** Distinct blobs the manifest references (config and layers). */
  blobs: number;
  /** Their total size as the manifest states it. */
  bytes: number;
  problems: BlobProblem[];
  /** Set when the manifest is not JSON or names a blob badly; its blobs are then not checked. */
  parseError?: string;
}

export interface VerifyStoreOptions {
  /** Only these models: host/namespace/model:tag, the short name (assist:1.0), or a name without tag (every tag). */
  names?: string[];
  /** Blobs hashed at once (default: one per core, at most 4). */
  concurrency?: number;
  signal?: AbortSignal;
  /** Bytes hashed so far, in increments. */
  onBytes?: (n: number) => void;
}

/** A manifest file found under manifests/. */
export interface StoreManifest {
  name: string;
  parts: OllamaName;
  path: string;
}

interface BlobRef {
  digest: string;
  size: number;
}

/** What is on disk for one blob: absent, or present with its size and (when it was worth hashing) its digest. */
type BlobState = { present: false } | { present: true; size: number; hash?: FileHash };

/** Every manifest file in the store, sorted by name; partial files of an interrupted write are skipped. */
export async function listStoreManifests(storeDir: string): Promise<StoreManifest[]> {
  try {
    const st = await stat(storeDir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw (
      describeFsError(err, storeDir, 'read') ??
      targetError(`${storeDir}: cannot read the Ollama models directory`, 'check {flag:ollama-store}', err)
    );
  }
  const root = join(storeDir, 'manifests');
  const dirs = async (path: string): Promise<string[]> => {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw describeFsError(err, path, 'read') ?? err;
    }
  };
  const out: StoreManifest[] = [];
  for (const host of await dirs(root))
    for (const namespace of await dirs(join(root, host)))
      for (const model of await dirs(join(root, host, namespace))) {
        const dir = join(root, host, namespace, model);
        const entries = await readdir(dir, { withFileTypes: true });
        for (const e of entries) {
          if (!e.isFile() || e.name.startsWith('.')) continue;
          const parts = { host, namespace, model, tag: e.name };
          out.push({ name: `${host}/${namespace}/${model}:${e.name}`, parts, path: join(dir, e.name) });
        }
      }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether `filter` names this manifest: full name, short name, or either without a tag (all tags). */
export function matchesModelName(m: StoreManifest, filter: string): boolean {
  const short = shortName(m.parts);
  if (filter === m.name || filter === short) return true;
  const untagged = (s: string) => s.slice(0, s.lastIndexOf(':'));
  return !hasTag(filter) && (filter === untagged(m.name) || filter === untagged(short));
}

/** The filters that matched no manifest (for an "unknown model" error in the caller). */
export function unmatchedNames(manifests: StoreManifest[], names: string[]): string[] {
  return names.filter((f) => !manifests.some((m) => matchesModelName(m, f)));
}

/** The blobs an Ollama manifest references (config first, then layers), each once. */
export function manifestBlobs(bytes: Buffer): BlobRef[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object');
  const { config, layers } = doc as { config?: unknown; layers?: unknown };
  if (!Array.isArray(layers)) throw new Error('no "layers" array');
  const refs: BlobRef[] = [];
  const seen = new Set<string>();
  for (const [i, d] of [config, ...layers].entries()) {
    if (d === undefined && i === 0) continue; // Ollama always writes a config; tolerate its absence
    const { digest, size } = (d ?? {}) as { digest?: unknown; size?: unknown };
    const where = i === 0 ? 'config' : `layers[${i - 1}]`;
    if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) throw new Error(`${where}: bad digest`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new Error(`${where}: bad size`);
    if (seen.has(digest)) continue;
    seen.add(digest);
    refs.push({ digest, size });
  }
  return refs;
}

/** Path of a blob in the store. */
export { storeBlobPath };

/** Re-hashes every blob referenced by every manifest under storeDir; each blob hashed once even if shared. */
export async function verifyOllamaStore(
  storeDir: string,
  opts: VerifyStoreOptions = {},
): Promise<ModelCheck[]> {
  opts.signal?.throwIfAborted();
  let manifests = await listStoreManifests(storeDir);
  if (opts.names) manifests = manifests.filter((m) => opts.names!.some((f) => matchesModelName(m, f)));

  const parsed = await Promise.all(
    manifests.map(async (m) => {
      const bytes = await readFile(m.path).catch((err: unknown) => {
        throw describeFsError(err, m.path, 'read') ?? err;
      });
      const manifestDigest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      try {
        return { m, manifestDigest, refs: manifestBlobs(bytes) };
      } catch (err) {
        return { m, manifestDigest, refs: [] as BlobRef[], parseError: (err as Error).message };
      }
    }),
  );

  // Sizes the manifests expect per blob: a blob is hashed only if its size on disk is one of them.
  const expected = new Map<string, Set<number>>();
  for (const p of parsed)
    for (const r of p.refs) {
      const s = expected.get(r.digest) ?? new Set<number>();
      s.add(r.size);
      expected.set(r.digest, s);
    }
  const states = await checkBlobs(storeDir, expected, opts);

  return parsed.map(({ m, manifestDigest, refs, parseError }) => {
    const problems: BlobProblem[] = [];
    for (const r of refs) {
      const path = storeBlobPath(storeDir, r.digest);
      const st = states.get(r.digest)!;
      if (!st.present) problems.push({ digest: r.digest, path, problem: 'missing', expectedSize: r.size });
      else if (st.size !== r.size)
        problems.push({ digest: r.digest, path, problem: 'size', expectedSize: r.size, actualSize: st.size });
      else if (st.hash && `sha256:${st.hash.hex}` !== r.digest)
        problems.push({
          digest: r.digest,
          path,
          problem: 'corrupt',
          expectedSize: r.size,
          actualSize: st.size,
          actualDigest: `sha256:${st.hash.hex}`,
        });
    }
    const check: ModelCheck = {
      name: m.name,
      manifestPath: m.path,
      manifestDigest,
      blobs: refs.length,
      bytes: refs.reduce((n, r) => n + r.size, 0),
      problems,
    };
    if (parseError !== undefined) check.parseError = parseError;
    return check;
  });
}

async function checkBlobs(
  storeDir: string,
  expected: Map<string, Set<number>>,
  opts: VerifyStoreOptions,
): Promise<Map<string, BlobState>> {
  const states = new Map<string, BlobState>();
  const toHash: Array<{ digest: string; path: string; size: number }> = [];
  await Promise.all(
    [...expected].map(async ([digest, sizes]) => {
      const path = storeBlobPath(storeDir, digest);
      const st = await stat(path).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw describeFsError(err, path, 'read') ?? err;
      });
      if (!st || !st.isFile()) states.set(digest, { present: false });
      else if (!sizes.has(st.size)) states.set(digest, { present: true, size: st.size });
      else toHash.push({ digest, path, size: st.size });
    }),
  );
  if (toHash.length === 0) return states;

  toHash.sort((a, b) => b.size - a.size); // largest first: the pool drains evenly
  const hasher = new FileHasher(Math.min(opts.concurrency ?? defaultHashConcurrency(), toHash.length));
  const abort = () => void hasher.close(opts.signal!.reason as Error);
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    await Promise.all(
      toHash.map(async (b) => {
        try {
          const hash = await hasher.hash(b.path, { sizeHint: b.size, onBytes: opts.onBytes });
          states.set(b.digest, { present: true, size: hash.size, hash });
        } catch (err) {
          opts.signal?.throwIfAborted();
          // Removed between the stat and the read: as missing as it gets.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') states.set(b.digest, { present: false });
          else throw describeFsError(err, b.path, 'read') ?? err;
        }
      }),
    );
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    await hasher.close();
  }
  return states;
}
