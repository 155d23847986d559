/**
 * `kubechat admin …` against a fresh migrated and seeded database: the built-in admin user, its
 * generated password (shown once, or only in a 0600 file), argon2id in the database, the audit rows,
 * set-password from stdin and file, and the policy from airgap_security_config. The password never
 * appears in stderr, --json or any database row.
 */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbMigrate, dbSeed } from '../../src/services/db.js';
import { kubechat, type CliResult } from '../support/cli.js';
import { conforms } from '../support/install-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
let work: string;
const passwords: string[] = [];
const outputs: CliResult[] = [];

async function admin(args: string[], stdin?: string): Promise<CliResult> {
  const r = await kubechat(['admin', ...args, '--database-url', db.url], { stdin });
  outputs.push(r);
  return r;
}

/** Every row of the tables admin writes, as text. */
async function dbText(): Promise<string> {
  const r = await db.pool.query<{ row: string }>(
    `SELECT row_to_json(u)::text AS row FROM users u
     UNION ALL SELECT row_to_json(a)::text FROM admin_password_changes a
     UNION ALL SELECT row_to_json(c)::text FROM airgap_security_config c`,
  );
  return r.rows.map((x) => x.row).join('\n');
}

beforeAll(async () => {
  db = await freshDatabase('kc_admin');
  await dbMigrate({ url: db.url });
  work = await mkdtemp(join(tmpdir(), 'kubechat-admin-'));
});

afterAll(async () => {
  await db?.drop();
});

describe('admin before the schema is there', () => {
  it('Given an unmigrated database, Then admin init exits 45 and creates nothing', async () => {
    const bare = await freshDatabase('kc_admin_bare');
    try {
      const r = await kubechat(['admin', 'init', '--database-url', bare.url]);
      expect(r.code).toBe(45);
      expect(r.stderr).toContain('db migrate');
    } finally {
      await bare.drop();
    }
  });
});

describe('admin init', () => {
  let password: string;

  it('Given no policy rows, Then it uses the defaults; the password is printed once and stored only as argon2id', async () => {
    const r = await admin(['init']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.trim());
    const i = lines.findIndex((l) => l.startsWith('password (shown once'));
    password = lines[i + 1]!;
    passwords.push(password);
    expect(password).toHaveLength(20);
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/\d/);
    expect(password).toMatch(/[^A-Za-z0-9]/);
    expect(r.stdout.split(password)).toHaveLength(2); // exactly once
    expect(r.stderr).not.toContain(password);
    const user = await db.pool.query<{
      role: string;
      is_system_user: boolean;
      password_source: string;
      password_hash: string;
    }>(`SELECT role, is_system_user, password_source, password_hash FROM users WHERE username = 'admin'`);
    expect(user.rows).toHaveLength(1);
    const u = user.rows[0]!;
    expect(u).toMatchObject({ role: 'admin', is_system_user: true, password_source: 'secret' });
    expect(u.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verify(u.password_hash, password)).toBe(true);
    const changes = await db.pool.query(`SELECT changed_via FROM admin_password_changes`);
    expect(changes.rows).toEqual([{ changed_via: 'secret_update' }]);
  });

  it('Given the admin exists, Then init exits 68 and changes nothing', async () => {
    const before = await dbText();
    const r = await admin(['init']);
    expect(r.code).toBe(68);
    expect(r.stderr).toContain('set-password');
    expect(await dbText()).toBe(before);
  });
});

