/**
 * A validation run in the database: one `validation_reports` row (linked to the deployment of the
 * validated bundle when one is recorded) and one `airgap_tests` row per check, in one transaction,
 * so a run is recorded whole or not at all. The deployment's `last_health_check` is set too.
 * Everything stored is scrubbed of secrets first.
 */
import { scrubSecrets } from '../db/records.js';
import type { ValidationContext } from './context.js';
import type { CheckStatus, ValidationReport } from './types.js';

/** airgap_tests.test_status has no "warn": a warning passed, and test_results says it warned. */
const TEST_STATUS: Record<CheckStatus, string> = {
  pass: 'passed',
  warn: 'passed',
  fail: 'failed',
  skip: 'skipped',
};

export async function recordReport(
  ctx: ValidationContext,
  report: ValidationReport,
  validationType: string,
): Promise<NonNullable<ValidationReport['recorded']>> {
  let db;
  try {
    db = await ctx.database();
  } catch (err) {
    return {
      database: ctx.inputs.database?.shown ?? 'database',
      validationReportId: null,
      deploymentId: null,
      error: `not recorded: ${(err as Error).message.split('\n')[0]}`,
    };
  }
  const client = await db.pool.connect().catch((err: unknown) => err as Error);
  if (client instanceof Error)
    return { database: db.url, validationReportId: null, deploymentId: null, error: client.message };
  try {
    await client.query('BEGIN');
    let deploymentId: string | null = null;
    if (report.bundle) {
      const { rows } = await client.query<{ id: string }>(
        `SELECT id FROM airgap_deployments
          WHERE deployment_name = $1 AND version = $2 AND configuration->>'manifestDigest' = $3
          ORDER BY (status = 'installed') DESC, created_at DESC LIMIT 1`,
        [report.bundle.name, report.bundle.version, report.bundle.manifestDigest],
      );
      deploymentId = rows[0]?.id ?? null;
    }
    const results = scrubSecrets({
      summary: report.summary,
      failOn: report.failOn,
      exitCode: report.exitCode,
      bundle: report.bundle,
      suites: report.suites.map((s) => ({
        name: s.name,
        status: s.status,
        skipped: s.skipped,
        checks: s.checks.map((c) => ({ name: c.name, status: c.status, reason: c.reason })),
      })),
    });
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO validation_reports (deployment_id, validation_type, validation_results, passed, generated_at)
       VALUES ($1, $2, $3, $4, $5::timestamptz AT TIME ZONE 'UTC') RETURNING id`,
      [deploymentId, validationType, JSON.stringify(results), report.ok, report.startedAt],
    );
    const reportId = rows[0]!.id;
    for (const c of report.suites.flatMap((s) => s.checks)) {
      const completed = new Date(Date.parse(c.startedAt) + c.durationMs).toISOString();
      await client.query(
        `INSERT INTO airgap_tests (test_name, test_category, test_status, test_results, started_at, completed_at, duration_ms)
         VALUES ($1, $2, $3, $4, $5::timestamptz AT TIME ZONE 'UTC', $6::timestamptz AT TIME ZONE 'UTC', $7)`,
        [
          `${c.suite}: ${c.name}`.slice(0, 255),
          c.suite,
          TEST_STATUS[c.status],
          JSON.stringify(
            scrubSecrets({
              status: c.status,
              reason: c.reason,
              fix: c.fix,
              details: c.details,
              data: c.data,
              validationReportId: reportId,
              deploymentId,
            }),
          ),
          c.startedAt,
          completed,
          c.durationMs,
        ],
      );
    }
    if (deploymentId)
      await client.query(
        'UPDATE airgap_deployments SET last_health_check = CURRENT_TIMESTAMP WHERE id = $1',
        [deploymentId],
      );
    await client.query('COMMIT');
    return { database: db.url, validationReportId: reportId, deploymentId, error: null };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    return {
      database: db.url,
      validationReportId: null,
      deploymentId: null,
      error: `not recorded: ${(err as Error).message.split('\n')[0]}`,
    };
  } finally {
    client.release();
  }
}
