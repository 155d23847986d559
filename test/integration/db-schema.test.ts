/**
 * The migrated schema against the epics' column lists (test/fixtures/schema-requirements.sql, a copy
 * of the product's requirements), read back through information_schema like `psql \d` shows it:
 * every column's type, length, nullability and default, primary keys, references and unique keys.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { loadMigrationDir } from '../../src/db/migration-set.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

interface SpecColumn {
  table: string;
  column: string;
  type: string;
  length: number | null;
  precision: [number, number] | null;
  nullable: boolean;
  default: string | null;
  references: string | null;
  unique: boolean;
}

/** Parses the requirement file's CREATE TABLE and ALTER TABLE … ADD COLUMN lines. */
function parseRequirements(sql: string): { columns: SpecColumn[]; uniques: Map<string, string[][]> } {
  const columns: SpecColumn[] = [];
  const uniques = new Map<string, string[][]>();
  let table: string | undefined;
  const parseColumn = (t: string, def: string) => {
    const m =
      /^(\w+)\s+(UUID|VARCHAR\((\d+)\)|TEXT|JSONB|TIMESTAMP|BIGINT|BIGSERIAL|INTEGER|BOOLEAN|DECIMAL\((\d+),(\d+)\))(.*)$/i.exec(
        def.trim().replace(/,$/, ''),
      );
    if (!m) throw new Error(`cannot parse column: ${def}`);
    const rest = m[6]!.replace(/--.*$/, '');
    const base = m[2]!.toUpperCase().replace(/\(.*/, '');
    const type = {
      UUID: 'uuid',
      VARCHAR: 'character varying',
      TEXT: 'text',
      JSONB: 'jsonb',
      TIMESTAMP: 'timestamp without time zone',
      BIGINT: 'bigint',
      BIGSERIAL: 'bigint',
      INTEGER: 'integer',
      BOOLEAN: 'boolean',
      DECIMAL: 'numeric',
    }[base]!;
    const d = /DEFAULT\s+('[^']*'|[\w()]+)/i.exec(rest)?.[1];
    let dflt: string | null = null;
    if (base === 'BIGSERIAL') dflt = `nextval('${t}_${m[1]}_seq'::regclass)`;
    else if (d?.startsWith("'")) dflt = `${d}::character varying`;
    else if (d) dflt = d;
    const ref = /REFERENCES\s+(\w+)\s*\(\s*(\w+)\s*\)/i.exec(rest);
    columns.push({
      table: t,
      column: m[1]!,
      type,
      length: m[3] ? Number(m[3]) : null,
      precision: m[4] ? [Number(m[4]), Number(m[5])] : null,
      nullable: !/NOT NULL|PRIMARY KEY/i.test(rest) && base !== 'BIGSERIAL',
      default: dflt,
      references: ref ? `${ref[1]}.${ref[2]}` : null,
      unique: /\bUNIQUE\b/i.test(rest),
    });
  };
  for (const raw of sql.split('\n')) {
    const line = raw.trim();
    const create = /^CREATE TABLE (\w+)/i.exec(line);
    const alter = /^ALTER TABLE (\w+) ADD COLUMN (.*);/i.exec(line);
    if (create) table = create[1];
    else if (alter) parseColumn(alter[1]!, alter[2]!);
    else if (line.startsWith(')')) table = undefined;
    else if (table && /^UNIQUE\s*\(/i.test(line)) {
      const cols = /\(([^)]*)\)/
        .exec(line)![1]!
        .split(',')
        .map((c) => c.trim());
      uniques.set(table, [...(uniques.get(table) ?? []), cols]);
    } else if (table && /^\w+\s/.test(line) && !line.startsWith('--')) parseColumn(table, line);
  }
  return { columns, uniques };
}

const requirements = parseRequirements(
  readFileSync(new URL('../fixtures/schema-requirements.sql', import.meta.url), 'utf8'),
);
const TABLES = [
  'users',
  'airgap_deployments',
  'offline_packages',
  'local_ai_models',
  'ai_inference_logs',
  'model_catalog',
  'model_distributions',
  'local_cache',
  'processing_jobs',
  'airgap_certificates',
  'airgap_security_config',
  'local_certificates',
  'offline_security_policies',
  'resource_allocations',
  'performance_metrics',
  'offline_documentation',
  'help_interactions',
  'airgap_tests',
  'validation_reports',
  'admin_password_changes',
];

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase('kc_schema');
  await migrate(db.pool, await loadMigrationDir());
});
afterAll(async () => {
  await db?.drop();
});

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  character_maximum_length: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
}

async function columns(): Promise<Map<string, ColumnRow>> {
  const { rows } = await db.pool.query<ColumnRow>(
    `SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,
            is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public'`,
  );
  return new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r]));
}

async function constraints(type: 'PRIMARY KEY' | 'UNIQUE' | 'FOREIGN KEY') {
  const { rows } = await db.pool.query<{ table_name: string; columns: string[]; ref: string | null }>(
    `SELECT tc.table_name, array_agg(kcu.column_name::text ORDER BY kcu.ordinal_position) AS columns,
            (SELECT min(ccu.table_name || '.' || ccu.column_name) FROM information_schema.constraint_column_usage ccu
              WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.constraint_name = tc.constraint_name
                AND ccu.table_schema = tc.table_schema) AS ref
       FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu
         ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
      WHERE tc.table_schema = 'public' AND tc.constraint_type = $1
      GROUP BY tc.table_name, tc.constraint_name, tc.constraint_type, tc.table_schema`,
    [type],
  );
  return rows;
}

