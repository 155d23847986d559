/**
 * `kubechat install --database-url` against the real PostgreSQL on 127.0.0.1:5432 (a fresh database
 * for this file), and once with `--embedded-database`: the bundle's migrations applied, the
 * deployment, one package row per artifact really installed, models and catalog, the processing_jobs
 * journal, failures, refusals, kill -9 and resume, rollback protection through the database.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/lib/errors.js';
import { kubechat, ROOT, sh } from '../support/cli.js';
import { conforms, corruptEntry } from '../support/install-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';

/** The password in the URL: trust auth ignores it, so it only tests that it never shows up. */
const SECRET = 'pg-Secret-4e1c9';

interface Manifest {
  artifacts: {
    images: Array<{ ref: string; digest: string; size: number }>;
    charts: Array<{ ref: string; digest: string; size: number; name: string; version: string }>;
    models: Array<{ ref: string; digest: string; size: number; name: string }>;
  };
  contents: Array<{ path: string; size: number }>;
}

interface Result {
  name: string;
  version: string;
  manifestDigest: string;
  upToDate: boolean;
  journal: string | null;
  artifacts: Array<{ kind: string; status: string }>;
  bytes: { pushed: number; skipped: number };
  database: { url: string; embedded: boolean; deploymentId: string; migrationsApplied: number } | null;
}

let pg: TestDatabase;
let url: string;
let ws: Workspace;
let pub: string;
let key: string;
const bundles: Record<string, string> = {};

async function create(version: string, sources = {}, sign = true) {
  const spec = await ws.spec(version, sources);
  const r = await kubechat([
    'bundle',
    'create',
    '-f',
    spec,
    '-o',
    join(ws.dir, `out-${version}`),
    '--json',
    ...(sign ? ['--key', key] : []),
  ]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { bundle: string }).bundle;
}

async function manifestOf(bundle: string): Promise<Manifest> {
  return JSON.parse((await sh(`zstd -dc '${bundle}' | tar -xO kubechat-bundle.json`)).stdout) as Manifest;
}

async function fresh(name: string) {
  const dir = await mkdtemp(join(tmpdir(), `kubechat-install-db-${name}-`));
  return { dir, state: join(dir, 'state'), oci: join(dir, 'oci'), store: join(dir, 'ollama') };
}

