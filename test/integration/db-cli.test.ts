/**
 * `kubechat db …` as a user runs it: against a fresh database on 127.0.0.1:5432, against the
 * embedded default (no URL, KUBECHAT_HOME in a temp dir), with a wrong password (the embedded server
 * uses scram-sha-256; the local server trusts loopback, so it cannot refuse one), interrupted with
 * Ctrl-C, and with the migrations a bundle carries. --json results are checked against their schemas;
 * passwords never appear in any output.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPaths, startEmbedded } from '../../src/db/embedded.js';
import { loadMigrationDir } from '../../src/db/migration-set.js';
import { silentReporter } from '../../src/lib/progress.js';
import { schemaValidator } from '../../src/lib/schema.js';
import { kubechat } from '../support/cli.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { makeWorkspace } from '../support/workspace.js';

function conforms(stdout: string, schema: string): Record<string, unknown> {
  const value = JSON.parse(stdout) as Record<string, unknown>;
  const validate = schemaValidator(`results/${schema}.schema.json`, true);
  validate(value);
  expect(validate.errors ?? [], schema).toEqual([]);
  return value;
}

const portRefuses = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

/** PIDs of processes whose command line names `dataDir` (a postgres server on that cluster). */
async function serversOn(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').includes(dataDir)) pids.push(Number(name));
  }
  return pids;
}

let db: TestDatabase;
let home: string;
const noUrl = () => ({ KUBECHAT_HOME: home, KUBECHAT_DATABASE_URL: '' });

