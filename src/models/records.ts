/**
 * What `kubechat models` records when a database is named (--database-url / KUBECHAT_DATABASE_URL):
 * model state in `local_ai_models` (available, loaded, retired), one `model_distributions` row per
 * model and node an import or rollback touched (completed or failed), and benchmark results in
 * `performance_metrics` (one row per figure) and `ai_inference_logs` (one row per request).
 * Names follow install's records: model_name "assist", version "1.0" for assist:1.0.
 * Only work that happened is recorded, and no URL password ever reaches a row (scrubText).
 */
import { openDatabase, queryError, type Database } from '../db/connection.js';
import { notMigrated, scrubText, type Queryable } from '../db/records.js';
import { splitRef } from '../db/install-records.js';
import type { BenchRequest, BenchSummary } from './bench.js';

export type ModelStatus = 'available' | 'loaded' | 'retired';

export class ModelRecords {
  private constructor(
    private readonly db: Database,
    readonly url: string,
  ) {}

  static async open(url: string): Promise<ModelRecords> {
    const db = await openDatabase({ url });
    const r = new ModelRecords(db, db.url);
    try {
      await db.pool.query('SELECT 1 FROM local_ai_models LIMIT 0');
    } catch (err) {
      await db.close();
      throw notMigrated(err) ?? queryError(err, 'cannot read local_ai_models');
    }
    return r;
  }

  get pool(): Queryable {
    return this.db.pool;
  }

  /** `model_distributions` for the catalog entry of `display` (assist:1.0); none when the model was never cataloged. */
  async distribution(
    display: string,
    method: string,
    where: string,
    status: 'completed' | 'failed',
  ): Promise<boolean> {
    const { name, version } = splitRef(display);
    try {
      const r = await this.db.pool.query(
        `INSERT INTO model_distributions (catalog_id, distribution_method, package_path, distribution_status)
         SELECT id, $3, $4, $5 FROM model_catalog WHERE model_name = $1 AND version = $2`,
        [name, version, method, scrubText(where), status],
      );
      return (r.rowCount ?? 0) > 0;
    } catch (err) {
      throw queryError(err, `cannot record the distribution of ${display}`);
    }
  }

  /** Sets the status of a model already in local_ai_models (a load sets loaded_at and counts a use). */
  async setStatus(display: string, status: ModelStatus): Promise<void> {
    const { name, version } = splitRef(display);
    try {
      await this.db.pool.query(
        `UPDATE local_ai_models
            SET status = $3::text,
                loaded_at = CASE WHEN $3::text = 'loaded' THEN CURRENT_TIMESTAMP ELSE loaded_at END
          WHERE model_name = $1 AND model_version = $2`,
        [name, version, status],
      );
    } catch (err) {
      throw queryError(err, `cannot record the status of ${display}`);
    }
  }

  /** Benchmark figures and per-request logs, in one transaction. */
  async bench(
    display: string,
    node: string,
    prompt: string,
    summary: BenchSummary,
    results: BenchRequest[],
  ): Promise<{ metrics: number; logs: number }> {
    const { name, version } = splitRef(display);
    const client = await (this.db.pool as import('pg').Pool).connect();
    try {
      await client.query('BEGIN');
      const model = await client.query<{ id: string }>(
        `UPDATE local_ai_models SET last_used = CURRENT_TIMESTAMP, usage_count = usage_count + $3
          WHERE model_name = $1 AND model_version = $2 RETURNING id`,
        [name, version, summary.ok],
      );
      const modelId = model.rows[0]?.id ?? null;
      const tags = JSON.stringify({
        model: display,
        node: scrubText(node),
        concurrency: summary.concurrency,
        requests: summary.requests,
      });
      const figures: Array<[string, number | null, string]> = [
        ['model_bench_latency_p50', summary.latencyMs.p50, 'ms'],
        ['model_bench_latency_p95', summary.latencyMs.p95, 'ms'],
        ['model_bench_latency_p99', summary.latencyMs.p99, 'ms'],
        ['model_bench_tokens_per_second', summary.tokensPerSecond, 'tokens/s'],
        ['model_bench_throughput', summary.throughputTokensPerSecond, 'tokens/s'],
        ['model_bench_errors', summary.errors, 'count'],
      ];
      let metrics = 0;
      for (const [metric, value, unit] of figures) {
        if (value === null) continue;
        await client.query(
          `INSERT INTO performance_metrics (metric_name, metric_value, metric_unit, resource_id, tags) VALUES ($1, $2, $3, $4, $5)`,
          [metric, value, unit, modelId, tags],
        );
        metrics++;
      }
      for (const r of results)
        await client.query(
          `INSERT INTO ai_inference_logs (model_id, query_text, response_text, response_time_ms, tokens_used) VALUES ($1, $2, $3, $4, $5)`,
          [
            modelId,
            prompt,
            r.ok ? null : `error: ${scrubText(r.error ?? '')}`,
            Math.round(r.latencyMs),
            r.tokens,
          ],
        );
      await client.query('COMMIT');
      return { metrics, logs: results.length };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw queryError(err, `cannot record the benchmark of ${display}`);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
