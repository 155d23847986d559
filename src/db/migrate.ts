/**
 * The migration runner. History lives in `kubechat_schema_migrations` (version, name, file,
 * sha256 checksum, applied_at, duration_ms, applied_by, kubechat_version). Each migration runs in
 * its own transaction together with its history row, so a failing migration leaves nothing of
 * itself behind. A session-level advisory lock serialises concurrent runs; a second run waits up to
 * `lockTimeoutMs` and then fails with the holder named. Before applying anything the history is
 * compared with the known set: a changed checksum, an applied migration this kubechat does not know
 * (drift), a schema newer than this kubechat, or a pending migration older than an applied one
 * (out of order) stops the run.
 */
import type pg from 'pg';
import { dbError } from '../lib/errors.js';
import { PACKAGE_VERSION } from '../lib/package-root.js';
import { silentReporter, type Reporter } from '../lib/progress.js';
import { queryError } from './connection.js';
import { DEFAULT_LOCK_TIMEOUT_MS, withMigrationLock } from './lock.js';
import type { Migration } from './migration-set.js';

export { DEFAULT_LOCK_TIMEOUT_MS, MIGRATION_LOCK_KEY } from './lock.js';

export const HISTORY_TABLE = 'kubechat_schema_migrations';

export type MigrationState = 'applied' | 'pending' | 'changed' | 'unknown' | 'newer' | 'out-of-order';

export interface MigrationInfo {
  version: number;
  name: string;
  file: string;
  checksum: string;
  state: MigrationState;
  /** For applied rows: what the history holds. */
  appliedChecksum: string | null;
  appliedAt: string | null;
  durationMs: number | null;
}

export interface Problem {
  kind: 'drift' | 'newer' | 'out-of-order';
  /** The migration the problem is about. */
  version: number;
  /** For drift: the applied file changed (repairable) or is unknown to this kubechat. */
  state: MigrationState;
  message: string;
}

export interface SchemaState {
  /** Highest applied version, null when nothing is applied. */
  current: number | null;
  /** Highest version this migration set knows. */
  latest: number | null;
  migrations: MigrationInfo[];
  pending: Migration[];
  problems: Problem[];
}

interface HistoryRow {
  version: number;
  name: string;
  file: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
}

const HISTORY_DDL = `CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
    version INTEGER PRIMARY KEY CHECK (version > 0),
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    checksum CHAR(64) NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    applied_by TEXT NOT NULL DEFAULT current_user,
    kubechat_version TEXT
)`;

