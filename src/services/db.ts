/**
 * `kubechat db …`: open the database (URL or embedded), pick the migration set (shipped with this
 * kubechat, or carried by a bundle), run one operation, close. Results never hold a password.
 */
import { silentReporter, type Reporter } from '../lib/progress.js';
import { loadBundleMigrations } from '../db/bundle-migrations.js';
import { openDatabase, type Database } from '../db/connection.js';
import {
  inspectSchema,
  migrate,
  repair,
  type AppliedMigration,
  type MigrationInfo,
  type Problem,
} from '../db/migrate.js';
import { loadMigrationDir, SHIPPED_MIGRATIONS_DIR, type Migration } from '../db/migration-set.js';
import { seed, type SeedResult } from '../db/seed.js';

export interface DbOptions {
  url?: string;
  home?: string;
  /** Run the migrations this bundle carries instead of the shipped ones. */
  bundle?: string;
  reporter?: Reporter;
}

interface Where {
  /** Redacted URL. */
  database: string;
  embedded: boolean;
}

async function withDatabase<T>(options: DbOptions, work: (db: Database) => Promise<T>): Promise<T & Where> {
  const db = await openDatabase({ url: options.url, home: options.home, reporter: options.reporter });
  try {
    const result = await work(db);
    return { database: db.url, embedded: db.embedded, ...result };
  } finally {
    await db.close();
  }
}

async function migrationsFor(options: DbOptions): Promise<{ source: string; set: Migration[] }> {
  if (options.bundle) return { source: options.bundle, set: await loadBundleMigrations(options.bundle) };
  return { source: SHIPPED_MIGRATIONS_DIR, set: await loadMigrationDir() };
}

export interface MigrateReport extends Where {
  migrations: string;
  from: number | null;
  to: number | null;
  applied: AppliedMigration[];
  upToDate: number;
}

export async function dbMigrate(options: DbOptions & { lockTimeoutMs?: number }): Promise<MigrateReport> {
  const { source, set } = await migrationsFor(options);
  return withDatabase(options, async (db) => ({
    migrations: source,
    ...(await migrate(db.pool, set, {
      lockTimeoutMs: options.lockTimeoutMs,
      reporter: options.reporter ?? silentReporter,
    })),
  }));
}

export interface StatusReport extends Where {
  migrations: string;
  current: number | null;
  latest: number | null;
  /** No drift, nothing newer, nothing pending. */
  ok: boolean;
  pending: number;
  problems: Problem[];
  history: MigrationInfo[];
}

export async function dbStatus(options: DbOptions): Promise<StatusReport> {
  const { source, set } = await migrationsFor(options);
  return withDatabase(options, async (db) => {
    const s = await inspectSchema(db.pool, set);
    return {
      migrations: source,
      current: s.current,
      latest: s.latest,
      ok: s.problems.length === 0 && s.pending.length === 0,
      pending: s.pending.length,
      problems: s.problems,
      history: s.migrations,
    };
  });
}

export interface PlanReport extends Where {
  migrations: string;
  current: number | null;
  latest: number | null;
  problems: Problem[];
  pending: Array<{ version: number; name: string; file: string; checksum: string; sql: string }>;
}

export async function dbPlan(options: DbOptions): Promise<PlanReport> {
  const { source, set } = await migrationsFor(options);
  return withDatabase(options, async (db) => {
    const s = await inspectSchema(db.pool, set);
    return {
      migrations: source,
      current: s.current,
      latest: s.latest,
      problems: s.problems,
      pending: s.pending.map(({ version, name, file, checksum, sql }) => ({
        version,
        name,
        file,
        checksum,
        sql,
      })),
    };
  });
}

export type SeedReport = SeedResult & Where;

export async function dbSeed(options: DbOptions): Promise<SeedReport> {
  return withDatabase(options, (db) => seed(db.pool));
}

export interface RepairReport extends Where {
  migrations: string;
  realigned: Array<{ version: number; name: string; file: string; from: string; to: string }>;
}

export async function dbRepair(options: DbOptions & { lockTimeoutMs?: number }): Promise<RepairReport> {
  const { source, set } = await migrationsFor(options);
  return withDatabase(options, async (db) => ({
    migrations: source,
    ...(await repair(db.pool, set, { lockTimeoutMs: options.lockTimeoutMs, reporter: options.reporter })),
  }));
}
