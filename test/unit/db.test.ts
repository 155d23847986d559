/** Pure parts of the database layer: history comparison, URL redaction, error mapping, migration sets. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMigrationEntry } from '../../src/db/bundle-migrations.js';
import { describeConnectError, redactUrl } from '../../src/db/connection.js';
import { compareHistory } from '../../src/db/migrate.js';
import { loadMigrationDir, migrationSet } from '../../src/db/migration-set.js';
import { scrubText } from '../../src/db/records.js';
import { loadSpec } from '../../src/bundle/spec.js';
import { planBundle } from '../../src/services/plan-bundle.js';
import { ROOT } from '../support/cli.js';
import { failure } from '../support/helpers.js';

const set = migrationSet(
  [
    { name: 'V1__one.sql', bytes: Buffer.from('select 1') },
    { name: 'V2__two.sql', bytes: Buffer.from('select 2') },
    { name: 'V3__three.sql', bytes: Buffer.from('select 3') },
  ],
  'test',
);
const row = (
  version: number,
  checksum = set.find((m) => m.version === version)?.checksum ?? 'f'.repeat(64),
) => ({
  version,
  name: `v${version}`,
  file: `V${version}__v${version}.sql`,
  checksum,
  applied_at: new Date('2026-01-01T00:00:00Z'),
  duration_ms: 5,
});

describe('compareHistory', () => {
  it('an empty database: everything pending, no problems', () => {
    const s = compareHistory([], set);
    expect(s).toMatchObject({ current: null, latest: 3, problems: [] });
    expect(s.pending.map((m) => m.version)).toEqual([1, 2, 3]);
  });

  it('partly applied: the rest pending, in order', () => {
    const s = compareHistory([row(1)], set);
    expect(s.current).toBe(1);
    expect(s.migrations.map((m) => m.state)).toEqual(['applied', 'pending', 'pending']);
  });

  it('a changed checksum is drift; a version above the known ones is "newer" and sorts first', () => {
    const s = compareHistory([row(1, '0'.repeat(64)), row(2), row(7)], set);
    expect(s.problems.map((p) => p.kind)).toEqual(['newer', 'drift', 'out-of-order']);
    expect(s.migrations.map((m) => m.state)).toEqual(['changed', 'applied', 'out-of-order', 'newer']);
    expect(s.pending).toEqual([]);
  });

  it('an applied version inside the known range but not in the set is drift ("unknown")', () => {
    const gap = set.filter((m) => m.version !== 2);
    const s = compareHistory([row(1), row(2), row(3)], gap);
    expect(s.migrations.find((m) => m.version === 2)?.state).toBe('unknown');
    expect(s.problems[0]).toMatchObject({ kind: 'drift' });
  });
});

describe('migration sets', () => {
  it('the shipped set: V001..V003, checksums of the bytes, names from the file', async () => {
    const shipped = await loadMigrationDir();
    expect(shipped.map((m) => `${m.version} ${m.name}`)).toEqual([
      '1 users',
      '2 airgap deployment',
      '3 admin tracking certificates policies',
    ]);
    expect(shipped.every((m) => /^[0-9a-f]{64}$/.test(m.checksum))).toBe(true);
  });

  it('orders by number, not text; takes the base name of bundle paths', () => {
    const s = migrationSet(
      [
        { name: 'files/migrations/V10__ten.sql', bytes: Buffer.from('') },
        { name: 'files/migrations/V9__nine.sql', bytes: Buffer.from('') },
      ],
      'bundle',
    );
    expect(s.map((m) => m.version)).toEqual([9, 10]);
  });

  it('ignores non-SQL files in a directory but refuses badly named SQL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kc-mig-'));
    await writeFile(join(dir, 'README.md'), 'notes');
    await writeFile(join(dir, 'V1__ok.sql'), 'select 1');
    expect((await loadMigrationDir(dir)).length).toBe(1);
    await writeFile(join(dir, 'add-users.sql'), 'select 1');
    expect((await failure(loadMigrationDir(dir))).exitCode).toBe(46);
  });

  it('recognises migration entries of a bundle', () => {
    expect(isMigrationEntry('files/migrations/V001__users.sql')).toBe(true);
    expect(isMigrationEntry('files/migrations/sub/V001__users.sql')).toBe(false);
    expect(isMigrationEntry('files/docs/V001__users.sql')).toBe(false);
  });

  it('bundle create refuses a spec whose files would land in files/migrations/', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kc-spec-'));
    await writeFile(join(dir, 'V9__mine.sql'), 'select 1');
    const spec = join(dir, 'spec.yaml');
    await writeFile(
      spec,
      `apiVersion: kubechat.io/v1\nkind: Bundle\nmetadata: {name: x, version: 1.0.0}\nspec:\n  files:\n    - {path: ./V9__mine.sql, target: migrations}\n`,
    );
    const err = await failure(planBundle(await loadSpec(spec)));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('files/migrations/');
  });

  it('every planned bundle carries the shipped migrations under a host-independent source', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kc-spec-'));
    const spec = join(dir, 'spec.yaml');
    await writeFile(
      spec,
      `apiVersion: kubechat.io/v1\nkind: Bundle\nmetadata: {name: x, version: 1.0.0}\nspec: {}\n`,
    );
    const plan = await planBundle(await loadSpec(spec));
    const set = plan.fileSets.find((s) => s.target === 'migrations')!;
    expect(set.source).toBe('kubechat:db/migrations');
    expect(set.files.map((f) => f.path)).toEqual([
      'files/migrations/V001__users.sql',
      'files/migrations/V002__airgap_deployment.sql',
      'files/migrations/V003__admin_tracking_certificates_policies.sql',
    ]);
    expect(set.files[0]!.source.startsWith(ROOT)).toBe(true);
  });
});

describe('secrets in URLs and messages', () => {
  it('redacts passwords (userinfo and query) and keeps the rest', () => {
    expect(redactUrl('postgres://kc:p%40ss@db:5432/kubechat?sslmode=require&password=x')).toBe(
      'postgres://kc:***@db:5432/kubechat?sslmode=require&password=***',
    );
    expect(redactUrl('postgres://kc@db/kubechat')).toBe('postgres://kc@db/kubechat');
    expect(redactUrl('not a url://u:p@h')).not.toContain(':p@');
    expect(scrubText('failed: postgres://a:b@h/x and https://u:v@r')).toBe(
      'failed: postgres://a:***@h/x and https://u:***@r',
    );
  });

  it('maps connection failures to exit codes 40-42 without the password', () => {
    const shown = 'postgres://kc:***@db.example:6543/kubechat';
    expect(describeConnectError({ code: 'ECONNREFUSED' }, shown).exitCode).toBe(40);
    expect(describeConnectError({ code: 'ENOTFOUND' }, shown).message).toContain('host db.example not found');
    expect(
      describeConnectError({ code: '28P01', message: 'password authentication failed' }, shown),
    ).toMatchObject({
      exitCode: 41,
      message: 'PostgreSQL at db.example:6543 refused the password for user "kc"',
    });
    expect(describeConnectError({ code: '3D000' }, shown)).toMatchObject({
      exitCode: 42,
      message: 'database "kubechat" does not exist on db.example:6543',
    });
    expect(
      describeConnectError(new Error('Connection terminated due to connection timeout'), shown).exitCode,
    ).toBe(40);
  });
});
