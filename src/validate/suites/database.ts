/**
 * `database`: PostgreSQL answers, the schema is at the head of the migrations (the bundle's when it
 * carries them, else this kubechat's) with no drift, every table those migrations create exists,
 * and the deployment of the validated bundle is recorded as installed with its artifacts.
 */
import { loadBundleMigrations } from '../../db/bundle-migrations.js';
import { inspectSchema } from '../../db/migrate.js';
import { loadMigrationDir, type Migration } from '../../db/migration-set.js';
import type { Suite, ValidationContext } from '../context.js';
import { fail, pass, skip, type Outcome } from '../types.js';

/** The migration set the database is compared with: the bundle's own, else the shipped one. */
async function migrations(ctx: ValidationContext): Promise<{ set: Migration[]; source: string }> {
  if (ctx.inputs.bundlePath) {
    const set = await loadBundleMigrations(ctx.inputs.bundlePath);
    if (set.length) return { set, source: `the bundle's migrations` };
  }
  return { set: await loadMigrationDir(), source: `this kubechat's migrations` };
}

/** Tables the migrations create (`CREATE TABLE [IF NOT EXISTS] name`), in order. */
export function tablesCreatedBy(set: Migration[]): string[] {
  const names = new Set<string>();
  const re = /\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"?public"?\.)?"?([a-z_][a-z0-9_]*)"?/gi;
  for (const m of set) {
    const sql = m.sql.replace(/--[^\n]*/g, '');
    for (let x = re.exec(sql); x; x = re.exec(sql)) names.add(x[1]!.toLowerCase());
  }
  return [...names];
}

async function reachable(ctx: ValidationContext): Promise<Outcome> {
  const db = await ctx.database();
  const { rows } = await db.pool.query<{ v: string }>('SHOW server_version');
  return pass(`${db.url} answers (PostgreSQL ${rows[0]?.v ?? '?'})`, {
    data: { embedded: db.embedded, serverVersion: rows[0]?.v ?? null },
  });
}

async function schema(ctx: ValidationContext): Promise<Outcome> {
  const db = await ctx.database();
  const { set, source } = await migrations(ctx);
  const s = await inspectSchema(db.pool, set);
  const data = { current: s.current, latest: s.latest, pending: s.pending.length };
  if (s.problems.length)
    return fail(
      `schema drift: ${s.problems[0]!.message}${s.problems.length > 1 ? ` (and ${s.problems.length - 1} more)` : ''}`,
      'restore the migrations this database was migrated with; kubechat db status shows each; db repair accepts a reviewed edit',
      { details: s.problems.map((p) => p.message), data },
    );
  if (s.pending.length)
    return fail(
      s.current === null
        ? `the database was never migrated (${set.length} migrations pending)`
        : `at V${s.current}, ${s.pending.length} migration(s) pending (head V${s.latest})`,
      'kubechat db migrate (or install the bundle again)',
      { details: s.pending.map((m) => `pending: ${m.file}`), data },
    );
  return pass(`at V${s.current}, the head of ${source}, no drift`, { data });
}

async function tables(ctx: ValidationContext): Promise<Outcome> {
  const db = await ctx.database();
  const { set } = await migrations(ctx);
  const wanted = tablesCreatedBy(set);
  const { rows } = await db.pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  const present = new Set(rows.map((r) => r.table_name));
  const missing = wanted.filter((t) => !present.has(t));
  if (missing.length)
    return fail(
      `${missing.length} of ${wanted.length} tables missing: ${missing.join(', ')}`,
      'restore the database from a backup; the migration history says they exist, so db migrate will not recreate them',
      { details: missing.map((t) => `missing table ${t}`) },
    );
  return pass(`all ${wanted.length} tables of the schema present`);
}

interface DeploymentRow {
  id: string;
  status: string;
  installed_at: Date | null;
  configuration: { manifestDigest?: string; error?: string } | null;
}

async function deployment(ctx: ValidationContext): Promise<Outcome> {
  if (!ctx.inputs.bundlePath) return skip('no --bundle given: no deployment to look for');
  const db = await ctx.database();
  const bundle = await ctx.bundle();
  const { name, version } = bundle.manifest;
  const { rows } = await db.pool.query<DeploymentRow>(
    `SELECT id, status, installed_at, configuration FROM airgap_deployments
      WHERE deployment_name = $1 AND version = $2
      ORDER BY (status = 'installed') DESC, created_at DESC`,
    [name, version],
  );
  const same = rows.filter((r) => r.configuration?.manifestDigest === bundle.manifestDigest);
  const installed = same.find((r) => r.status === 'installed');
  if (!installed) {
    if (rows.length && !same.length)
      return fail(
        `${name} ${version} is recorded with another manifest (${rows[0]!.configuration?.manifestDigest ?? 'none'}), not ${bundle.manifestDigest}`,
        'the installed bundle is not this one: validate the bundle that was installed, or install this one',
      );
    const last = same[0];
    return fail(
      last
        ? `${name} ${version}: the last install is ${last.status}${last.configuration?.error ? ` (${last.configuration.error})` : ''}`
        : `no install of ${name} ${version} is recorded in airgap_deployments`,
      `kubechat install ${ctx.inputs.bundlePath} with this {flag:database-url}`,
    );
  }
  // Every artifact of the bundle was recorded by some install of it (a re-run adds no rows).
  const digests = [
    ...bundle.manifest.artifacts.images.map((i) => i.digest),
    ...bundle.manifest.artifacts.charts.map((c) => c.digest),
    ...bundle.manifest.artifacts.models.map((m) => m.digest),
  ].map((d) => d.replace(/^sha256:/, ''));
  const { rows: packages } = await db.pool.query<{ checksum: string }>(
    `SELECT DISTINCT p.checksum FROM offline_packages p JOIN airgap_deployments d ON d.id = p.deployment_id
      WHERE d.deployment_name = $1 AND p.checksum = ANY($2::text[])`,
    [name, digests],
  );
  const recorded = new Set(packages.map((p) => p.checksum));
  const unrecorded = digests.filter((d) => !recorded.has(d));
  const data = { deploymentId: installed.id, installedAt: installed.installed_at?.toISOString() ?? null };
  if (unrecorded.length)
    return fail(
      `${name} ${version} is installed (deployment ${installed.id}) but ${unrecorded.length} of its artifacts have no offline_packages row`,
      `kubechat install ${ctx.inputs.bundlePath} again with this {flag:database-url}`,
      { details: unrecorded.map((d) => `no package row for sha256:${d}`), data },
    );
  return pass(
    `${name} ${version} installed (deployment ${installed.id}), ${digests.length} artifacts recorded`,
    {
      data,
    },
  );
}

export const databaseSuite: Suite = {
  name: 'database',
  missing: (i) => (i.database ? undefined : 'no --database-url or --embedded-database given'),
  checks: (ctx) =>
    Promise.resolve([
      { name: 'reachable', run: () => reachable(ctx) },
      { name: 'migrations', run: () => schema(ctx) },
      { name: 'tables', run: () => tables(ctx) },
      { name: 'deployment', run: () => deployment(ctx) },
    ]),
};
