/**
 * The built-in `admin` account (users: is_system_user, password_source 'secret', role admin):
 * `admin init` creates it with a generated password, `admin set-password` replaces the password,
 * `admin check-policy` shows the policy and checks a candidate. Every change is one transaction
 * with its admin_password_changes row. The password is handed back to the caller only by init
 * (to print once) and is written to a --password-file before the transaction commits, so a failure
 * leaves neither a user without a known password nor a file with a password that is not set.
 */
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { resolve } from 'node:path';
import type pg from 'pg';
import { openDatabase, queryError } from '../db/connection.js';
import { caError, dbError, describeFsError, outputError, sourceError } from '../lib/errors.js';
import { stageAtomic } from '../lib/fs.js';
import type { Reporter } from '../lib/progress.js';
import {
  DEFAULT_POLICY,
  generatePassword,
  hashPassword,
  loadPolicy,
  policyProblems,
  verifyPassword,
  type PasswordPolicy,
} from './password.js';

export const ADMIN_USER = 'admin';

export interface AdminDbOptions {
  url?: string;
  reporter?: Reporter;
}

interface Where {
  /** Redacted URL. */
  database: string;
  embedded: boolean;
}

async function withDb<T>(options: AdminDbOptions, work: (pool: pg.Pool) => Promise<T>): Promise<T & Where> {
  const db = await openDatabase({ url: options.url, reporter: options.reporter });
  try {
    const missing = await db.pool
      .query<{ t: string }>(`SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL`, [
        ['users', 'admin_password_changes', 'airgap_security_config'],
      ])
      .catch((err: unknown) => {
        throw queryError(err, 'cannot read the database schema');
      });
    if (missing.rowCount)
      throw dbError(
        'dbPending',
        `the database has no ${missing.rows.map((r) => r.t).join(', ')} table: it is not migrated`,
        'run kubechat db migrate (and db seed) first',
      );
    return { ...(await work(db.pool)), database: db.url, embedded: db.embedded };
  } finally {
    await db.close();
  }
}