beforeAll(async () => {
  db = await freshDatabase('kc_cli');
  // As root, PostgreSQL runs as the postgres user, which must be able to enter the directory.
  home = await mkdtemp(join(tmpdir(), 'kubechat-home-'));
  await chmod(home, 0o755);
});
afterAll(async () => {
  await db?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('kubechat db with --database-url', () => {
  it('status (pending: exit 45), plan, migrate, status (0), seed twice: each --json to its schema', async () => {
    const url = ['--database-url', db.url, '--json'];
    const before = await kubechat(['db', 'status', ...url]);
    expect(before.code, before.stderr).toBe(45);
    expect(conforms(before.stdout, 'db-status')).toMatchObject({
      ok: false,
      pending: 3,
      current: null,
      latest: 3,
    });

    const plan = await kubechat(['db', 'plan', ...url]);
    expect(plan.code, plan.stderr).toBe(0);
    const planned = conforms(plan.stdout, 'db-plan') as { pending: Array<{ version: number; sql: string }> };
    expect(planned.pending.map((p) => p.version)).toEqual([1, 2, 3]);
    expect(planned.pending[1]!.sql).toContain('CREATE TABLE airgap_deployments');
    const human = await kubechat(['db', 'plan', '--database-url', db.url]);
    expect(human.stdout).toMatch(
      /^-- V1 users \(V001__users\.sql, sha256 [0-9a-f]{64}\)\n(--.*\n)*CREATE TABLE users/m,
    );

    const migrated = await kubechat(['db', 'migrate', ...url]);
    expect(migrated.code, migrated.stderr).toBe(0);
    const m = conforms(migrated.stdout, 'db-migrate') as { applied: Array<{ checksum: string }>; to: number };
    expect(m.to).toBe(3);
    expect(m.applied.map((a) => a.checksum)).toEqual((await loadMigrationDir()).map((x) => x.checksum));
    expect(migrated.stderr).toContain('Applying V2 airgap deployment');

    const after = await kubechat(['db', 'status', ...url]);
    expect(after.code, after.stderr).toBe(0);
    expect(conforms(after.stdout, 'db-status')).toMatchObject({ ok: true, pending: 0, current: 3 });

    const seeded = await kubechat(['db', 'seed', ...url]);
    expect(seeded.code, seeded.stderr).toBe(0);
    expect((conforms(seeded.stdout, 'db-seed') as { inserted: number }).inserted).toBe(15);
    const again = await kubechat(['db', 'seed', ...url]);
    expect((conforms(again.stdout, 'db-seed') as { inserted: number }).inserted).toBe(0);
  });

  it('status and migrate report drift (exit 43) with the migration named, and change nothing', async () => {
    await db.pool.query(`UPDATE kubechat_schema_migrations SET checksum = repeat('0', 64) WHERE version = 2`);
    try {
      const status = await kubechat(['db', 'status', '--database-url', db.url, '--json']);
      expect(status.code).toBe(43);
      const s = conforms(status.stdout, 'db-status') as {
        history: Array<{ version: number; state: string }>;
      };
      expect(s.history.find((h) => h.version === 2)?.state).toBe('changed');
      const migrate = await kubechat(['db', 'migrate', '--database-url', db.url]);
      expect(migrate.code).toBe(43);
      expect(migrate.stderr).toMatch(
        /^error: applied migration V2 airgap deployment has changed since it was applied/m,
      );
      expect(migrate.stderr).toMatch(/^fix: .*kubechat db repair/m);
      // Reviewed and accepted: repair records the file's checksum again; nothing is re-run.
      const repaired = await kubechat(['db', 'repair', '--database-url', db.url, '--json']);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(conforms(repaired.stdout, 'db-repair')).toMatchObject({
        realigned: [{ version: 2, from: '0'.repeat(64), to: (await loadMigrationDir())[1]!.checksum }],
      });
      const clean = await kubechat(['db', 'status', '--database-url', db.url]);
      expect(clean.code, clean.stderr).toBe(0);
    } finally {
      await db.pool.query(`UPDATE kubechat_schema_migrations SET checksum = $1 WHERE version = 2`, [
        (await loadMigrationDir())[1]!.checksum,
      ]);
    }
  });

  it('two kubechat db migrate processes at once: both succeed, each migration applied once', async () => {
    const target = await freshDatabase('kc_twice');
    try {
      const args = ['db', 'migrate', '--database-url', target.url, '--json'];
      const [a, b] = await Promise.all([kubechat(args), kubechat(args)]);
      expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
      const applied = [a, b].map(
        (r) => (conforms(r.stdout, 'db-migrate') as { applied: unknown[] }).applied.length,
      );
      expect(applied.sort()).toEqual([0, 3]);
      const rows = await target.pool.query('SELECT version FROM kubechat_schema_migrations ORDER BY version');
      expect(rows.rows.map((r: { version: number }) => r.version)).toEqual([1, 2, 3]);
    } finally {
      await target.drop();
    }
  });

  it('an unreachable server from KUBECHAT_DATABASE_URL: exit 40, JSON error, password nowhere', async () => {
    const r = await kubechat(['db', 'migrate', '--json'], {
      env: {
        KUBECHAT_DATABASE_URL: 'postgres://kubechat:Pa55-w0rd-x@127.0.0.1:9/kubechat',
        KUBECHAT_HOME: home,
      },
    });
    expect(r.code).toBe(40);
    expect(conforms(r.stdout, 'error')).toMatchObject({ error: { kind: 'dbUnreachable', exitCode: 40 } });
    expect(r.stdout + r.stderr).not.toContain('Pa55-w0rd-x');
    expect(r.stdout).toContain('kubechat:***@127.0.0.1:9');
  });
});

describe('the embedded default (no --database-url)', () => {
  it('creates PostgreSQL under $KUBECHAT_HOME/postgres, migrates, and stops it when the command ends', async () => {
    const r = await kubechat(['db', 'migrate', '--json'], { env: noUrl() });
    expect(r.code, r.stderr).toBe(0);
    const result = conforms(r.stdout, 'db-migrate') as { database: string; embedded: boolean; to: number };
    expect(result.embedded).toBe(true);
    expect(result.to).toBe(3);
    const port = Number(
      /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\/kubechat$/.exec(result.database)?.[1],
    );
    expect(port).toBeGreaterThan(0);
    const paths = embeddedPaths(home);
    expect(existsSync(join(paths.data, 'PG_VERSION'))).toBe(true);
    const password = (await readFile(paths.password, 'utf8')).trim();
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(await readFile(paths.log, 'utf8')).not.toContain(password);
    // Stopped: no server process, nothing listening any more.
    expect(existsSync(join(paths.data, 'postmaster.pid'))).toBe(false);
    expect(await portRefuses(port)).toBe(true);

    // The next command finds the same cluster (state kept), on a new free port.
    const status = await kubechat(['db', 'status', '--json'], { env: noUrl() });
    expect(status.code, status.stderr).toBe(0);
    expect(conforms(status.stdout, 'db-status')).toMatchObject({ embedded: true, ok: true, current: 3 });
  });

  it('a wrong password is refused (exit 41), and the password is never echoed', async () => {
    const server = await startEmbedded({ home, reporter: silentReporter });
    try {
      const r = await kubechat([
        'db',
        'status',
        '--database-url',
        `postgres://postgres:not-the-Pw-123@127.0.0.1:${server.port}/kubechat`,
      ]);
      expect(r.code).toBe(41);
      expect(r.stderr).toContain(
        `error: PostgreSQL at 127.0.0.1:${server.port} refused the password for user "postgres"`,
      );
      expect(r.stdout + r.stderr).not.toContain('not-the-Pw-123');
      // The right password works: the refusal was about the password, not the server.
      const ok = await kubechat(['db', 'status', '--database-url', server.url]);
      expect(ok.code, ok.stderr).toBe(0);
      // A second kubechat on the same home while this one runs: a clear refusal, not a broken cluster.
      const busy = await kubechat(['db', 'status'], { env: noUrl() });
      expect(busy.code).toBe(48);
      expect(busy.stderr).toMatch(/is already running \(pid \d+/);
    } finally {
      await server.stop();
    }
    expect(existsSync(join(embeddedPaths(home).data, 'postmaster.pid'))).toBe(false);
  });

  it('Ctrl-C while it runs: exit 130 and the server is stopped', async () => {
    let port = 0;
    const r = await kubechat(['db', 'status'], {
      env: noUrl(),
      onStderr: (text, child) => {
        const m = /Embedded PostgreSQL on 127\.0\.0\.1:(\d+)/.exec(text);
        if (m && !port) {
          port = Number(m[1]);
          child.kill('SIGINT'); // to kubechat only, not the server's process group
        }
      },
    });
    expect(port).toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(130);
    expect(
      existsSync(join(embeddedPaths(home).data, 'postmaster.pid')),
      r.stderr + (await readFile(embeddedPaths(home).log, 'utf8')).slice(-1500),
    ).toBe(false);
    expect(await portRefuses(port)).toBe(true);
    expect(await serversOn(embeddedPaths(home).data)).toEqual([]);
  });

  it('Ctrl-C while the server starts: exit 130, no server left behind', async () => {
    let sent = false;
    const r = await kubechat(['db', 'status'], {
      env: noUrl(),
      onStderr: (text, child) => {
        if (!sent && text.includes('Starting embedded PostgreSQL')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(await serversOn(embeddedPaths(home).data)).toEqual([]);
    // The cluster is intact: the next command uses it.
    const next = await kubechat(['db', 'status'], { env: noUrl() });
    expect(next.code, next.stderr).toBe(0);
  });
});

describe('an interrupted creation of the embedded cluster', () => {
  it('is started over on the next use instead of failing on a half-made data directory', async () => {
    const other = await mkdtemp(join(tmpdir(), 'kubechat-home-'));
    await chmod(other, 0o755);
    try {
      const paths = embeddedPaths(other);
      // What a killed initdb leaves: the marker, and a data directory without a usable cluster.
      await mkdir(paths.data, { recursive: true });
      await writeFile(join(paths.data, 'PG_VERSION'), '18\n');
      await writeFile(paths.initialising, '12345\n');
      const server = await startEmbedded({ home: other, reporter: silentReporter });
      try {
        expect(existsSync(paths.initialising)).toBe(false);
        const r = await kubechat(['db', 'status', '--database-url', server.url, '--json']);
        expect(r.code).toBe(45); // a fresh, empty cluster: everything pending
      } finally {
        await server.stop();
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('migrations in bundles', () => {
  it('bundle create puts files/migrations/ in every bundle; db migrate --bundle runs them', async () => {
    const ws = await makeWorkspace();
    try {
      const spec = await ws.spec('1.0.0');
      const created = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out, '--json']);
      expect(created.code, created.stderr).toBe(0);
      const bundle = (JSON.parse(created.stdout) as { bundle: string }).bundle;
      const inspect = await kubechat(['bundle', 'inspect', bundle, '--json']);
      expect(inspect.code, inspect.stderr).toBe(0);
      const shipped = await loadMigrationDir();
      const text = inspect.stdout;
      for (const m of shipped) {
        expect(text).toContain(`files/migrations/${m.file}`);
        expect(text).toContain(m.checksum);
      }
      expect(text).toContain('kubechat:db/migrations');

      const target = await freshDatabase('kc_bundle');
      try {
        const r = await kubechat([
          'db',
          'migrate',
          '--bundle',
          bundle,
          '--database-url',
          target.url,
          '--json',
        ]);
        expect(r.code, r.stderr).toBe(0);
        const result = conforms(r.stdout, 'db-migrate') as {
          migrations: string;
          applied: Array<{ checksum: string }>;
        };
        expect(result.migrations).toBe(bundle);
        expect(result.applied.map((a) => a.checksum)).toEqual(shipped.map((m) => m.checksum));
        // The shipped set and the bundle's are the same migrations: no drift either way.
        const status = await kubechat(['db', 'status', '--database-url', target.url]);
        expect(status.code, status.stderr).toBe(0);
      } finally {
        await target.drop();
      }
    } finally {
      await rm(ws.dir, { recursive: true, force: true });
    }
  });
});