type Place = Awaited<ReturnType<typeof fresh>>;
const args = (bundle: string, t: Place, extra: string[] = []) => [
  'install',
  bundle,
  '--registry',
  `oci:${t.oci}`,
  '--ollama-store',
  t.store,
  '--trusted-key',
  pub,
  '--json',
  ...extra,
];
const install = (bundle: string, t: Place, extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  kubechat(args(bundle, t, extra), {
    env: { KUBECHAT_STATE_DIR: t.state, KUBECHAT_DATABASE_URL: url, ...env },
  });

const q = async <T extends object>(sql: string, params: unknown[] = []) =>
  (await pg.pool.query<T>(sql, params)).rows;

/** Every text of the database we wrote to, for secret checks. */
async function everything(): Promise<string> {
  const tables = [
    'airgap_deployments',
    'offline_packages',
    'local_ai_models',
    'model_catalog',
    'processing_jobs',
  ];
  const all = await Promise.all(tables.map((t) => q(`SELECT * FROM ${t}`)));
  return JSON.stringify(all);
}

beforeAll(async () => {
  pg = await freshDatabase('kc_install_db');
  const u = new URL(pg.url);
  u.password = SECRET;
  url = u.toString();
  ws = await makeWorkspace();
  expect(
    (await kubechat(['keys', 'generate', '--out', join(ws.dir, 'release'), '--no-passphrase'])).code,
  ).toBe(0);
  key = join(ws.dir, 'release.key');
  pub = join(ws.dir, 'release.pub');
  bundles.v1 = await create('1.0.0');
  bundles.v2 = await create('2.0.0');
}, 240_000);

afterAll(async () => {
  await pg?.drop();
});

describe('install --database-url', () => {
  let t: Place;
  let first: Result;
  let manifest: Manifest;

  beforeAll(async () => {
    t = await fresh('records');
    manifest = await manifestOf(bundles.v1!);
    const r = await install(bundles.v1!, t);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'install');
    first = JSON.parse(r.stdout) as Result;
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  }, 120_000);

  it('applies the migrations the bundle carries and seeds the defaults', async () => {
    const shipped = manifest.contents.filter((c) => /^files\/migrations\/V\d+__\w+\.sql$/.test(c.path));
    expect(shipped.length).toBeGreaterThan(0);
    const applied = await q<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM kubechat_schema_migrations ORDER BY version',
    );
    expect(applied.length).toBe(shipped.length);
    expect(first.database?.migrationsApplied).toBe(shipped.length);
    expect((await q('SELECT 1 FROM airgap_security_config')).length).toBeGreaterThan(0);
  });

  it('records the deployment, installed, with its manifest digest and no secrets; the result names it', async () => {
    expect(first.database).toMatchObject({ embedded: false });
    expect(first.database!.url).toContain('***');
    expect(first.database!.url).not.toContain(SECRET);
    const rows = await q<{
      id: string;
      deployment_name: string;
      version: string;
      status: string;
      configuration: Record<string, unknown>;
      installed_at: Date | null;
    }>('SELECT id, deployment_name, version, status, configuration, installed_at FROM airgap_deployments');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: first.database!.deploymentId,
      deployment_name: 'demo',
      version: '1.0.0',
      status: 'installed',
    });
    expect(rows[0]!.installed_at).not.toBeNull();
    expect(rows[0]!.configuration.manifestDigest).toBe(first.manifestDigest);
    expect(first.journal).toContain('processing_jobs');
  });

  it('writes one offline_packages row per artifact: type, digest and size from the manifest', async () => {
    const rows = await q<{
      package_type: string;
      checksum: string;
      size_bytes: string;
      deployment_id: string;
    }>('SELECT package_type, checksum, size_bytes, deployment_id FROM offline_packages');
    const expected = [
      ...manifest.artifacts.images.map((a) => ({ type: 'image', ...a })),
      ...manifest.artifacts.charts.map((a) => ({ type: 'chart', ...a })),
      ...manifest.artifacts.models.map((a) => ({ type: 'model', ...a })),
    ];
    expect(rows).toHaveLength(expected.length);
    for (const e of expected) {
      const row = rows.find((r) => r.checksum === e.digest.slice(7));
      expect(row, e.ref).toBeDefined();
      expect(row!.package_type).toBe(e.type);
      expect(Number(row!.size_bytes)).toBe(e.size);
      expect(row!.deployment_id).toBe(first.database!.deploymentId);
    }
  });

  it('records each model in local_ai_models and model_catalog', async () => {
    const model = manifest.artifacts.models[0]!;
    const name = model.name.split(':')[0]!;
    const local = await q<{ model_name: string; checksum: string; status: string }>(
      'SELECT model_name, checksum, status FROM local_ai_models',
    );
    expect(local).toEqual([{ model_name: name, checksum: model.digest.slice(7), status: 'available' }]);
    const catalog = await q<{ model_name: string; version: string; checksum: string }>(
      'SELECT model_name, version, checksum FROM model_catalog',
    );
    expect(catalog).toEqual([
      { model_name: name, version: model.name.split(':')[1], checksum: model.digest.slice(7) },
    ]);
  });

  it('keeps its journal in processing_jobs, every job completed', async () => {
    const jobs = await q<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM processing_jobs GROUP BY status',
    );
    expect(jobs.map((j) => j.status)).toEqual(['completed']);
    expect(Number(jobs[0]!.n)).toBeGreaterThan(3);
    // With a database, no journal file beside the state.
    const journalDir = join(t.state, 'install');
    expect(existsSync(journalDir) ? await readdir(journalDir) : []).toEqual([]);
  });

  it('a re-run is a no-op that adds no package rows', async () => {
    const before = await q<{ n: string }>('SELECT count(*) AS n FROM offline_packages');
    const r = await install(bundles.v1!, t);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as Result;
    expect(res.upToDate).toBe(true);
    expect(res.bytes.pushed).toBe(0);
    expect(res.database?.migrationsApplied).toBe(0);
    expect(await q<{ n: string }>('SELECT count(*) AS n FROM offline_packages')).toEqual(before);
    const dep = await q<{ status: string }>('SELECT status FROM airgap_deployments WHERE id = $1', [
      res.database!.deploymentId,
    ]);
    expect(dep).toEqual([{ status: 'installed' }]);
    expect(await everything()).not.toContain(SECRET);
  });

  it('refuses rollback through the database: v2 installed, then v1 with a fresh state dir is exit 28', async () => {
    const r2 = await install(bundles.v2!, await fresh('v2'));
    expect(r2.code, r2.stderr).toBe(0);
    const deployments = (await q('SELECT 1 FROM airgap_deployments')).length;
    const other = await fresh('v1-again');
    const r1 = await install(bundles.v1!, other);
    expect(r1.code, r1.stderr + r1.stdout).toBe(ExitCode.downgrade);
    expect(r1.stdout).toContain('2.0.0');
    expect(existsSync(other.oci)).toBe(false);
    expect((await q('SELECT 1 FROM airgap_deployments')).length).toBe(deployments);
  });
});