async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect().catch((err: unknown) => {
    throw queryError(err, 'cannot open a database session');
  });
  try {
    await c.query('BEGIN');
    const result = await work(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const policyError = (problems: string[]) =>
  caError(
    'passwordPolicy',
    `the password does not meet the policy: ${problems.join('; ')}`,
    'choose a longer password mixing upper and lower case, digits and symbols (kubechat admin check-policy shows the rules)',
  );

export interface AdminInitResult extends Where {
  username: string;
  userId: string;
  policy: PasswordPolicy;
  /** Where the password went: the file, or null when the command prints it (never in --json). */
  passwordFile: string | null;
}

/** A temp file next to `path`, 0600, renamed into place by `commit()`. */
async function stagePasswordFile(path: string, password: string, force: boolean) {
  // Ctrl-C before the commit removes the temp file (lib/fs.ts): the password file must not outlive
  // a user that was never created.
  const staged = await stageAtomic(path, password + '\n', { mode: 0o600 }).catch((err: unknown) => {
    throw describeFsError(err, path, 'write') ?? outputError(`${path}: cannot write`, undefined, err);
  });
  const exists = await readFile(path).then(
    () => true,
    () => false,
  );
  if (exists && !force) {
    await staged.abort();
    throw outputError(
      `${path} already exists`,
      'choose another {flag:password-file}, or pass {flag:force} to replace it',
    );
  }
  return {
    commit: () =>
      staged.commit().catch((err: unknown) => {
        throw describeFsError(err, path, 'write') ?? outputError(`${path}: cannot write`, undefined, err);
      }),
    abort: () => staged.abort(),
  };
}

/**
 * Creates the admin user with a generated password. Returns the password separately from the
 * result, so that nothing serialising the result can leak it.
 */
export async function adminInit(
  options: AdminDbOptions & { passwordFile?: string; force?: boolean },
): Promise<{ result: AdminInitResult; password: string }> {
  let password = '';
  const result = await withDb(options, async (pool) => {
    const policy = await loadPolicy(pool).catch((err: unknown) => {
      throw queryError(err, 'cannot read the password policy');
    });
    const existing = await pool.query(`SELECT 1 FROM users WHERE username = $1`, [ADMIN_USER]);
    if (existing.rowCount)
      throw caError(
        'adminState',
        `the ${ADMIN_USER} user already exists`,
        'kubechat admin set-password replaces its password',
      );
    password = generatePassword(policy);
    const problems = policyProblems(password, policy);
    if (problems.length) throw policyError(problems); // a policy no generated password can meet
    const phc = await hashPassword(password);
    const file = options.passwordFile ? resolve(options.passwordFile) : undefined;
    const staged = file ? await stagePasswordFile(file, password, options.force ?? false) : undefined;
    try {
      const userId = await inTransaction(pool, async (c) => {
        const user = await c
          .query<{ id: string }>(
            `INSERT INTO users (username, password_hash, role, is_system_user, password_source)
             VALUES ($1, $2, 'admin', true, 'secret') RETURNING id`,
            [ADMIN_USER, phc],
          )
          .catch((err: unknown) => {
            if ((err as { code?: string }).code === '23505')
              throw caError(
                'adminState',
                `the ${ADMIN_USER} user already exists`,
                'kubechat admin set-password replaces its password',
              );
            throw queryError(err, 'cannot create the admin user');
          });
        const id = user.rows[0]!.id;
        await c
          .query(
            `INSERT INTO admin_password_changes (user_id, changed_via, user_agent) VALUES ($1, 'secret_update', $2)`,
            [id, 'kubechat admin init'],
          )
          .catch((err: unknown) => {
            throw queryError(err, 'cannot record the password change');
          });
        await staged?.commit();
        return id;
      });
      return { username: ADMIN_USER, userId, policy, passwordFile: file ?? null };
    } finally {
      await staged?.abort();
    }
  });
  return { result, password };
}

/** A password from a file (one trailing newline dropped) or from standard input. */
export async function readPasswordInput(source: {
  file?: string;
  stdin?: NodeJS.ReadableStream;
}): Promise<string> {
  let text: string;
  if (source.file) {
    text = await readFile(source.file, 'utf8').catch((err: unknown) => {
      throw (
        describeFsError(err, source.file!, 'read') ??
        sourceError(`${source.file}: cannot read`, 'check the path', err)
      );
    });
  } else if (source.stdin) {
    text = (await buffer(source.stdin)).toString('utf8');
  } else {
    throw caError(
      'passwordPolicy',
      'no password given',
      'pass {flag:password-file} FILE or {flag:password-stdin}',
    );
  }
  const password = text.replace(/\r?\n$/, '');
  if (!password)
    throw caError(
      'passwordPolicy',
      'the password given is empty',
      'put the password in the file or on standard input',
    );
  return password;
}

export interface SetPasswordResult extends Where {
  username: string;
  userId: string;
  changedVia: 'manual_change';
}

export async function adminSetPassword(
  options: AdminDbOptions & { password: string },
): Promise<SetPasswordResult> {
  return withDb(options, async (pool) => {
    const policy = await loadPolicy(pool).catch((err: unknown) => {
      throw queryError(err, 'cannot read the password policy');
    });
    const problems = policyProblems(options.password, policy);
    if (problems.length) throw policyError(problems);
    const phc = await hashPassword(options.password);
    const userId = await inTransaction(pool, async (c) => {
      const user = await c.query<{ id: string; password_hash: string }>(
        `SELECT id, password_hash FROM users WHERE username = $1 FOR UPDATE`,
        [ADMIN_USER],
      );
      const row = user.rows[0];
      if (!row)
        throw caError('adminState', `there is no ${ADMIN_USER} user`, 'run kubechat admin init first');
      if (await verifyPassword(row.password_hash, options.password))
        throw policyError(['it is the current password']);
      await c.query(
        `UPDATE users SET password_hash = $2, password_source = 'manual', updated_at = CURRENT_TIMESTAMP WHERE id = $1`,
        [row.id, phc],
      );
      await c.query(
        `INSERT INTO admin_password_changes (user_id, changed_via, user_agent) VALUES ($1, 'manual_change', $2)`,
        [row.id, 'kubechat admin set-password'],
      );
      return row.id;
    });
    return { username: ADMIN_USER, userId, changedVia: 'manual_change' as const };
  });
}

export interface CheckPolicyResult extends Where {
  policy: PasswordPolicy;
  admin: null | {
    passwordSource: string;
    lastChanged: string | null;
    /** Days since the last change, against password_max_age_days. */
    ageDays: number | null;
    expired: boolean;
  };
  /** null when no candidate password was given. */
  candidate: null | { ok: boolean; problems: string[] };
}

export async function adminCheckPolicy(
  options: AdminDbOptions & { password?: string; now?: Date },
): Promise<CheckPolicyResult> {
  const now = options.now ?? new Date();
  return withDb(options, async (pool) => {
    const policy = await loadPolicy(pool).catch(() => DEFAULT_POLICY);
    const user = await pool.query<{ password_source: string; changed: Date | null }>(
      `SELECT u.password_source,
              COALESCE((SELECT max(changed_at) FROM admin_password_changes p WHERE p.user_id = u.id), u.updated_at) AS changed
         FROM users u WHERE u.username = $1`,
      [ADMIN_USER],
    );
    const row = user.rows[0];
    const ageDays = row?.changed ? Math.floor((now.getTime() - row.changed.getTime()) / 86_400_000) : null;
    return {
      policy,
      admin: row
        ? {
            passwordSource: row.password_source,
            lastChanged: row.changed?.toISOString() ?? null,
            ageDays,
            expired: ageDays !== null && ageDays > policy.maxAgeDays,
          }
        : null,
      candidate:
        options.password === undefined
          ? null
          : (() => {
              const problems = policyProblems(options.password, policy);
              return { ok: problems.length === 0, problems };
            })(),
    };
  });
}