describe('the migrated schema', () => {
  it('has every table the epics specify, plus the migration history', async () => {
    const { rows } = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(rows.map((r) => r.table_name).sort()).toEqual([...TABLES, 'kubechat_schema_migrations'].sort());
    // Every table of the requirements is one of them (the parser saw them all).
    expect(new Set(requirements.columns.map((c) => c.table))).toEqual(
      new Set(TABLES.filter((t) => t !== 'users')).add('users'),
    );
  });

  it('has every specified column with its type, length, nullability and default', async () => {
    const actual = await columns();
    expect(requirements.columns.length).toBeGreaterThan(150);
    for (const spec of requirements.columns) {
      const key = `${spec.table}.${spec.column}`;
      const col = actual.get(key);
      expect(col, key).toBeDefined();
      expect({ key, type: col!.data_type }).toEqual({ key, type: spec.type });
      if (spec.length !== null)
        expect({ key, len: col!.character_maximum_length }).toEqual({ key, len: spec.length });
      if (spec.precision) {
        expect({ key, p: [col!.numeric_precision, col!.numeric_scale] }).toEqual({ key, p: spec.precision });
      }
      expect({ key, nullable: col!.is_nullable }).toEqual({ key, nullable: spec.nullable ? 'YES' : 'NO' });
      expect({ key, default: col!.column_default }).toEqual({ key, default: spec.default });
    }
  });

  it('gives users the baseline columns (id UUID key, unique username, password_hash, role, created_at)', async () => {
    const actual = await columns();
    expect(actual.get('users.id')).toMatchObject({ data_type: 'uuid', column_default: 'gen_random_uuid()' });
    expect(actual.get('users.username')).toMatchObject({ data_type: 'character varying', is_nullable: 'NO' });
    expect(actual.get('users.password_hash')).toMatchObject({ data_type: 'text', is_nullable: 'NO' });
    expect(actual.get('users.role')).toMatchObject({ is_nullable: 'NO' });
    expect(actual.get('users.created_at')).toMatchObject({ data_type: 'timestamp without time zone' });
    const uniques = await constraints('UNIQUE');
    expect(uniques).toContainEqual(expect.objectContaining({ table_name: 'users', columns: ['username'] }));
  });

  it('has a primary key on id in every table', async () => {
    const pks = await constraints('PRIMARY KEY');
    for (const t of TABLES) expect(pks, t).toContainEqual({ table_name: t, columns: ['id'], ref: null });
  });

  it('has every specified reference and unique key', async () => {
    const fks = await constraints('FOREIGN KEY');
    for (const spec of requirements.columns.filter((c) => c.references)) {
      expect(fks, `${spec.table}.${spec.column}`).toContainEqual({
        table_name: spec.table,
        columns: [spec.column],
        ref: spec.references,
      });
    }
    const uniques = await constraints('UNIQUE');
    for (const spec of requirements.columns.filter((c) => c.unique)) {
      expect(uniques).toContainEqual(
        expect.objectContaining({ table_name: spec.table, columns: [spec.column] }),
      );
    }
    for (const [table, sets] of requirements.uniques) {
      for (const cols of sets)
        expect(uniques).toContainEqual(expect.objectContaining({ table_name: table, columns: cols }));
    }
    expect(uniques).toContainEqual(
      expect.objectContaining({ table_name: 'model_catalog', columns: ['model_name', 'version'] }),
    );
  });

  it('refuses rows the product must never hold', async () => {
    const bad = (sql: string, params: unknown[] = []) =>
      db.pool.query(sql, params).then(
        () => 'accepted',
        (e: { code?: string }) => e.code,
      );
    expect(
      await bad(
        `INSERT INTO offline_packages (package_name, package_version, package_type) VALUES ('x', '1', 'tarball')`,
      ),
    ).toBe('23514');
    expect(await bad(`INSERT INTO processing_jobs (job_type, status) VALUES ('x', 'exploded')`)).toBe(
      '23514',
    );
    expect(await bad(`INSERT INTO processing_jobs (job_type, retry_count) VALUES ('x', -1)`)).toBe('23514');
    expect(
      await bad(
        `INSERT INTO local_certificates (certificate_name, pem_data, valid_from, valid_until) VALUES ('c', '-----BEGIN PRIVATE KEY-----', now(), now() + interval '1 day')`,
      ),
    ).toBe('23514');
    expect(await bad(`INSERT INTO model_catalog (model_name, version) VALUES ('m', '1'), ('m', '1')`)).toBe(
      '23505',
    );
    expect(
      await bad(`INSERT INTO ai_inference_logs (query_text, model_id) VALUES ('q', gen_random_uuid())`),
    ).toBe('23503');
  });

  it('reads back with psql \\d, a tool kubechat did not write', () => {
    const out = execFileSync('psql', [db.url, '-X', '-c', '\\d processing_jobs'], { encoding: 'utf8' });
    expect(out).toMatch(/job_type\s+\|\s+character varying\(100\)\s+\|\s+\|\s+not null/);
    expect(out).toMatch(/retry_count\s+\|\s+integer\s+\|\s+\|\s+\|\s+0/);
    expect(out).toContain('processing_jobs_install_key_idx');
  });
});
