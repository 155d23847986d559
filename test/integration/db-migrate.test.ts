/**
 * The migration runner against a real PostgreSQL (fresh database per test): history, checksums,
 * idempotence, two concurrent runs, the lock's bounded wait, drift, a newer schema, a failing
 * migration, unreachable and missing databases.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { prepareSchema } from '../../src/db/index.js';
import { inspectSchema, migrate, MIGRATION_LOCK_KEY, repair } from '../../src/db/migrate.js';
import {
  loadMigrationDir,
  migrationSet,
  SHIPPED_MIGRATIONS_DIR,
  type Migration,
} from '../../src/db/migration-set.js';
import { failure } from '../support/helpers.js';
import { ADMIN_URL, freshDatabase, type TestDatabase } from '../support/postgres.js';

const dbs: TestDatabase[] = [];
async function fresh(): Promise<TestDatabase> {
  const db = await freshDatabase('kc_migrate');
  dbs.push(db);
  return db;
}
afterEach(async () => {
  await Promise.all(dbs.splice(0).map((d) => d.drop()));
});

const shipped = () => loadMigrationDir();
const withExtra = async (file: string, sql: string): Promise<Migration[]> => {
  const base = await shipped();
  return migrationSet(
    [
      ...base.map((m) => ({ name: m.file, bytes: Buffer.from(m.sql) })),
      { name: file, bytes: Buffer.from(sql) },
    ],
    'test',
  );
};
const history = async (db: TestDatabase) =>
  (
    await db.pool.query<{ version: number; checksum: string; duration_ms: number; applied_by: string }>(
      'SELECT version, checksum, duration_ms, applied_by FROM kubechat_schema_migrations ORDER BY version',
    )
  ).rows;
const tableExists = async (db: TestDatabase, t: string) =>
  (await db.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [t])).rows[0]!.t !== null;

describe('db migrate', () => {
  it('applies every migration once, recording sha256 checksums of the files, and is idempotent', async () => {
    const db = await fresh();
    const set = await shipped();
    expect(set.map((m) => m.version)).toEqual([1, 2, 3]);
    const first = await migrate(db.pool, set);
    expect(first).toMatchObject({ from: null, to: 3, upToDate: 0 });
    expect(first.applied.map((m) => m.version)).toEqual([1, 2, 3]);
    const rows = await history(db);
    for (const m of set) {
      const bytes = await readFile(`${SHIPPED_MIGRATIONS_DIR}/${m.file}`);
      const row = rows.find((r) => r.version === m.version)!;
      expect(row.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(row.duration_ms).toBeGreaterThanOrEqual(0);
      expect(row.applied_by).toBe('postgres');
    }
    const again = await migrate(db.pool, set);
    expect(again).toMatchObject({ from: 3, to: 3, applied: [], upToDate: 3 });
    expect(await history(db)).toHaveLength(3);
  });

  it('two runs at once: one applies, the other waits for the lock and finds nothing to do', async () => {
    const db = await fresh();
    const other = new pg.Pool({ connectionString: db.url });
    other.on('error', () => undefined); // the database is dropped with FORCE after the test
    try {
      const set = await shipped();
      const [a, b] = await Promise.all([migrate(db.pool, set), migrate(other, set)]);
      expect([a.applied.length, b.applied.length].sort()).toEqual([0, 3]);
      expect((await history(db)).map((r) => r.version)).toEqual([1, 2, 3]);
    } finally {
      await other.end();
    }
  });

  it('waits a bounded time for a held lock, then names the holder (exit 47); 0 fails at once', async () => {
    const db = await fresh();
    const holder = new pg.Client({ connectionString: db.url, application_name: 'other-migrator' });
    holder.on('error', () => undefined);
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const started = Date.now();
      const err = await failure(migrate(db.pool, await shipped(), { lockTimeoutMs: 300 }));
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(err.exitCode).toBe(47);
      expect(err.message).toContain('other-migrator');
      const fast = await failure(migrate(db.pool, await shipped(), { lockTimeoutMs: 0 }));
      expect(fast.exitCode).toBe(47);
      expect(await tableExists(db, 'users')).toBe(false);
      // Released: the next run goes through.
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
      expect((await migrate(db.pool, await shipped(), { lockTimeoutMs: 300 })).applied).toHaveLength(3);
    } finally {
      await holder.end();
    }
  });

  it('a failing migration leaves nothing of itself applied; earlier ones stay (exit 46)', async () => {
    const db = await fresh();
    const set = await withExtra(
      'V004__broken.sql',
      'CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1);\nCREATE TABLE broken (x no_such_type);\n',
    );
    const err = await failure(migrate(db.pool, set));
    expect(err.exitCode).toBe(46);
    expect(err.message).toMatch(
      /V4 broken \(V004__broken\.sql\) failed at line 3: type "no_such_type" does not exist/,
    );
    expect(err.message).toContain('rolled back');
    expect(await tableExists(db, 'half_done')).toBe(false);
    expect((await history(db)).map((r) => r.version)).toEqual([1, 2, 3]);
    const state = await inspectSchema(db.pool, set);
    expect(state.pending.map((m) => m.version)).toEqual([4]);
  });

  it('refuses to run on drift: an applied migration changed (exit 43), nothing applied', async () => {
    const db = await fresh();
    await migrate(db.pool, await shipped());
    const changed = (await withExtra('V004__more.sql', 'CREATE TABLE more_stuff (id int);')).map((m) =>
      m.version === 2
        ? {
            ...m,
            checksum: createHash('sha256')
              .update(m.sql + '\n-- edited')
              .digest('hex'),
          }
        : m,
    );
    const err = await failure(migrate(db.pool, changed));
    expect(err.exitCode).toBe(43);
    expect(err.message).toMatch(/V2 airgap deployment has changed since it was applied/);
    expect(await tableExists(db, 'more_stuff')).toBe(false);
    const state = await inspectSchema(db.pool, changed);
    expect(state.migrations.find((m) => m.version === 2)?.state).toBe('changed');
  });

  it('refuses a database whose history holds a migration this kubechat does not ship (exit 43)', async () => {
    const db = await fresh();
    await migrate(db.pool, await withExtra('V004__local.sql', 'SELECT 1;'));
    const set = await withExtra('V005__next.sql', 'CREATE TABLE next_table (id int);');
    const err = await failure(migrate(db.pool, set));
    expect(err.exitCode).toBe(43);
    expect(err.message).toContain(
      'applied migration V4 local (V004__local.sql) is not one this kubechat ships',
    );
    expect(await tableExists(db, 'next_table')).toBe(false);
    // Not repairable: it needs the kubechat that applied V4.
    expect((await failure(repair(db.pool, set))).exitCode).toBe(43);
  });

  it('refuses a pending migration older than an applied one (out of order, exit 43)', async () => {
    const db = await fresh();
    await migrate(db.pool, await withExtra('V005__later.sql', 'SELECT 1;'));
    const base = await withExtra('V005__later.sql', 'SELECT 1;');
    const set = migrationSet(
      [
        ...base.map((m) => ({ name: m.file, bytes: Buffer.from(m.sql) })),
        { name: 'V004__earlier.sql', bytes: Buffer.from('CREATE TABLE earlier (id int);') },
      ],
      'test',
    );
    const err = await failure(migrate(db.pool, set));
    expect(err.exitCode).toBe(43);
    expect(err.message).toContain('V4 earlier is pending but V5 is already applied');
    expect(await tableExists(db, 'earlier')).toBe(false);
  });

  it('refuses a schema newer than this kubechat (exit 44) and applies nothing', async () => {
    const db = await fresh();
    await migrate(db.pool, await withExtra('V009__future.sql', 'CREATE TABLE future (id int);'));
    const err = await failure(migrate(db.pool, await shipped()));
    expect(err.exitCode).toBe(44);
    expect(err.message).toMatch(/schema is at version 9, newer than this kubechat knows \(3\)/);
    expect(err.fix).toMatch(/upgrade kubechat/);
    expect((await history(db)).map((r) => r.version)).toEqual([1, 2, 3, 9]);
  });

  it('prepareSchema (install): migrations as {name, bytes} read out of a bundle, then the seed; again a no-op', async () => {
    const db = await fresh();
    const sources = await Promise.all(
      (await shipped()).map(async (m) => ({
        name: `files/migrations/${m.file}`,
        bytes: await readFile(join(SHIPPED_MIGRATIONS_DIR, m.file)),
      })),
    );
    const first = await prepareSchema(db.pool, sources, { where: 'bundle.kcb.tar.zst' });
    expect(first.migrate.applied).toHaveLength(3);
    expect(first.seed.inserted).toBeGreaterThan(0);
    const again = await prepareSchema(db.pool, sources, { where: 'bundle.kcb.tar.zst' });
    expect(again.migrate.applied).toHaveLength(0);
    expect(again.seed.inserted).toBe(0);
  });

  it('refuses migration files it cannot order', async () => {
    const dup = await failure(
      Promise.resolve().then(() =>
        migrationSet(
          [
            { name: 'V1__a.sql', bytes: Buffer.from('') },
            { name: 'V001__b.sql', bytes: Buffer.from('') },
          ],
          'dir',
        ),
      ),
    );
    expect(dup.message).toContain('V1__a.sql and V001__b.sql both have version 1');
    const bad = await failure(
      Promise.resolve().then(() => migrationSet([{ name: '2024-add.sql', bytes: Buffer.from('') }], 'dir')),
    );
    expect(bad.message).toContain('2024-add.sql is not a migration file name');
  });
});

describe('connecting', () => {
  it('an unreachable server: exit 40, the password redacted', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const err = await failure(
      openDatabase({ url: `postgres://kubechat:s3cret-pw@127.0.0.1:${port}/kubechat` }),
    );
    expect(err.exitCode).toBe(40);
    expect(err.message).toContain(`127.0.0.1:${port}: connection refused`);
    expect(err.message).toContain('kubechat:***@');
    expect(`${err.message}${err.fix}`).not.toContain('s3cret-pw');
  });

  it('a database that does not exist: exit 42 with the createdb fix', async () => {
    const url = new URL(ADMIN_URL);
    url.pathname = '/kc_no_such_db';
    const err = await failure(openDatabase({ url: url.toString() }));
    expect(err.exitCode).toBe(42);
    expect(err.message).toBe(`database "kc_no_such_db" does not exist on 127.0.0.1:${url.port || 5432}`);
    expect(err.fix).toContain(`createdb -h 127.0.0.1 -p ${url.port || 5432} kc_no_such_db`);
  });

  it('not a postgres URL: a usage-level error before any connection', async () => {
    const err = await failure(openDatabase({ url: 'mysql://root:pw@localhost/x' }));
    expect(err.exitCode).toBe(3);
    expect(err.message).not.toContain(':pw@');
  });
});
