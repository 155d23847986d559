/**
 * `models verify [NAME] [--repair BUNDLE]`: re-hashes every blob of every manifest in each models
 * directory (models/verify.ts). With --repair, each missing, truncated or corrupt blob the bundle
 * holds is restored from it — streamed, checked against the digest the node's own manifest names,
 * written under a temp name and renamed — and the models are verified again. The bundle's signature
 * does not matter here: a blob is accepted only if its sha256 is the one the node already expects.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EntryIndex, openBundle } from '../bundle/reader.js';
import { blobPath } from '../lib/digest.js';
import { integrityError, modelsError } from '../lib/errors.js';
import { ByteProgress, silentReporter, type Reporter } from '../lib/progress.js';
import { writeTargetFile } from '../targets/fs.js';
import type { ModelNode } from '../models/nodes.js';
import { StoreNode } from '../models/nodes.js';
import {
  listStoreManifests,
  manifestBlobs,
  matchesModelName,
  storeBlobPath,
  unmatchedNames,
  verifyOllamaStore,
  type ModelCheck,
} from '../models/verify.js';
import { eachNode, type NodeError } from './models.js';

export interface NodeVerify {
  node: string;
  ok: boolean;
  error: NodeError | null;
  models: ModelCheck[];
  /** Blobs restored from the bundle (--repair). */
  repaired: string[];
  /** Damaged blobs the bundle does not hold. */
  unrepairable: string[];
  bytesHashed: number;
}

export interface VerifyResult {
  ok: boolean;
  nodes: NodeVerify[];
  /** Nodes reached over the API only: their blobs cannot be hashed from here. */
  skipped: string[];
  failed: NodeError[];
  problems: number;
}

export async function verifyModels(
  nodes: ModelNode[],
  opts: { names?: string[]; repairBundle?: string; concurrency?: number; reporter?: Reporter } = {},
): Promise<VerifyResult> {
  const stores = nodes.filter((n): n is StoreNode => n instanceof StoreNode);
  if (stores.length === 0)
    throw modelsError(
      'modelNodeKind',
      'models verify hashes blobs on disk: it needs a models directory',
      'pass {flag:ollama-store} DIR (the node’s OLLAMA_MODELS volume)',
    );
  const runs = await eachNode(stores, async (node) => {
    const store = (node as StoreNode).dir;
    const manifests = await listStoreManifests(store);
    if (opts.names) {
      const unknown = unmatchedNames(manifests, opts.names);
      if (unknown.length === opts.names.length)
        throw modelsError(
          'modelNotFound',
          `${store}: no model named ${unknown.join(', ')}`,
          'see what is there with kubechat models list',
        );
    }
    // The total for the progress display: each distinct blob once, as verifyOllamaStore hashes them.
    const sizes = new Map<string, number>();
    for (const m of manifests)
      if (!opts.names || opts.names.some((f) => matchesModelName(m, f)))
        try {
          for (const b of manifestBlobs(await readFile(m.path))) sizes.set(b.digest, b.size);
        } catch {
          // reported by verifyOllamaStore
        }
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    const progress = new ByteProgress(
      opts.reporter ?? silentReporter,
      `verify ${store}`,
      `Verifying ${store}`,
      total,
    );
    let bytesHashed = 0;
    const onBytes = (n: number) => {
      bytesHashed += n;
      progress.add(n);
    };
    let models = await verifyOllamaStore(store, {
      names: opts.names,
      concurrency: opts.concurrency,
      onBytes,
    });
    const damaged = [...new Set(models.flatMap((m) => m.problems.map((p) => p.digest)))];
    let repaired: string[] = [];
    let unrepairable: string[];
    if (opts.repairBundle && damaged.length > 0) {
      ({ repaired, unrepairable } = await repairFromBundle(store, damaged, opts.repairBundle));
      if (repaired.length > 0)
        models = await verifyOllamaStore(store, {
          names: opts.names,
          concurrency: opts.concurrency,
          onBytes,
        });
    } else unrepairable = damaged;
    progress.finish();
    return { models, repaired, unrepairable, bytesHashed };
  });
  const out: NodeVerify[] = runs.map((r) => ({
    node: r.node.label,
    ok: !r.error && r.value!.models.every((m) => m.problems.length === 0 && m.parseError === undefined),
    error: r.error ?? null,
    models: r.value?.models ?? [],
    repaired: r.value?.repaired ?? [],
    unrepairable: r.value?.unrepairable ?? [],
    bytesHashed: r.value?.bytesHashed ?? 0,
  }));
  const problems = out.reduce(
    (n, x) => n + x.models.reduce((k, m) => k + m.problems.length + (m.parseError ? 1 : 0), 0),
    0,
  );
  return {
    ok: out.every((n) => n.ok),
    nodes: out,
    skipped: nodes.filter((n) => !(n instanceof StoreNode)).map((n) => n.label),
    failed: runs.flatMap((r) => (r.error ? [r.error] : [])),
    problems,
  };
}

async function repairFromBundle(store: string, digests: string[], bundlePath: string) {
  const bundle = await openBundle(bundlePath);
  const index = await EntryIndex.open(bundle);
  const listed = new Map(bundle.manifest.contents.map((c) => [c.path, c]));
  const repaired: string[] = [];
  const unrepairable: string[] = [];
  for (const digest of digests) {
    const path = blobPath(digest);
    const entry = listed.get(path);
    if (!entry || index.has(path) === false) {
      unrepairable.push(digest);
      continue;
    }
    await writeTargetFile(
      storeBlobPath(store, digest),
      checked(index.read(path), digest, bundle.source.name),
    );
    repaired.push(digest);
  }
  return { repaired, unrepairable };
}

/** Passes the bytes on; throws at the end (so writeTargetFile keeps nothing) if they are not `digest`. */
async function* checked(data: AsyncIterable<Buffer>, digest: string, what: string): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const c of data) {
    hash.update(c);
    yield c;
  }
  if (`sha256:${hash.digest('hex')}` !== digest)
    throw integrityError(
      `${what}: blob ${digest} in the bundle does not match its digest`,
      'copy the bundle again from its source',
    );
}