describe('admin init --password-file --json', () => {
  it('Then the password goes only to the 0600 file; --json without the file is refused', async () => {
    await db.pool.query(`DELETE FROM users WHERE username = 'admin'`);
    const refused = await admin(['init', '--json']);
    expect(refused.code).toBe(3);
    expect((await db.pool.query(`SELECT 1 FROM users`)).rowCount).toBe(0);
    const file = join(work, 'admin-password');
    const r = await admin(['init', '--password-file', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'admin-init');
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    const password = (await readFile(file, 'utf8')).trimEnd();
    passwords.push(password);
    expect(password).toHaveLength(20);
    expect(r.stdout + r.stderr).not.toContain(password);
    const hash = (
      await db.pool.query<{ h: string }>(`SELECT password_hash AS h FROM users WHERE username = 'admin'`)
    ).rows[0]!.h;
    expect(await verify(hash, password)).toBe(true);
    // The file is not replaced by a later init without --force, and nothing is created then.
    await db.pool.query(`DELETE FROM users WHERE username = 'admin'`);
    const again = await admin(['init', '--password-file', file]);
    expect(again.code).toBe(8);
    expect((await db.pool.query(`SELECT 1 FROM users`)).rowCount).toBe(0);
    expect((await readFile(file, 'utf8')).trimEnd()).toBe(password);
    const recreate = await admin(['init', '--password-file', file, '--force']);
    expect(recreate.code, recreate.stderr).toBe(0);
    passwords.push((await readFile(file, 'utf8')).trimEnd());
  });
});

describe('admin set-password and check-policy', () => {
  it('Given a weak password, Then exit 67 naming the rules, never the password; the database is unchanged', async () => {
    const before = await dbText();
    const r = await admin(['set-password', '--password-stdin'], 'hunter2\n');
    expect(r.code).toBe(67);
    expect(r.stderr).toContain('shorter than 14 characters');
    expect(r.stderr).not.toContain('hunter2');
    expect(await dbText()).toBe(before);
  });

  it('Given a strong password on stdin, Then it is set (argon2id, password_source manual) and recorded as manual_change', async () => {
    const pw = 'Seven-Tigers-Dance-4ever';
    passwords.push(pw);
    const r = await admin(['set-password', '--password-stdin', '--json'], `${pw}\n`);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'admin-set-password');
    const u = (
      await db.pool.query<{ password_source: string; password_hash: string }>(
        `SELECT password_source, password_hash FROM users WHERE username = 'admin'`,
      )
    ).rows[0]!;
    expect(u.password_source).toBe('manual');
    expect(await verify(u.password_hash, pw)).toBe(true);
    const changes = await db.pool.query<{ changed_via: string }>(
      `SELECT changed_via FROM admin_password_changes ORDER BY changed_at DESC LIMIT 1`,
    );
    expect(changes.rows[0]!.changed_via).toBe('manual_change');
    const same = await admin(['set-password', '--password-stdin'], pw);
    expect(same.code).toBe(67);
    expect(same.stderr).toContain('current password');
  });

  it('Given the policy tightened in airgap_security_config, Then check-policy and set-password apply it', async () => {
    await dbSeed({ url: db.url });
    await db.pool.query(
      `UPDATE airgap_security_config SET config_value = '24' WHERE config_key = 'password_min_length'`,
    );
    const candidate = join(work, 'candidate');
    await writeFile(candidate, 'Short-But-Mixed-9\n');
    const r = await admin(['check-policy', '--password-file', candidate, '--json']);
    expect(r.code).toBe(67);
    conforms(r.stdout, 'admin-check-policy');
    const report = JSON.parse(r.stdout) as {
      policy: { minLength: number; source: string };
      admin: { passwordSource: string; expired: boolean };
      candidate: { ok: boolean; problems: string[] };
    };
    expect(report.policy).toMatchObject({ minLength: 24, source: 'database' });
    expect(report.admin).toMatchObject({ passwordSource: 'manual', expired: false });
    expect(report.candidate.problems).toEqual(['shorter than 24 characters (17)']);
    expect(r.stdout).not.toContain('Short-But-Mixed-9');
    const set = await admin(['set-password', '--password-file', candidate]);
    expect(set.code).toBe(67);
    const ok = await admin(['check-policy']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('at least 24 characters');
  });

  it('Given no admin user, Then set-password exits 68', async () => {
    await db.pool.query(`DELETE FROM users WHERE username = 'admin'`);
    const r = await admin(['set-password', '--password-stdin'], 'A-Long-Enough-Password-123456');
    expect(r.code).toBe(68);
    expect(r.stderr).toContain('admin init');
  });
});

describe('secrets', () => {
  it('Then no password reaches stderr, --json output or any database row', async () => {
    expect(passwords.length).toBeGreaterThanOrEqual(4);
    const text = await dbText();
    for (const p of passwords) {
      expect(text).not.toContain(p);
      for (const o of outputs) {
        expect(o.stderr).not.toContain(p);
        if (o.stdout.trimStart().startsWith('{')) expect(o.stdout).not.toContain(p);
      }
    }
  });
});
