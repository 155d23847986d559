/**
 * The install resume journal in PostgreSQL (`processing_jobs`): one row per job key per install
 * identity (bundle manifest digest + targets). start → running (retry_count + 1 when the key was
 * started before), complete → completed, fail → failed with the (scrubbed) error message.
 * job_data holds {install, key, artifact, manifestDigest, targets}; a unique index on
 * (job_data->>'install', job_data->>'key') keeps one row per job.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { queryError } from './connection.js';
import type { InstallJournal, JobState, JournalJob } from '../install/journal.js';
import { notMigrated, scrubText, type Queryable } from './records.js';

export type { InstallJournal, JobState, JournalJob };

/** The install identity: the bundle's manifest digest and the (order-independent) set of targets. */
export function installIdentity(manifestDigest: string, targetIds: string[]): string {
  const targets = createHash('sha256')
    .update([...targetIds].sort().join('\n'))
    .digest('hex');
  return `${manifestDigest}|${targets}`;
}

interface JobRow {
  key: string;
  job_type: string;
  artifact: string;
  status: JobState;
  retry_count: number;
  error_message: string | null;
}

export class PgInstallJournal implements InstallJournal {
  readonly identity: string;
  private closed = false;

  /** `db` stays owned by the caller: close() does not end it. */
  constructor(
    private readonly db: Queryable,
    private readonly manifestDigest: string,
    private readonly targetIds: string[],
  ) {
    this.identity = installIdentity(manifestDigest, targetIds);
  }

  async load(): Promise<Map<string, JournalJob>> {
    const { rows } = await this.run<JobRow>(
      'read the install journal',
      `SELECT job_data->>'key' AS key, job_type, job_data->>'artifact' AS artifact, status, retry_count, error_message
         FROM processing_jobs WHERE job_data ? 'install' AND job_data->>'install' = $1`,
      [this.identity],
    );
    const jobs = new Map<string, JournalJob>();
    for (const r of rows) {
      const job: JournalJob = {
        key: r.key,
        type: r.job_type,
        artifact: r.artifact,
        state: r.status,
        retries: r.retry_count,
      };
      if (r.error_message !== null) job.error = r.error_message;
      jobs.set(r.key, job);
    }
    return jobs;
  }

  async start(key: string, type: string, artifact: string): Promise<void> {
    const data = {
      install: this.identity,
      key,
      artifact,
      manifestDigest: this.manifestDigest,
      targets: this.targetIds.map(scrubText),
    };
    await this.run(
      `start job ${key}`,
      `INSERT INTO processing_jobs (job_type, job_data, status, started_at)
       VALUES ($1, $2, 'running', CURRENT_TIMESTAMP)
       ON CONFLICT ((job_data->>'install'), (job_data->>'key')) WHERE job_data ? 'install'
       DO UPDATE SET status = 'running', job_type = EXCLUDED.job_type, job_data = EXCLUDED.job_data,
                     started_at = CURRENT_TIMESTAMP, completed_at = NULL, error_message = NULL,
                     retry_count = processing_jobs.retry_count + 1`,
      [type, JSON.stringify(data)],
    );
  }

  async complete(key: string): Promise<void> {
    await this.finish(key, 'completed', null);
  }

  async fail(key: string, message: string): Promise<void> {
    await this.finish(key, 'failed', scrubText(message));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async finish(key: string, status: 'completed' | 'failed', error: string | null): Promise<void> {
    const r = await this.run(
      `${status === 'completed' ? 'complete' : 'fail'} job ${key}`,
      `UPDATE processing_jobs SET status = $3, completed_at = CURRENT_TIMESTAMP, error_message = $4
        WHERE job_data ? 'install' AND job_data->>'install' = $1 AND job_data->>'key' = $2`,
      [this.identity, key, status, error],
    );
    if (r.rowCount === 0) throw new Error(`internal: journal job ${key} was never started`);
  }

  private async run<R extends pg.QueryResultRow>(
    what: string,
    sql: string,
    params: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new Error('internal: install journal used after close');
    try {
      return await this.db.query<R>(sql, params);
    } catch (err) {
      throw notMigrated(err) ?? queryError(err, `cannot ${what}`);
    }
  }
}
