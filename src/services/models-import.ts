/**
 * `models import BUNDLE [--model NAME …]`: some or all models of a bundle onto every node, through
 * install's own pipeline (services/install.ts with a `select`), so the trust policy, the
 * digest checks, the Ollama writers (targets/ollama-store.ts, ollama-api.ts), the version tags and
 * the database records are exactly install's. One install pass per node: a node that is down fails
 * alone and the others proceed. A trust refusal that does not depend on the node (unsigned,
 * untrusted, tampered, expired) stops everything before any node is touched.
 */
import { resolve } from 'node:path';
import { openBundle } from '../bundle/reader.js';
import type { InstallDatabase } from '../db/install-session.js';
import { KubechatError, modelsError } from '../lib/errors.js';
import type { Reporter } from '../lib/progress.js';
import { hasTag, parseModelName, repoOf } from '../models/names.js';
import type { ModelNode } from '../models/nodes.js';
import { ModelRecords } from '../models/records.js';
import { enforceBundlePolicy, recordInstall, type PolicyResult } from '../signing/policy.js';
import type { TrustedKey } from '../signing/signature.js';
import { FileVersionStore } from '../signing/versions.js';
import { defaultStateDir, FileJournal, journalPath, targetVersionsPath } from '../targets/journal.js';
import { install, type InstalledArtifact, type InstallResult } from './install.js';
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
      const target = node.installTarget();
      const versions = new FileVersionStore(targetVersionsPath(defaultStateDir(), target.id));
      const database: InstallDatabase | undefined = opts.databaseUrl
        ? new (await import('../db/install-session.js')).InstallDatabase({
            url: opts.databaseUrl,
            fileVersions: versions,
          })
        : undefined;
      const started = Date.now();
      let policy: PolicyResult | undefined;
      try {
        const versionStore = database ? database.versions(opts.reporter) : versions;
        const r = await install({
          bundlePath: opts.bundlePath,
          targets: [target],
          select: (a) => a.kind === 'model' && refs.has(a.ref),
          openJournal: (key) => {
            if (database) return database.journal(key.manifestDigest, key.targetIds);
            const path = journalPath(defaultStateDir(), key.manifestDigest, key.targetIds);
            return { journal: new FileJournal(path), location: path };
          },
          allowUnsigned: opts.allowUnsigned ?? false,
          verifyPolicy: async (b) => {
            policy = await enforceBundlePolicy({
              manifestBytes: b.manifestBytes,
              sigstoreBytes: b.signature,
              trustedKeys: opts.trustedKeys,
              allowUnsigned: opts.allowUnsigned,
              allowExpired: opts.allowExpired,
              allowDowngrade: opts.allowDowngrade,
              versions: versionStore,
              source: opts.bundlePath,
            });
            await database?.prepare({
              bundlePath: opts.bundlePath,
              manifest: b.manifest,
              manifestDigest: b.manifestDigest,
              configuration: {
                command: 'models import',
                bundle: resolve(opts.bundlePath),
                targets: [target.label],
                models: [...refs],
                signer: policy.keyId ?? null,
                overrides: policy.overrides,
              },
            });
            return policy;
          },
          onInstalled: database ? (a, b) => database.onInstalled(a, b.manifest) : undefined,
          onComplete: async () => {
            await database?.succeeded();
            if (policy) await recordInstall(versionStore, policy);
          },
          concurrency: opts.concurrency,
          reporter: opts.reporter,
          onWarning: warn,
        });
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
        await database?.failed(err instanceof Error ? err.message : String(err)).catch(() => undefined);
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
      } finally {
        await database?.close();
      }
    }
  } finally {
    if (records) result.database = { url: records.url, distributions };
    await records?.close();
  }
  return result;
}
