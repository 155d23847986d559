/**
 * What install writes (deployments, packages, models, catalog), the resume journal on
 * processing_jobs, rollback protection's version lookup, and seeding, against a real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/bundle/manifest.js';
import { recordInstalledArtifact, splitRef } from '../../src/db/install-records.js';
import { PgInstallJournal } from '../../src/db/journal.js';
import { migrate } from '../../src/db/migrate.js';
import { loadMigrationDir } from '../../src/db/migration-set.js';
import {
  PgVersionStore,
  DeploymentRecorder,
  highestInstalledVersion,
  recordInstalledVersion,
  scrubSecrets,
} from '../../src/db/records.js';
import { seed, SECURITY_CONFIG, SECURITY_POLICIES } from '../../src/db/seed.js';
import { failure } from '../support/helpers.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('kc_records');
  await migrate(db.pool, await loadMigrationDir());
});
afterAll(async () => {
  await db?.drop();
});

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('DeploymentRecorder', () => {
  it('records one install: pending, its packages and models, then installed; no secrets stored', async () => {
    const rec = await DeploymentRecorder.start(db.pool, {
      bundleName: 'kubechat',
      version: '1.2.0',
      deploymentType: 'full',
      configuration: {
        manifestDigest: D('a'),
        databaseUrl: 'postgres://kubechat:hunter2@db:5432/kubechat',
        registry: { url: 'https://admin:regpass@127.0.0.1:5000', password: 'regpass', insecure: false },
        adminPassword: 'Sup3rSecret!',
      },
    });
    const row = async () =>
      (
        await db.pool.query<{
          status: string;
          installed_at: Date | null;
          configuration: Record<string, unknown>;
        }>('SELECT status, installed_at, configuration FROM airgap_deployments WHERE id = $1', [rec.id])
      ).rows[0]!;
    expect((await row()).status).toBe('pending');
    const stored = JSON.stringify((await row()).configuration);
    for (const secret of ['hunter2', 'regpass', 'Sup3rSecret!']) expect(stored).not.toContain(secret);
    expect(stored).toContain('postgres://kubechat:***@db:5432/kubechat');
    expect(stored).toContain(D('a'));

    await rec.recordPackage({
      name: 'docker.io/demo/hello',
      version: '1.0',
      type: 'image',
      digest: D('b'),
      size: 1234,
    });
    await rec.recordPackage({ name: 'kubechat', version: '0.3.0', type: 'chart', digest: D('c'), size: 99 });
    await rec.recordPackage({ name: 'kubechat', version: '0.3.0', type: 'chart', digest: D('c'), size: 100 }); // again: updated
    const ids = await rec.recordModel({
      name: 'assist',
      version: '1.0',
      digest: D('d'),
      size: 5_000_000,
      family: 'llama',
      parameterSize: '1B',
      quantization: 'Q4_K_M',
      license: 'Apache-2.0\nfull text…',
    });
    await rec.finish('installed');

    const after = await row();
    expect(after.status).toBe('installed');
    expect(after.installed_at).toBeInstanceOf(Date);
    const pkgs = await db.pool.query(
      'SELECT package_name, package_version, package_type, checksum, size_bytes::int AS size FROM offline_packages WHERE deployment_id = $1 ORDER BY package_type',
      [rec.id],
    );
    expect(pkgs.rows).toEqual([
      {
        package_name: 'kubechat',
        package_version: '0.3.0',
        package_type: 'chart',
        checksum: 'c'.repeat(64),
        size: 100,
      },
      {
        package_name: 'docker.io/demo/hello',
        package_version: '1.0',
        package_type: 'image',
        checksum: 'b'.repeat(64),
        size: 1234,
      },
    ]);
    const model = await db.pool.query(
      'SELECT model_name, model_version, checksum, status, file_size::int AS size FROM local_ai_models WHERE id = $1',
      [ids.modelId],
    );
    expect(model.rows[0]).toEqual({
      model_name: 'assist',
      model_version: '1.0',
      checksum: 'd'.repeat(64),
      status: 'available',
      size: 5_000_000,
    });
    const catalog = await db.pool.query<{ license: string; metadata: Record<string, unknown> }>(
      'SELECT license, metadata FROM model_catalog WHERE id = $1',
      [ids.catalogId],
    );
    expect(catalog.rows[0]!.license).toBe('Apache-2.0');
    expect(catalog.rows[0]!.metadata).toMatchObject({
      family: 'llama',
      quantization: 'Q4_K_M',
      deploymentId: rec.id,
    });
    await expect(
      rec.recordPackage({ name: 'x', version: '1', type: 'file', digest: D('e'), size: 1 }),
    ).rejects.toThrow(/finished/);
  });

  it('a failed install keeps its reason (scrubbed) and does not count as installed', async () => {
    const rec = await DeploymentRecorder.start(db.pool, { bundleName: 'failing', version: '9.0.0' });
    await rec.finish('failed', 'push to https://u:pw123@127.0.0.1:5000 refused');
    const r = await db.pool.query<{ status: string; configuration: { error: string } }>(
      'SELECT status, configuration FROM airgap_deployments WHERE id = $1',
      [rec.id],
    );
    expect(r.rows[0]).toMatchObject({
      status: 'failed',
      configuration: { error: 'push to https://u:***@127.0.0.1:5000 refused' },
    });
    expect(await highestInstalledVersion(db.pool, 'failing')).toBeUndefined();
    const count = await db.pool.query('SELECT 1 FROM offline_packages WHERE deployment_id = $1', [rec.id]);
    expect(count.rowCount).toBe(0);
  });
});

describe("recordInstalledArtifact (install's onInstalled)", () => {
  it('turns installed images, charts and models into packages, models and catalog rows from the manifest', async () => {
    const manifest = {
      name: 'demo',
      version: '2.0.0',
      artifacts: {
        images: [{ ref: 'docker.io/demo/hello:1.0', digest: D('1'), size: 4096, platforms: ['linux/amd64'] }],
        charts: [
          {
            ref: 'charts/kubechat:0.1.0',
            name: 'kubechat',
            version: '0.1.0',
            digest: D('2'),
            size: 6952,
            images: [],
          },
        ],
        models: [
          {
            ref: 'registry.ollama.ai/library/assist:1.0',
            name: 'assist:1.0',
            digest: D('3'),
            size: 123456,
            family: 'llama',
            parameterSize: '1B',
            quantization: 'Q8_0',
            license: null,
          },
        ],
        files: [],
      },
    } as unknown as BundleManifest;
    const rec = await DeploymentRecorder.start(db.pool, { bundleName: 'demo', version: '2.0.0' });
    await recordInstalledArtifact(
      rec,
      {
        kind: 'image',
        ref: 'docker.io/demo/hello:1.0',
        digest: D('1'),
        location: '127.0.0.1:5000/demo/hello:1.0',
        targetDigest: D('1'),
      },
      manifest,
    );
    await recordInstalledArtifact(
      rec,
      {
        kind: 'chart',
        ref: 'charts/kubechat:0.1.0',
        digest: D('2'),
        location: '127.0.0.1:5000/charts/kubechat:0.1.0',
        targetDigest: D('2'),
      },
      manifest,
    );
    await recordInstalledArtifact(
      rec,
      {
        kind: 'model',
        ref: 'registry.ollama.ai/library/assist:1.0',
        digest: D('3'),
        location: 'ollama:/models assist:1.0',
        targetDigest: D('4'),
      },
      manifest,
    );
    await rec.finish('installed');
    const pkgs = await db.pool.query(
      'SELECT package_type, package_name, package_version, size_bytes::int AS size FROM offline_packages WHERE deployment_id = $1 ORDER BY package_type',
      [rec.id],
    );
    expect(pkgs.rows).toEqual([
      { package_type: 'chart', package_name: 'kubechat', package_version: '0.1.0', size: 6952 },
      { package_type: 'image', package_name: 'docker.io/demo/hello', package_version: '1.0', size: 4096 },
      { package_type: 'model', package_name: 'assist', package_version: '1.0', size: 123456 },
    ]);
    const cat = await db.pool.query<{ metadata: Record<string, unknown> }>(
      `SELECT metadata FROM model_catalog WHERE model_name = 'assist' AND version = '1.0'`,
    );
    expect(cat.rows[0]!.metadata).toMatchObject({
      quantization: 'Q8_0',
      targetDigest: D('4'),
      bundle: 'demo:2.0.0',
    });
    expect(splitRef('localhost:5000/a/b')).toEqual({ name: 'localhost:5000/a/b', version: 'latest' });
    expect(splitRef('a/b@sha256:ff')).toEqual({ name: 'a/b', version: 'sha256:ff' });
  });
});

describe('rollback protection', () => {
  it('finds the highest installed version by semver precedence, not text order', async () => {
    expect(await highestInstalledVersion(db.pool, 'rb')).toBeUndefined();
    for (const v of ['1.9.0', '1.10.0-rc.1', '1.2.0'])
      await recordInstalledVersion(db.pool, { bundleName: 'rb', version: v });
    expect(await highestInstalledVersion(db.pool, 'rb')).toBe('1.10.0-rc.1');
    await recordInstalledVersion(db.pool, { bundleName: 'rb', version: '1.10.0' });
    expect(await highestInstalledVersion(db.pool, 'rb')).toBe('1.10.0');
    // The signing policy's store interface over the same rows.
    const store = new PgVersionStore(db.pool);
    expect(await store.highest('rb')).toBe('1.10.0');
    await store.record({
      name: 'rb',
      version: '2.0.0',
      manifestDigest: D('9'),
      installedAt: '2026-11-22T01:00:00Z',
      overrides: [],
    });
    expect(await store.highest('rb')).toBe('2.0.0');
    // Recording an install DeploymentRecorder already wrote marks that row instead of adding one.
    const rec = await DeploymentRecorder.start(db.pool, {
      bundleName: 'rb2',
      version: '1.0.0',
      configuration: { manifestDigest: D('8') },
    });
    await rec.finish('installed');
    await store.record({
      name: 'rb2',
      version: '1.0.0',
      manifestDigest: D('8'),
      installedAt: '2026-11-22T01:00:00Z',
      overrides: ['allow-unsigned'],
    });
    const rows = await db.pool.query<{ configuration: { overrides: string[] } }>(
      `SELECT configuration FROM airgap_deployments WHERE deployment_name = 'rb2'`,
    );
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]!.configuration.overrides).toEqual(['allow-unsigned']);
  });
});

describe('PgInstallJournal', () => {
  it('keeps one row per job per install identity: running, completed/failed, retries counted', async () => {
    const targets = ['registry:127.0.0.1:5000', 'ollama:http://gpu1:11434'];
    const j = new PgInstallJournal(db.pool, D('f'), targets);
    expect((await j.load()).size).toBe(0);
    await j.start('blob:sha256:1', 'blob', 'demo/hello:1.0');
    await j.start('model:assist:1.0', 'model', 'assist:1.0');
    await j.complete('blob:sha256:1');
    await j.fail('model:assist:1.0', 'ollama at http://admin:tok3n@gpu1:11434 refused');
    await j.close();

    // A second run of the same install (targets in another order) sees the first one's jobs.
    const again = new PgInstallJournal(db.pool, D('f'), [...targets].reverse());
    const jobs = await again.load();
    expect(jobs.get('blob:sha256:1')).toEqual({
      key: 'blob:sha256:1',
      type: 'blob',
      artifact: 'demo/hello:1.0',
      state: 'completed',
      retries: 0,
    });
    expect(jobs.get('model:assist:1.0')).toEqual({
      key: 'model:assist:1.0',
      type: 'model',
      artifact: 'assist:1.0',
      state: 'failed',
      retries: 0,
      error: 'ollama at http://admin:***@gpu1:11434 refused',
    });
    await again.start('model:assist:1.0', 'model', 'assist:1.0');
    expect((await again.load()).get('model:assist:1.0')).toMatchObject({ state: 'running', retries: 1 });
    await again.complete('model:assist:1.0');
    expect((await again.load()).get('model:assist:1.0')).toMatchObject({ state: 'completed', retries: 1 });
    expect((await again.load()).get('model:assist:1.0')?.error).toBeUndefined();

    const rows = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM processing_jobs WHERE job_data->>'install' = $1`,
      [again.identity],
    );
    expect(rows.rows[0]!.n).toBe(2);
    const row = await db.pool.query<{
      job_data: Record<string, unknown>;
      started_at: Date;
      completed_at: Date;
    }>(
      `SELECT job_data, started_at, completed_at FROM processing_jobs WHERE job_data->>'key' = 'model:assist:1.0'`,
    );
    expect(row.rows[0]!.job_data).toMatchObject({
      key: 'model:assist:1.0',
      artifact: 'assist:1.0',
      manifestDigest: D('f'),
    });
    expect(row.rows[0]!.completed_at.getTime()).toBeGreaterThanOrEqual(row.rows[0]!.started_at.getTime());

    // Another bundle or other targets: another install, its own journal.
    expect((await new PgInstallJournal(db.pool, D('0'), targets).load()).size).toBe(0);
    expect((await new PgInstallJournal(db.pool, D('f'), ['registry:other:5000']).load()).size).toBe(0);
  });

  it('on a database that was never migrated: journal and recorder fail clearly (exit 45), no rollback floor', async () => {
    const bare = await freshDatabase('kc_bare');
    try {
      const err = await failure(new PgInstallJournal(bare.pool, D('f'), []).load());
      expect(err.exitCode).toBe(45);
      expect(err.fix).toContain('kubechat db migrate');
      // Nothing was ever installed into a database that was never migrated: no rollback floor.
      expect(await highestInstalledVersion(bare.pool, 'x')).toBeUndefined();
      expect(
        (await failure(DeploymentRecorder.start(bare.pool, { bundleName: 'x', version: '1.0.0' }))).exitCode,
      ).toBe(45);
    } finally {
      await bare.drop();
    }
  });
});

describe('seed', () => {
  it('inserts the defaults once and leaves an operator’s changes alone', async () => {
    const first = await seed(db.pool);
    expect(first.inserted).toBe(SECURITY_CONFIG.length + SECURITY_POLICIES.length);
    const tls = await db.pool.query(
      `SELECT config_value FROM airgap_security_config WHERE config_key = 'tls_min_version'`,
    );
    expect(tls.rows[0]).toEqual({ config_value: 'TLSv1.2' });
    for (const key of ['password_min_length', 'session_timeout_minutes']) {
      expect(
        (await db.pool.query('SELECT 1 FROM airgap_security_config WHERE config_key = $1', [key])).rowCount,
      ).toBe(1);
    }
    await db.pool.query(
      `UPDATE airgap_security_config SET config_value = 'TLSv1.3' WHERE config_key = 'tls_min_version'`,
    );
    await db.pool.query(`DELETE FROM offline_security_policies WHERE policy_name = 'no-egress'`);
    const second = await seed(db.pool);
    expect(second.inserted).toBe(1);
    expect(second.tables[1]).toMatchObject({ table: 'offline_security_policies', inserted: ['no-egress'] });
    const after = await db.pool.query(
      `SELECT config_value FROM airgap_security_config WHERE config_key = 'tls_min_version'`,
    );
    expect(after.rows[0]).toEqual({ config_value: 'TLSv1.3' });
    expect((await db.pool.query('SELECT 1 FROM airgap_security_config')).rowCount).toBe(
      SECURITY_CONFIG.length,
    );
  });
});

describe('scrubSecrets', () => {
  it('removes secret-looking keys and URL passwords, keeps the rest', () => {
    expect(
      scrubSecrets({
        token: 't',
        nested: [{ privateKey: 'k', url: 'http://a:b@h/x', keep: 1, insecure: true }],
        flag: false,
      }),
    ).toEqual({
      token: '***',
      nested: [{ privateKey: '***', url: 'http://a:***@h/x', keep: 1, insecure: true }],
      flag: false,
    });
  });
});
