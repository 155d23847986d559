/**
 * `kubechat install` with a database: everything install does in PostgreSQL, in the order that
 * keeps "refused before writing anything anywhere".
 *
 *   1. the trust policy verifies the signature and expiry without the database;
 *   2. its rollback check asks `versions.highest()`, which opens the database (read only: a database
 *      never migrated has nothing installed) and combines it with the state file;
 *   3. `prepare()` applies the bundle's own migrations (files/migrations/), seeds, and inserts the
 *      deployment row (pending), before the stream;
 *   4. `journal()` is the resume journal in processing_jobs; `onInstalled()` records each artifact
 *      really installed (offline_packages, and local_ai_models + model_catalog for models);
 *   5. `succeeded()` marks the deployment installed (before the policy records the version, so
 *      PgVersionStore.record finds the row), `failed()` marks it failed with the scrubbed error;
 *   6. `close()` ends the pool and stops the embedded server — also on Ctrl-C / SIGTERM.
 */
import type pg from 'pg';
import type { BundleManifest } from '../bundle/manifest.js';
import { onInterrupt } from '../lib/interrupt.js';
import type { Reporter } from '../lib/progress.js';
import type { InstalledArtifact } from '../install/result.js';
import { combineVersionStores, type InstalledVersionStore } from '../signing/versions.js';
import { loadBundleMigrations } from './bundle-migrations.js';
import { openDatabase, type Database } from './connection.js';
import { recordInstalledArtifact } from './install-records.js';
import { PgInstallJournal } from './journal.js';
import { migrate } from './migrate.js';
import { loadMigrationDir, SHIPPED_MIGRATIONS_DIR } from './migration-set.js';
import { DeploymentRecorder, PgVersionStore } from './records.js';
import { seed } from './seed.js';

export interface InstallDatabaseOptions {
  /** postgres:// URL; undefined = the embedded server under `home`. */
  url?: string;
  home?: string;
  /** The versions the state file knows (rollback protection keeps both). */
  fileVersions: InstalledVersionStore;
}

export interface InstallDatabaseSummary {
  url: string;
  embedded: boolean;
  deploymentId: string;
  migrationsApplied: number;
}

export class InstallDatabase {
  private db?: Database;
  private recorder?: DeploymentRecorder;
  private migrationsApplied = 0;
  private unregister?: () => void;
  private reporter?: Reporter;
  private deploymentId?: string;
  private opened?: { url: string; embedded: boolean };

  constructor(private readonly options: InstallDatabaseOptions) {}

  /** Rollback protection over the state file and the database; opens the database on first use. */
  versions(reporter: Reporter): InstalledVersionStore {
    this.reporter = reporter;
    return {
      highest: async (name) => {
        const db = await this.open();
        return combineVersionStores([this.options.fileVersions, new PgVersionStore(db.pool)]).highest(name);
      },
      record: async (entry) => {
        const db = await this.open();
        await combineVersionStores([this.options.fileVersions, new PgVersionStore(db.pool)]).record(entry);
      },
    };
  }

  private async open(): Promise<Database> {
    if (this.db) return this.db;
    this.db = await openDatabase({ url: this.options.url, home: this.options.home, reporter: this.reporter });
    this.opened = { url: this.db.url, embedded: this.db.embedded };
    // A Ctrl-C marks the deployment failed, best effort (the embedded server's own handler stops it
    // at the same time; a deployment left pending by a kill -9 stays pending, its jobs resumable).
    this.unregister = onInterrupt(async () => {
      await this.failed('interrupted').catch(() => undefined);
      await this.db?.pool.end().catch(() => undefined);
    });
    return this.db;
  }

  /**
   * After the trust policy accepted the bundle: its migrations (kubechat's own when it carries none),
   * the seed, then the deployment row. `configuration` must hold no secrets (it is scrubbed anyway).
   */
  async prepare(input: {
    bundlePath: string;
    manifest: BundleManifest;
    manifestDigest: string;
    configuration: Record<string, unknown>;
  }): Promise<void> {
    const db = await this.open();
    let migrations = await loadBundleMigrations(input.bundlePath);
    if (migrations.length === 0) migrations = await loadMigrationDir(SHIPPED_MIGRATIONS_DIR);
    const migrated = await migrate(db.pool, migrations, { reporter: this.reporter });
    this.migrationsApplied = migrated.applied.length;
    await seed(db.pool);
    this.recorder = await DeploymentRecorder.start(db.pool, {
      bundleName: input.manifest.name,
      version: input.manifest.version,
      deploymentType: input.manifest.delta ? 'delta' : 'full',
      configuration: { manifestDigest: input.manifestDigest, ...input.configuration },
    });
    this.deploymentId = this.recorder.id;
  }

  /** The resume journal in processing_jobs (after `prepare`). */
  journal(manifestDigest: string, targetIds: string[]): { journal: PgInstallJournal; location: string } {
    const journal = new PgInstallJournal(this.requireDb().pool, manifestDigest, targetIds);
    return { journal, location: `${this.requireDb().url} processing_jobs (${journal.identity})` };
  }

  /** Rows only for work that really happened: an artifact already on the target adds none. */
  async onInstalled(artifact: InstalledArtifact, manifest: BundleManifest): Promise<void> {
    if (artifact.status !== 'installed' || !this.recorder) return;
    await recordInstalledArtifact(this.recorder, artifact, manifest);
  }

  async succeeded(): Promise<void> {
    const r = this.recorder;
    this.recorder = undefined;
    await r?.finish('installed');
  }

  /** Marks the deployment failed (once; the message is scrubbed of secrets). No-op before `prepare`. */
  async failed(message: string): Promise<void> {
    const r = this.recorder;
    if (!r) return;
    this.recorder = undefined;
    await r.finish('failed', message);
  }

  /** The open connection (URL redacted), for post-install validation on the same server; undefined once closed. */
  connection(): { pool: pg.Pool; shown: string; embedded: boolean } | undefined {
    return this.db ? { pool: this.db.pool, shown: this.db.url, embedded: this.db.embedded } : undefined;
  }

  /** After `close()` too: which database recorded the install (URL redacted). */
  summary(): InstallDatabaseSummary | null {
    if (!this.opened || !this.deploymentId) return null;
    return {
      url: this.opened.url,
      embedded: this.opened.embedded,
      deploymentId: this.deploymentId,
      migrationsApplied: this.migrationsApplied,
    };
  }

  async close(): Promise<void> {
    this.unregister?.();
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }

  private requireDb(): Database {
    if (!this.db) throw new Error('internal: install database used before prepare()');
    return this.db;
  }
}
