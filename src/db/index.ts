/**
 * The database layer's public surface, for `install` and other services:
 *
 *   const db = await openDatabase({ url, home, reporter });        // URL, or the embedded server
 *   try {
 *     await prepareSchema(db.pool, sources, { where, reporter });   // migrations from the bundle, then seed
 *     const rec = await DeploymentRecorder.start(db.pool, { bundleName, version, configuration });
 *     const journal = new PgInstallJournal(db.pool, manifestDigest, targetIds);
 *     …  rec.recordPackage(…) / rec.recordModel(…) after each artifact really installed …
 *     await rec.finish('installed');                               // or 'failed', reason
 *   } finally {
 *     await db.close();                                             // stops the embedded server
 *   }
 */
import type pg from 'pg';
import type { Reporter } from '../lib/progress.js';
import { migrate, type MigrateResult } from './migrate.js';
import { migrationSet, type MigrationSource } from './migration-set.js';
import { seed, type SeedResult } from './seed.js';

export {
  openDatabase,
  redactUrl,
  DATABASE_URL_ENV,
  type Database,
  type OpenDatabaseOptions,
} from './connection.js';
export { migrate, inspectSchema, repair, type MigrateResult, type SchemaState } from './migrate.js';
export {
  migrationSet,
  loadMigrationDir,
  SHIPPED_MIGRATIONS_DIR,
  type Migration,
  type MigrationSource,
} from './migration-set.js';
export { isMigrationEntry, loadBundleMigrations } from './bundle-migrations.js';
export { seed, type SeedResult } from './seed.js';
export {
  DeploymentRecorder,
  highestInstalledVersion,
  recordInstalledVersion,
  PgVersionStore,
  scrubSecrets,
  type DeploymentInput,
  type ModelInput,
  type PackageInput,
  type PackageType,
} from './records.js';
export {
  PgInstallJournal,
  installIdentity,
  type InstallJournal,
  type JournalJob,
  type JobState,
} from './journal.js';

/**
 * For install: apply the migrations a bundle carries (`files/migrations/*.sql` entries collected
 * while streaming it, as {name, bytes}), then seed the defaults. Refuses drift and newer schemas
 * like `db migrate`.
 */
export async function prepareSchema(
  pool: pg.Pool,
  sources: MigrationSource[],
  options: { where: string; lockTimeoutMs?: number; reporter?: Reporter },
): Promise<{ migrate: MigrateResult; seed: SeedResult }> {
  const set = migrationSet(sources, options.where);
  const migrated = await migrate(pool, set, {
    lockTimeoutMs: options.lockTimeoutMs,
    reporter: options.reporter,
  });
  return { migrate: migrated, seed: await seed(pool) };
}