/** Pure: the history held by the database against the known set. */
export function compareHistory(history: HistoryRow[], set: Migration[]): SchemaState {
  const known = new Map(set.map((m) => [m.version, m]));
  const applied = new Map(history.map((h) => [h.version, h]));
  const latest = set.length ? set[set.length - 1]!.version : null;
  const current = history.length ? Math.max(...history.map((h) => h.version)) : null;
  const problems: Problem[] = [];
  const migrations: MigrationInfo[] = [];
  for (const h of history) {
    const m = known.get(h.version);
    let state: MigrationState = 'applied';
    if (!m) {
      state = latest === null || h.version > latest ? 'newer' : 'unknown';
      problems.push(
        state === 'newer'
          ? {
              kind: 'newer',
              version: h.version,
              state,
              message: `the database schema is at version ${current}, newer than this kubechat knows (${latest ?? 'none'}): V${h.version} ${h.name} was applied by a newer kubechat`,
            }
          : {
              kind: 'drift',
              version: h.version,
              state,
              message: `applied migration V${h.version} ${h.name} (${h.file}) is not one this kubechat ships`,
            },
      );
    } else if (m.checksum !== h.checksum.trim()) {
      state = 'changed';
      problems.push({
        kind: 'drift',
        version: h.version,
        state,
        message: `applied migration V${h.version} ${h.name} has changed since it was applied (checksum ${h.checksum.slice(0, 12)}… in the database, ${m.checksum.slice(0, 12)}… in ${m.file})`,
      });
    }
    migrations.push({
      version: h.version,
      name: m?.name ?? h.name,
      file: m?.file ?? h.file,
      checksum: m?.checksum ?? h.checksum.trim(),
      state,
      appliedChecksum: h.checksum.trim(),
      appliedAt: h.applied_at.toISOString(),
      durationMs: h.duration_ms,
    });
  }
  const pending: Migration[] = [];
  for (const m of set) {
    if (applied.has(m.version)) continue;
    const outOfOrder = current !== null && m.version < current;
    if (outOfOrder) {
      problems.push({
        kind: 'out-of-order',
        version: m.version,
        state: 'out-of-order',
        message: `migration V${m.version} ${m.name} is pending but V${current} is already applied`,
      });
    } else pending.push(m);
    migrations.push({
      version: m.version,
      name: m.name,
      file: m.file,
      checksum: m.checksum,
      state: outOfOrder ? 'out-of-order' : 'pending',
      appliedChecksum: null,
      appliedAt: null,
      durationMs: null,
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  // "newer" first: it has its own exit code and the clearest fix.
  problems.sort((a, b) => Number(b.kind === 'newer') - Number(a.kind === 'newer'));
  return { current, latest, migrations, pending, problems };
}

/** Throws the first problem as the error `db migrate` / `db status` exit with. */
export function problemError(problems: Problem[]) {
  const p = problems[0]!;
  if (p.kind === 'newer') {
    return dbError('dbNewer', p.message, 'upgrade kubechat on this host to the version that migrated it');
  }
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: see kubechat db status)` : '';
  return dbError(
    'dbDrift',
    `${p.message}${more}`,
    p.kind === 'out-of-order'
      ? 'this database was migrated by a kubechat with a different set of migrations: use the matching kubechat'
      : 'restore the migration files this database was migrated with (kubechat db status shows which); if a changed file was reviewed and is right, accept it with kubechat db repair',
  );
}

async function readHistory(client: pg.PoolClient | pg.Pool): Promise<HistoryRow[]> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [HISTORY_TABLE]);
  if (!exists.rows[0]?.t) return [];
  const { rows } = await client.query<HistoryRow>(
    `SELECT version, name, file, checksum, applied_at, duration_ms FROM ${HISTORY_TABLE} ORDER BY version`,
  );
  return rows;
}

/** Read-only: where the database stands against `set` (for `db status` and `db plan`). */
export async function inspectSchema(pool: pg.Pool, set: Migration[]): Promise<SchemaState> {
  try {
    return compareHistory(await readHistory(pool), set);
  } catch (err) {
    throw queryError(err, 'cannot read the migration history');
  }
}

export interface AppliedMigration {
  version: number;
  name: string;
  file: string;
  checksum: string;
  durationMs: number;
}

export interface MigrateResult {
  /** Version before and after the run (null: nothing applied). */
  from: number | null;
  to: number | null;
  applied: AppliedMigration[];
  /** Migrations that were already applied. */
  upToDate: number;
}

export interface MigrateOptions {
  /** How long to wait for another run's lock; 0 fails at once. */
  lockTimeoutMs?: number;
  reporter?: Reporter;
}

/** Applies every pending migration of `set`, each in its own transaction, under the advisory lock. */
export async function migrate(
  pool: pg.Pool,
  set: Migration[],
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const reporter = options.reporter ?? silentReporter;
  return withMigrationLock(
    pool,
    options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    reporter,
    async (client) => {
      await client.query(HISTORY_DDL).catch((err: unknown) => {
        throw queryError(err, `cannot create ${HISTORY_TABLE}`);
      });
      const state = compareHistory(await readHistory(client), set);
      if (state.problems.length) throw problemError(state.problems);
      const applied: AppliedMigration[] = [];
      for (const m of state.pending) applied.push(await applyOne(client, m, reporter));
      reporter.emit({
        task: 'migrate',
        title: applied.length ? `Applied ${applied.length} migration(s)` : 'Schema is up to date',
        done: true,
      });
      return {
        from: state.current,
        to: applied.length ? applied[applied.length - 1]!.version : state.current,
        applied,
        upToDate: set.length - state.pending.length,
      };
    },
  );
}

async function applyOne(client: pg.PoolClient, m: Migration, reporter: Reporter): Promise<AppliedMigration> {
  reporter.emit({ task: 'migrate', title: `Applying V${m.version} ${m.name}` });
  const started = process.hrtime.bigint();
  try {
    await client.query('BEGIN');
    // Simple-query protocol: a file may hold many statements. No parameters, so no injection surface.
    await client.query(m.sql);
    const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    await client.query(
      `INSERT INTO ${HISTORY_TABLE} (version, name, file, checksum, duration_ms, kubechat_version)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [m.version, m.name, m.file, m.checksum, durationMs, PACKAGE_VERSION],
    );
    await client.query('COMMIT');
    return { version: m.version, name: m.name, file: m.file, checksum: m.checksum, durationMs };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const e = err as { message?: string; position?: string; code?: string };
    const line =
      e.position !== undefined ? ` at line ${m.sql.slice(0, Number(e.position)).split('\n').length}` : '';
    throw dbError(
      'dbMigration',
      `migration V${m.version} ${m.name} (${m.file}) failed${line}: ${(e.message ?? String(err)).split('\n')[0]}${e.code ? ` [SQLSTATE ${e.code}]` : ''}; it was rolled back`,
      'fix the cause named above (or the migration, if it is yours) and run kubechat db migrate again',
      err,
    );
  }
}

export interface RepairResult {
  realigned: Array<{ version: number; name: string; file: string; from: string; to: string }>;
}

/**
 * `db repair`: accept the current files of applied migrations whose checksum changed (an edit that
 * was reviewed, e.g. a comment), by recording their new checksum, under the migration lock. Refuses
 * when the history holds migrations this set does not know (unknown or newer): those need the
 * matching kubechat, not a repair. Nothing is applied.
 */
export async function repair(
  pool: pg.Pool,
  set: Migration[],
  options: MigrateOptions = {},
): Promise<RepairResult> {
  const reporter = options.reporter ?? silentReporter;
  return withMigrationLock(
    pool,
    options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    reporter,
    async (client) => {
      const state = compareHistory(await readHistory(client), set);
      const foreign = state.problems.filter((p) => p.state !== 'changed');
      if (foreign.length) throw problemError(foreign);
      const changed = state.migrations.filter((m) => m.state === 'changed');
      try {
        await client.query('BEGIN');
        for (const m of changed) {
          await client.query(`UPDATE ${HISTORY_TABLE} SET checksum = $2 WHERE version = $1`, [
            m.version,
            m.checksum,
          ]);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw queryError(err, 'cannot repair the migration history');
      }
      reporter.emit({ task: 'repair', title: `Realigned ${changed.length} checksum(s)`, done: true });
      return {
        realigned: changed.map((m) => ({
          version: m.version,
          name: m.name,
          file: m.file,
          from: m.appliedChecksum!,
          to: m.checksum,
        })),
      };
    },
  );
}