describe('failures leave honest records', () => {
  it('an unsigned bundle is refused before the database is touched: no row, no schema', async () => {
    const db = await freshDatabase('kc_install_refused');
    try {
      const unsigned = await create('3.0.0', {}, false);
      const t = await fresh('unsigned');
      const r = await install(unsigned, t, [], { KUBECHAT_DATABASE_URL: db.url });
      expect(r.code, r.stderr).toBe(ExitCode.unsigned);
      const tables = await db.pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(tables.rows).toEqual([]);
      expect(existsSync(t.oci)).toBe(false);
    } finally {
      await db.drop();
    }
  });

  it('a corrupt model blob: deployment failed with the reason, no package row for the model', async () => {
    const db = await freshDatabase('kc_install_corrupt');
    try {
      const manifest = await manifestOf(bundles.v1!);
      // The biggest blob is the GGUF model weights.
      const blob = manifest.contents
        .filter((c) => c.path.startsWith('blobs/'))
        .sort((a, b) => b.size - a.size)[0]!;
      const bad = await corruptEntry(bundles.v1!, blob.path, ws.dir);
      const t = await fresh('corrupt');
      const r = await install(bad, t, [], { KUBECHAT_DATABASE_URL: db.url });
      expect(r.code, r.stderr).toBe(ExitCode.integrity);
      const dep = (
        await db.pool.query<{ status: string; configuration: { error?: string } }>(
          'SELECT status, configuration FROM airgap_deployments',
        )
      ).rows;
      expect(dep).toHaveLength(1);
      expect(dep[0]!.status).toBe('failed');
      expect(dep[0]!.configuration.error).toMatch(/sha256|digest|match/i);
      const packages = (
        await db.pool.query<{ package_type: string }>('SELECT package_type FROM offline_packages')
      ).rows;
      expect(packages.map((p) => p.package_type)).not.toContain('model');
      expect((await db.pool.query('SELECT 1 FROM local_ai_models')).rows).toEqual([]);
      expect(
        (await db.pool.query(`SELECT 1 FROM processing_jobs WHERE status = 'failed'`)).rows.length,
      ).toBeGreaterThan(0);
    } finally {
      await db.drop();
    }
  });

  it('kill -9 mid-install, then a re-run with the PostgreSQL journal completes', async () => {
    const db = await freshDatabase('kc_install_kill');
    try {
      const big = await create('5.0.0', { layerSize: 24 * 1024 * 1024, ggufSize: 24 * 1024 * 1024 });
      const t = await fresh('kill');
      const argv = [...args(big, t, ['--concurrency', '1'])];
      const env = { ...process.env, KUBECHAT_STATE_DIR: t.state, KUBECHAT_DATABASE_URL: db.url, CI: '1' };
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...argv], { env, stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      let killed = false;
      while (!killed && child.exitCode === null) {
        const dirs = [join(t.store, 'blobs'), join(t.oci, 'blobs', 'sha256')];
        for (const d of dirs) {
          if (!existsSync(d)) continue;
          for (const b of await readdir(d)) {
            if (b.startsWith('.')) continue;
            const s = await stat(join(d, b)).catch(() => ({ size: 0 }));
            if (s.size > 1024 * 1024) killed = true;
          }
        }
        // ...and the journal has recorded a finished job (a kill between a blob's rename and its
        // journal entry leaves nothing to resume from the journal, only from the target itself).
        if (killed) {
          const done = await db.pool.query(
            "SELECT 1 FROM processing_jobs WHERE status = 'completed' LIMIT 1",
          );
          killed = done.rowCount === 1;
        }
        if (killed) child.kill('SIGKILL');
        else await new Promise((r) => setTimeout(r, 5));
      }
      expect(killed, 'the install was still running when a large blob landed').toBe(true);
      expect(await exited).toBe(null);
      const pending = (await db.pool.query<{ status: string }>('SELECT status FROM airgap_deployments')).rows;
      expect(pending).toEqual([{ status: 'pending' }]);

      const r = kubechat(argv, { env });
      const done = await r;
      expect(done.code, done.stderr).toBe(0);
      const res = JSON.parse(done.stdout) as Result & { resumedJobs: number };
      expect(res.resumedJobs).toBeGreaterThan(0);
      expect(res.bytes.skipped).toBeGreaterThan(1024 * 1024);
      const statuses = (
        await db.pool.query<{ status: string }>('SELECT DISTINCT status FROM processing_jobs')
      ).rows.map((x) => x.status);
      expect(statuses).toEqual(['completed']);
      const deps = (
        await db.pool.query<{ status: string }>('SELECT status FROM airgap_deployments WHERE id = $1', [
          res.database!.deploymentId,
        ])
      ).rows;
      expect(deps).toEqual([{ status: 'installed' }]);
    } finally {
      await db.drop();
    }
  }, 180_000);
});

