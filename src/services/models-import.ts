/**
 * `models import BUNDLE [--model NAME …]`: some or all models of a bundle onto every node, through
 * install's own session (services/install-session.ts with a `select`), so the trust policy, the
 * digest checks, the Ollama writers (targets/ollama-store.ts, ollama-api.ts), the version tags and
 * the database records are exactly install's. One install pass per node: a node that is down fails
 * alone and the others proceed. A trust refusal that does not depend on the node (unsigned,
 * untrusted, tampered, expired) stops everything before any node is touched.
 */
import { openBundle } from '../bundle/reader.js';
import type { InstalledArtifact, InstallResult } from '../install/result.js';
import type { BlobTarget } from '../install/types.js';
import { KubechatError, modelsError } from '../lib/errors.js';
import type { Reporter } from '../lib/progress.js';
import { hasTag, parseModelName, repoOf } from '../ollama/names.js';
import { ApiNode, type ModelNode } from '../models/nodes.js';
import { ModelRecords } from '../models/records.js';
import type { TrustedKey } from '../signing/signature.js';
import { OllamaApiTarget } from '../targets/ollama-api.js';
import { OllamaStoreTarget } from '../targets/ollama-store.js';
import { InstallSession } from './install-session.js';
import { nodeError, type NodeError } from './models.js';

export interface ImportOptions {
  bundlePath: string;
  nodes: ModelNode[];
  /** Names as the bundle lists them (assist:1.0), or without tag (every tag of assist). Default: all. */
  models?: string[];
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  allowExpired?: boolean;
  allowDowngrade?: boolean;
  /** Record in this database (install's records, plus model_distributions). */
  databaseUrl?: string;
  concurrency?: number;
  reporter: Reporter;
  onWarning?: (m: string) => void;
}

export interface NodeImport {
  node: string;
  ok: boolean;
  error: NodeError | null;
  models: InstalledArtifact[];
  upToDate: boolean;
  seconds: number;
}

export interface ImportResult {
  bundle: string;
  name: string;
  version: string;
  manifestDigest: string;
  signature: InstallResult['signature'] | null;
  trust: InstallResult['trust'] | null;
  models: string[];
  nodes: NodeImport[];
  failed: NodeError[];
  warnings: string[];
  database: { url: string; distributions: number } | null;
}

const NODE_INDEPENDENT_REFUSALS = new Set([
  'unsigned',
  'untrustedSigner',
  'badSignature',
  'manifestTampered',
  'foreignStatement',
  'payloadType',
  'signatureCount',
  'expired',
  'signature',
  'bundleFormat',
  'integrity',
  'source',
]);

/** The bundle's models the names select (exit 51 for a name that selects none). */
export function selectBundleModels(models: Array<{ name: string; ref: string }>, names?: string[]) {
  if (models.length === 0)
    throw modelsError('modelNotFound', 'the bundle holds no models', 'pick a bundle whose spec lists models');
  if (!names || names.length === 0) return models;
  const picked = new Set<{ name: string; ref: string }>();
  for (const want of names) {
    const n = parseModelName(want);
    const hits = n
      ? models.filter((m) => {
          const have = parseModelName(m.name) ?? parseModelName(m.ref);
          if (!have) return false;
          return repoOf(have) === repoOf(n) && (!hasTag(want) || have.tag === n.tag);
        })
      : [];
    if (hits.length === 0)
      throw modelsError(
        'modelNotFound',
        `the bundle has no model named ${want} (it has ${models.map((m) => m.name).join(', ')})`,
        'name one of the bundle’s models with {flag:model}, or leave {flag:model} out to import them all',
      );
    for (const h of hits) picked.add(h);
  }
  return [...picked];
}

/** The install target that imports bundles into a node: its models directory or its Ollama server. */
function nodeTarget(node: ModelNode): BlobTarget {
  return node instanceof ApiNode
    ? new OllamaApiTarget(node.address, { ca: node.ca })
    : new OllamaStoreTarget(node.address);
}

export async function importModels(opts: ImportOptions): Promise<ImportResult> {
  const bundle = await openBundle(opts.bundlePath);
  const selected = selectBundleModels(bundle.manifest.artifacts.models, opts.models);
  const refs = new Set(selected.map((m) => m.ref));
  const warnings: string[] = [];
  const warn = (m: string) => {
    if (!warnings.includes(m)) {
      warnings.push(m);
      opts.onWarning?.(m);
    }
  };
  const result: ImportResult = {
    bundle: opts.bundlePath,
    name: bundle.manifest.name,
    version: bundle.manifest.version,
    manifestDigest: bundle.manifestDigest,
    signature: null,
    trust: null,
    models: selected.map((m) => m.name),
    nodes: [],
    failed: [],
    warnings,
    database: null,
  };
  let records: ModelRecords | undefined;
  let distributions = 0;
  try {
    for (const node of opts.nodes) {
      const target = nodeTarget(node);
      const started = Date.now();
      try {
        const session = await InstallSession.open({
          bundlePath: opts.bundlePath,
          targets: [target],
          select: (a) => a.kind === 'model' && refs.has(a.ref),
          trust: {
            trustedKeys: opts.trustedKeys,
            allowUnsigned: opts.allowUnsigned,
            allowExpired: opts.allowExpired,
            allowDowngrade: opts.allowDowngrade,
          },
          database: opts.databaseUrl ? { url: opts.databaseUrl } : undefined,
          record: { command: 'models import', models: [...refs] },
          concurrency: opts.concurrency,
          onWarning: warn,
        });
        const r = await session.run(opts.reporter);
        result.signature ??= r.signature;
        result.trust ??= r.trust ?? null;
        result.nodes.push({
          node: node.label,
          ok: true,
          error: null,
          models: r.artifacts,
          upToDate: r.upToDate,
          seconds: r.seconds,
        });
        if (opts.databaseUrl) {
          records ??= await ModelRecords.open(opts.databaseUrl);
          for (const m of selected)
            if (
              await records.distribution(
                m.name,
                node.kind === 'api' ? 'ollama-api' : 'ollama-store',
                node.label,
                'completed',
              )
            )
              distributions++;
        }
      } catch (err) {
        if (err instanceof KubechatError && NODE_INDEPENDENT_REFUSALS.has(err.kind)) throw err;
        const e = nodeError(node, err);
        result.nodes.push({
          node: node.label,
          ok: false,
          error: e,
          models: [],
          upToDate: false,
          seconds: (Date.now() - started) / 1000,
        });
        result.failed.push(e);
        if (records)
          for (const m of selected)
            if (
              await records
                .distribution(
                  m.name,
                  node.kind === 'api' ? 'ollama-api' : 'ollama-store',
                  node.label,
                  'failed',
                )
                .catch(() => false)
            )
              distributions++;
      }
    }
  } finally {
    if (records) result.database = { url: records.url, distributions };
    await records?.close();
  }
  return result;
}
