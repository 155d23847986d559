/**
 * Default rows: the security configuration (password policy, sessions, TLS) and the offline
 * security policies. Idempotent: existing rows are left as they are, so an operator's changes
 * survive a re-seed; the result says what was inserted and what already existed.
 */
import type pg from 'pg';
import { dbError } from '../lib/errors.js';
import { queryError } from './connection.js';

export const SECURITY_CONFIG: Array<{ key: string; value: string; description: string }> = [
  { key: 'password_min_length', value: '14', description: 'Minimum password length (NIST SP 800-63B)' },
  {
    key: 'password_require_classes',
    value: '3',
    description: 'Character classes required of 4 (upper, lower, digit, symbol)',
  },
  { key: 'password_max_age_days', value: '90', description: 'Days before a password must be changed' },
  { key: 'password_history', value: '5', description: 'Earlier passwords that may not be reused' },
  { key: 'login_max_attempts', value: '5', description: 'Failed logins before the account is locked' },
  { key: 'login_lockout_minutes', value: '15', description: 'Minutes an account stays locked' },
  { key: 'session_timeout_minutes', value: '30', description: 'Idle minutes before a session ends' },
  { key: 'session_max_hours', value: '12', description: 'Hours after which any session ends' },
  { key: 'tls_min_version', value: 'TLSv1.2', description: 'Lowest TLS version servers accept' },
];

export const SECURITY_POLICIES: Array<{
  name: string;
  type: string;
  level: 'enforce' | 'warn' | 'audit';
  rules: Record<string, unknown>;
}> = [
  {
    name: 'no-egress',
    type: 'network',
    level: 'enforce',
    rules: { allowEgress: false, allow: ['loopback', 'cluster', 'operator-named hosts'] },
  },
  {
    name: 'signed-bundles-only',
    type: 'supply-chain',
    level: 'enforce',
    rules: { requireSignature: true, refuseExpired: true, refuseRollback: true },
  },
  {
    name: 'local-registry-only',
    type: 'images',
    level: 'enforce',
    rules: { allowedRegistries: ['local'], requireDigest: true },
  },
  {
    name: 'model-provenance',
    type: 'models',
    level: 'enforce',
    rules: { requireCatalogEntry: true, verifyChecksum: true },
  },
  {
    name: 'password-policy',
    type: 'authentication',
    level: 'enforce',
    rules: { source: 'airgap_security_config', keys: ['password_min_length', 'password_require_classes'] },
  },
  {
    name: 'audit-admin-actions',
    type: 'audit',
    level: 'audit',
    rules: { record: ['admin_password_changes', 'airgap_deployments'] },
  },
];

export interface SeedResult {
  tables: Array<{ table: string; inserted: string[]; existing: string[] }>;
  inserted: number;
}

export async function seed(pool: pg.Pool): Promise<SeedResult> {
  const client = await pool.connect().catch((err: unknown) => {
    throw queryError(err, 'cannot open a database session');
  });
  try {
    const missing = await client.query<{ t: string }>(
      `SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL`,
      [['airgap_security_config', 'offline_security_policies']],
    );
    if (missing.rowCount) {
      throw dbError(
        'dbPending',
        `the database has no ${missing.rows.map((r) => r.t).join(', ')} table: it is not migrated`,
        'run kubechat db migrate first',
      );
    }
    await client.query('BEGIN');
    const config = await client.query<{ config_key: string }>(
      `INSERT INTO airgap_security_config (config_key, config_value, description)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (config_key) DO NOTHING RETURNING config_key`,
      [
        SECURITY_CONFIG.map((c) => c.key),
        SECURITY_CONFIG.map((c) => c.value),
        SECURITY_CONFIG.map((c) => c.description),
      ],
    );
    const policies = await client.query<{ policy_name: string }>(
      `INSERT INTO offline_security_policies (policy_name, policy_type, policy_rules, enforcement_level)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
       ON CONFLICT (policy_name) DO NOTHING RETURNING policy_name`,
      [
        SECURITY_POLICIES.map((p) => p.name),
        SECURITY_POLICIES.map((p) => p.type),
        SECURITY_POLICIES.map((p) => JSON.stringify(p.rules)),
        SECURITY_POLICIES.map((p) => p.level),
      ],
    );
    await client.query('COMMIT');
    const split = (all: string[], inserted: string[]) => ({
      inserted: all.filter((k) => inserted.includes(k)),
      existing: all.filter((k) => !inserted.includes(k)),
    });
    const tables = [
      {
        table: 'airgap_security_config',
        ...split(
          SECURITY_CONFIG.map((c) => c.key),
          config.rows.map((r) => r.config_key),
        ),
      },
      {
        table: 'offline_security_policies',
        ...split(
          SECURITY_POLICIES.map((p) => p.name),
          policies.rows.map((r) => r.policy_name),
        ),
      },
    ];
    return { tables, inserted: tables.reduce((n, t) => n + t.inserted.length, 0) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw queryError(err, 'cannot seed the database');
  } finally {
    client.release();
  }
}