describe('Ctrl-C', () => {
  it('an interrupted install marks its deployment failed and exits 130', async () => {
    const db = await freshDatabase('kc_install_sigint');
    try {
      const big = await create('6.0.0', { layerSize: 24 * 1024 * 1024, ggufSize: 24 * 1024 * 1024 });
      const t = await fresh('sigint');
      let sent = false;
      const r = await kubechat(args(big, t, ['--concurrency', '1']), {
        env: { KUBECHAT_STATE_DIR: t.state, KUBECHAT_DATABASE_URL: db.url },
        onStderr: (text, child) => {
          // Once the stream has started (the deployment row exists by then).
          if (!sent && /Installing demo 6\.0\.0/.test(text)) {
            sent = true;
            child.kill('SIGINT');
          }
        },
      });
      expect(sent).toBe(true);
      expect(r.code, r.stderr).toBe(130);
      const rows = (
        await db.pool.query<{ status: string; configuration: { error?: string } }>(
          'SELECT status, configuration FROM airgap_deployments',
        )
      ).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.status).toBe('failed');
      expect(rows[0]!.configuration.error).toBe('interrupted');
    } finally {
      await db.drop();
    }
  }, 180_000);
});

describe('install --embedded-database', () => {
  it('creates the embedded PostgreSQL under $KUBECHAT_HOME, records the install and stops the server', async () => {
    const t = await fresh('embedded');
    const home = join(t.dir, 'home');
    // As root the embedded server runs as the postgres user, which must traverse the temp dir (0700).
    await chmod(t.dir, 0o755);
    const r = await kubechat(args(bundles.v1!, t, ['--embedded-database']), {
      env: { KUBECHAT_STATE_DIR: t.state, KUBECHAT_HOME: home, KUBECHAT_DATABASE_URL: '' },
    });
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'install');
    const res = JSON.parse(r.stdout) as Result;
    expect(res.database).toMatchObject({ embedded: true });
    expect(res.database!.deploymentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(existsSync(join(home, 'postgres', 'data', 'PG_VERSION'))).toBe(true);
    // Stopped when the command ended.
    expect(existsSync(join(home, 'postgres', 'data', 'postmaster.pid'))).toBe(false);
    // The records are there: db status on the same embedded server sees the schema up to date.
    const s = await kubechat(['db', 'status', '--json'], {
      env: { KUBECHAT_HOME: home, KUBECHAT_DATABASE_URL: '' },
    });
    expect(s.code, s.stderr).toBe(0);
    const password = (await sh(`cat '${join(home, 'postgres', 'password')}'`)).stdout.trim();
    expect(password.length).toBeGreaterThan(10);
    expect(r.stdout + r.stderr + s.stdout).not.toContain(password);
  }, 180_000);

  it('without any database option, install uses none', async () => {
    const t = await fresh('nodb');
    const r = await kubechat(args(bundles.v1!, t), {
      env: { KUBECHAT_STATE_DIR: t.state, KUBECHAT_DATABASE_URL: '' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Result).database).toBeNull();
  });
});
