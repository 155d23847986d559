/**
 * The migration lock: a session-level PostgreSQL advisory lock (per database) that serialises
 * migrate and repair runs. A second run waits up to a bound (SET lock_timeout applies to advisory
 * locks) and then fails naming the session that holds it.
 */
import type pg from 'pg';
import { dbError } from '../lib/errors.js';
import type { Reporter } from '../lib/progress.js';
import { queryError } from './connection.js';

/** pg_advisory_lock key: the first 8 bytes of sha256("kubechat_schema_migrations"), sign bit cleared. */
export const MIGRATION_LOCK_KEY = '1736710916025190519';
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/** Runs `work` on one session of `pool` that holds the migration lock; releases it afterwards. */
export async function withMigrationLock<T>(
  pool: pg.Pool,
  timeoutMs: number,
  reporter: Reporter,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect().catch((err: unknown) => {
    throw queryError(err, 'cannot open a database session');
  });
  let broken: Error | undefined;
  try {
    await acquireLock(client, timeoutMs, reporter);
    try {
      return await work(client);
    } finally {
      await client
        .query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY])
        .catch((err: Error) => {
          broken = err; // the session is gone, and its lock with it
        });
    }
  } finally {
    client.release(broken);
  }
}

interface LockHolder {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  backend_start: Date | null;
}

async function lockHolder(client: pg.PoolClient): Promise<string> {
  const { rows } = await client
    .query<LockHolder>(
      `SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
      [MIGRATION_LOCK_KEY],
    )
    .catch(() => ({ rows: [] as LockHolder[] }));
  const h = rows[0];
  if (!h) return 'another session';
  const app = h.application_name ? ` (${h.application_name}` : ' (';
  return `backend pid ${h.pid}${app}${h.client_addr ? ` from ${h.client_addr}` : ''}${h.backend_start ? `, connected ${h.backend_start.toISOString()}` : ''})`;
}

async function acquireLock(client: pg.PoolClient, timeoutMs: number, reporter: Reporter): Promise<void> {
  const tried = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
    MIGRATION_LOCK_KEY,
  ]);
  if (tried.rows[0]?.ok) return;
  const holder = await lockHolder(client);
  const busy = () =>
    dbError(
      'dbLocked',
      `another migration run holds the migration lock: ${holder}${timeoutMs > 0 ? `; waited ${Math.round(timeoutMs / 1000)} s` : ''}`,
      'wait for it to finish and run again, raise {flag:lock-timeout}, or end that session (SELECT pg_terminate_backend(PID))',
    );
  if (timeoutMs <= 0) throw busy();
  reporter.emit({ task: 'lock', title: `Waiting for the migration lock held by ${holder}` });
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') throw busy();
    throw queryError(err, 'cannot take the migration lock');
  } finally {
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}
