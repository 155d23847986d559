/**
 * What `install` writes about itself: one `airgap_deployments` row per install (pending →
 * installed | failed), one `offline_packages` row per artifact it really installed, and
 * `local_ai_models` + `model_catalog` per model. No row is written for work that did not happen,
 * and no secret reaches the database: the configuration is scrubbed before it is stored.
 */
import type pg from 'pg';
import { dbError } from '../lib/errors.js';
import { compareVersions, type InstalledVersion, type InstalledVersionStore } from '../signing/versions.js';
import { queryError } from './connection.js';

/** Anything that runs queries: a pool, a pool client or a client. */
export type Queryable = Pick<pg.Pool, 'query'>;

export type PackageType = 'image' | 'chart' | 'model' | 'file';
export type DeploymentStatus = 'pending' | 'installed' | 'failed';

const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|private.?key|api.?key|auth/i;

/** Replaces `user:password@` in any URL inside `text` by `user:***@`. */
export function scrubText(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi, '$1:***@');
}

/** A deep copy of `value` without secrets: secret-looking keys become "***", URLs lose passwords. */
export function scrubSecrets(value: unknown): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (Array.isArray(value)) return value.map(scrubSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      out[k] = SECRET_KEY.test(k) && v !== null && typeof v !== 'boolean' ? '***' : scrubSecrets(v);
    }
    return out;
  }
  return value;
}

/** "sha256:<hex>" or "<hex>" → "<hex>" (the tables hold 64 hex characters). */
export function hexDigest(digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`internal: not a sha256 digest: ${digest}`);
  return hex;
}

export interface DeploymentInput {
  /** Bundle name (airgap_deployments.deployment_name). */
  bundleName: string;
  /** Bundle version (semver). */
  version: string;
  /** e.g. "full" or "delta"; free text. */
  deploymentType?: string;
  installationPath?: string;
  /** Flags, targets, manifest digest…: stored scrubbed of secrets. */
  configuration?: Record<string, unknown>;
}

export interface PackageInput {
  name: string;
  version: string;
  type: PackageType;
  /** sha256 of the artifact's root (manifest, chart blob, file). */
  digest: string;
  size: number;
  filePath?: string;
  dependencies?: unknown;
}

export interface ModelInput {
  /** Ollama name without tag, e.g. "assist". */
  name: string;
  /** Tag / version, e.g. "1.0". */
  version: string;
  /** Ollama manifest digest. */
  digest: string;
  size: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  license?: string | null;
  filePath?: string;
  displayName?: string;
  description?: string;
  author?: string;
  /** Signature over the model, when the bundle carries one. */
  signature?: string;
  resourceRequirements?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** Records one install. Create with `DeploymentRecorder.start`, end with `finish`. */
export class DeploymentRecorder {
  private finished = false;

  private constructor(
    private readonly db: Queryable,
    readonly id: string,
  ) {}

  /** Inserts the deployment row (status pending). */
  static async start(db: Queryable, input: DeploymentInput): Promise<DeploymentRecorder> {
    try {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO airgap_deployments (deployment_name, version, deployment_type, installation_path, configuration, status)
         VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id`,
        [
          input.bundleName,
          input.version,
          input.deploymentType ?? null,
          input.installationPath ?? null,
          input.configuration === undefined ? null : JSON.stringify(scrubSecrets(input.configuration)),
        ],
      );
      return new DeploymentRecorder(db, rows[0]!.id);
    } catch (err) {
      throw notMigrated(err) ?? queryError(err, 'cannot record the deployment');
    }
  }

  /** One installed artifact. Recording the same artifact again updates its row. */
  async recordPackage(p: PackageInput): Promise<void> {
    this.assertOpen();
    await this.db
      .query(
        `INSERT INTO offline_packages (deployment_id, package_name, package_version, package_type, file_path, checksum, size_bytes, dependencies)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (deployment_id, package_type, package_name, package_version)
         DO UPDATE SET file_path = EXCLUDED.file_path, checksum = EXCLUDED.checksum,
                       size_bytes = EXCLUDED.size_bytes, dependencies = EXCLUDED.dependencies`,
        [
          this.id,
          p.name,
          p.version,
          p.type,
          p.filePath ?? null,
          hexDigest(p.digest),
          p.size,
          p.dependencies === undefined ? null : JSON.stringify(p.dependencies),
        ],
      )
      .catch((err: unknown) => {
        throw queryError(err, `cannot record package ${p.name} ${p.version}`);
      });
  }

  /** A model now in the local store: `local_ai_models` and `model_catalog`, upserted by name + version. */
  async recordModel(m: ModelInput): Promise<{ modelId: string; catalogId: string }> {
    this.assertOpen();
    const checksum = hexDigest(m.digest);
    const metadata = {
      family: m.family ?? null,
      parameterSize: m.parameterSize ?? null,
      quantization: m.quantization ?? null,
      deploymentId: this.id,
      ...(m.metadata ?? {}),
    };
    try {
      const model = await this.db.query<{ id: string }>(
        `INSERT INTO local_ai_models (model_name, model_version, model_type, file_path, file_size, checksum, status, resource_requirements)
         VALUES ($1, $2, $3, $4, $5, $6, 'available', $7)
         ON CONFLICT (model_name, model_version)
         DO UPDATE SET model_type = EXCLUDED.model_type, file_path = EXCLUDED.file_path, file_size = EXCLUDED.file_size,
                       checksum = EXCLUDED.checksum, status = 'available',
                       resource_requirements = EXCLUDED.resource_requirements
         RETURNING id`,
        [
          m.name,
          m.version,
          m.family ?? null,
          m.filePath ?? null,
          m.size,
          checksum,
          m.resourceRequirements === undefined ? null : JSON.stringify(m.resourceRequirements),
        ],
      );
      const catalog = await this.db.query<{ id: string }>(
        `INSERT INTO model_catalog (model_name, display_name, description, version, author, license, size_bytes, checksum, digital_signature, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (model_name, version)
         DO UPDATE SET display_name = EXCLUDED.display_name, description = EXCLUDED.description, author = EXCLUDED.author,
                       license = EXCLUDED.license, size_bytes = EXCLUDED.size_bytes, checksum = EXCLUDED.checksum,
                       digital_signature = EXCLUDED.digital_signature, metadata = EXCLUDED.metadata
         RETURNING id`,
        [
          m.name,
          m.displayName ?? `${m.name}:${m.version}`,
          m.description ?? null,
          m.version,
          m.author ?? null,
          m.license ? m.license.split('\n')[0]!.slice(0, 100) : null,
          m.size,
          checksum,
          m.signature ?? null,
          JSON.stringify(metadata),
        ],
      );
      return { modelId: model.rows[0]!.id, catalogId: catalog.rows[0]!.id };
    } catch (err) {
      throw queryError(err, `cannot record model ${m.name}:${m.version}`);
    }
  }

  /** Ends the install: `installed` sets installed_at; `failed` keeps the (scrubbed) reason in the configuration. */
  async finish(status: 'installed' | 'failed', reason?: string): Promise<void> {
    this.assertOpen();
    this.finished = true;
    await this.db
      .query(
        `UPDATE airgap_deployments
            SET status = $2::text,
                installed_at = CASE WHEN $2::text = 'installed' THEN CURRENT_TIMESTAMP ELSE installed_at END,
                configuration = CASE WHEN $3::text IS NULL THEN configuration
                                     ELSE coalesce(configuration, '{}'::jsonb) || jsonb_build_object('error', $3::text) END
          WHERE id = $1`,
        [this.id, status, reason === undefined ? null : scrubText(reason)],
      )
      .catch((err: unknown) => {
        throw queryError(err, 'cannot record the end of the deployment');
      });
  }

  private assertOpen() {
    if (this.finished) throw new Error('internal: deployment record already finished');
  }
}

/** "relation … does not exist" on our tables means the schema was never migrated. */
export function notMigrated(err: unknown) {
  if ((err as { code?: string }).code !== '42P01') return undefined;
  return dbError(
    'dbPending',
    `the database has no kubechat schema: ${(err as Error).message}`,
    'run kubechat db migrate first',
    err,
  );
}

/**
 * Rollback protection: the highest version of `bundleName` ever installed here, if any. A database
 * that was never migrated has had nothing installed (install checks this before it migrates).
 */
export async function highestInstalledVersion(
  db: Queryable,
  bundleName: string,
): Promise<string | undefined> {
  try {
    const { rows } = await db.query<{ version: string }>(
      `SELECT DISTINCT version FROM airgap_deployments WHERE deployment_name = $1 AND status = 'installed'`,
      [bundleName],
    );
    return rows
      .map((r) => r.version)
      .sort(compareVersions)
      .at(-1);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return undefined;
    throw queryError(err, 'cannot read installed versions');
  }
}

/**
 * Records `version` of `bundleName` as installed in one step (for callers that do not track the
 * install as it happens; `install` uses DeploymentRecorder). Returns the deployment id.
 */
export async function recordInstalledVersion(db: Queryable, input: DeploymentInput): Promise<string> {
  const r = await DeploymentRecorder.start(db, input);
  await r.finish('installed');
  return r.id;
}

/**
 * The PostgreSQL rollback store for the signing policy (`combineVersionStores` with the state file):
 * `highest` reads installed deployments; `record` marks the install's deployment row (same name,
 * version and manifest digest, written by DeploymentRecorder) with the overrides used, or inserts an
 * installed row when the install was not recorded as it happened.
 */
export class PgVersionStore implements InstalledVersionStore {
  constructor(private readonly db: Queryable) {}

  highest(bundleName: string): Promise<string | undefined> {
    return highestInstalledVersion(this.db, bundleName);
  }

  async record(entry: InstalledVersion): Promise<void> {
    try {
      const updated = await this.db.query(
        `UPDATE airgap_deployments
            SET configuration = coalesce(configuration, '{}'::jsonb) || jsonb_build_object('overrides', $4::jsonb)
          WHERE deployment_name = $1 AND version = $2 AND status = 'installed'
            AND configuration->>'manifestDigest' = $3`,
        [entry.name, entry.version, entry.manifestDigest, JSON.stringify(entry.overrides)],
      );
      if (updated.rowCount) return;
      await this.db.query(
        `INSERT INTO airgap_deployments (deployment_name, version, configuration, status, installed_at)
         VALUES ($1, $2, $3, 'installed', $4::timestamptz AT TIME ZONE 'UTC')`,
        [
          entry.name,
          entry.version,
          JSON.stringify({ manifestDigest: entry.manifestDigest, overrides: entry.overrides }),
          entry.installedAt,
        ],
      );
    } catch (err) {
      throw notMigrated(err) ?? queryError(err, 'cannot record the installed version');
    }
  }
}
