/**
 * Runs validation suites: each selected suite whose inputs were given lists its checks, and every
 * check of every suite runs concurrently (bounded), each timed and turned into a result whatever it
 * throws. The report keeps suite order and each suite's check order, so output is stable.
 */
import { KubechatError } from '../lib/errors.js';
import { renderFix } from '../lib/fix.js';
import { mapLimit } from '../lib/concurrency.js';
import type { Reporter } from '../lib/progress.js';
import { ValidationContext, type ValidateInputs } from './context.js';
import { loadSuites } from './suites/index.js';
import {
  exitCodeOf,
  summarize,
  worst,
  type Check,
  type CheckResult,
  type Outcome,
  type SuiteName,
  type SuiteResult,
  type ValidationReport,
} from './types.js';

/** A suite: what it needs, and its checks for the given inputs. */
export interface ValidateOptions {
  inputs: ValidateInputs;
  /** Suites to run (default: every suite; those without inputs are skipped). */
  suites?: SuiteName[];
  failOn?: 'fail' | 'warn';
  /** Checks in flight at once (default 8). */
  concurrency?: number;
  /** Record the run in validation_reports / airgap_tests when a database is given (default true). */
  record?: boolean;
  /** What the validation_reports row calls this run (default "kubechat validate"). */
  validationType?: string;
  reporter?: Reporter;
  signal?: AbortSignal;
  /**
   * A run in which every suite is skipped for lack of inputs is a usage error (exit 2) rather than
   * a pass: a CI job that forgot its flags must not go green. `kubechat validate` sets it unless
   * --allow-empty, with `fix` in its own words (flags); install's own runs do not (a suite with
   * nothing to check is fine there).
   */
  requireInputs?: { fix: string };
}

/** The one-line error text of anything a check throws. */
function outcomeOfError(err: unknown): Outcome {
  if (err instanceof KubechatError)
    return { status: 'fail', reason: err.message.split('\n')[0]!, fix: err.fix ?? null };
  // A PostgreSQL error (a dropped table, a refused query) is an answer about the database, not a bug.
  if (typeof (err as { severity?: unknown })?.severity === 'string')
    return {
      status: 'fail',
      reason: `database query failed: ${(err as Error).message.split('\n')[0]}`,
      fix: 'check the database schema (kubechat db status) and the server log',
    };
  return {
    status: 'fail',
    reason: `unexpected error: ${(err as Error)?.message ?? String(err)}`,
    fix: 'this is a bug in kubechat; rerun with DEBUG=kubechat and report it',
  };
}

async function runCheck(suite: SuiteName, check: Check, signal: AbortSignal): Promise<CheckResult> {
  const started = new Date();
  const t0 = performance.now();
  let o: Outcome;
  try {
    o = await check.run(signal);
  } catch (err) {
    o = outcomeOfError(err);
  }
  return {
    suite,
    name: check.name,
    status: o.status,
    reason: o.reason,
    // A report is data (JSON, JUnit, the database): its fixes name the canonical flags.
    fix: o.fix == null ? null : renderFix(o.fix),
    details: o.details ?? [],
    data: o.data ?? null,
    startedAt: started.toISOString(),
    durationMs: Math.round(performance.now() - t0),
  };
}

export async function runValidation(options: ValidateOptions): Promise<ValidationReport> {
  const started = new Date();
  const t0 = performance.now();
  const failOn = options.failOn ?? 'fail';
  const ctx = new ValidationContext(options.inputs, options.reporter);
  const signal = options.signal ?? new AbortController().signal;
  const suites = await loadSuites(options.suites);
  try {
    // Every suite lists its checks at once (reading the bundle's manifests is shared), then all
    // checks of all suites share one bounded pool.
    const planned = await Promise.all(
      suites.map(async (suite) => {
        const missing = suite.missing(options.inputs, options.suites?.includes(suite.name) ?? false);
        if (missing) return { suite, skipped: missing, checks: [] as Check[] };
        try {
          return { suite, skipped: null, checks: await suite.checks(ctx) };
        } catch (err) {
          const o = outcomeOfError(err);
          return { suite, skipped: null, checks: [{ name: 'inputs', run: () => Promise.resolve(o) }] };
        }
      }),
    );
    const jobs = planned.flatMap((p) => p.checks.map((check) => ({ suite: p.suite.name, check })));
    let done = 0;
    const results = await mapLimit(jobs, options.concurrency ?? 8, async (job) => {
      const r = await runCheck(job.suite, job.check, signal);
      ctx.reporter.emit({
        task: 'validate',
        title: `[${++done}/${jobs.length}] ${r.suite} ${r.name}: ${r.status}`,
      });
      return r;
    });
    const suiteResults: SuiteResult[] = planned.map((p) => {
      const checks = results.filter((r) => r.suite === p.suite.name);
      return {
        name: p.suite.name,
        status: p.skipped ? 'skip' : worst(checks.map((c) => c.status)),
        skipped: p.skipped,
        checks,
        durationMs: checks.reduce((m, c) => Math.max(m, c.durationMs), 0),
      };
    });
    if (options.requireInputs && results.every((r) => r.status === 'skip')) {
      // Before anything is recorded or written: no report row, no JUnit file for a run that checked nothing.
      throw new KubechatError(
        'usage',
        'nothing to validate: every suite and check was skipped for lack of inputs',
        options.requireInputs.fix,
      );
    }
    const summary = summarize(suiteResults);
    const exitCode = exitCodeOf(summary, failOn);
    let bundle: ValidationReport['bundle'] = null;
    if (options.inputs.bundlePath) {
      const b = await ctx.bundle().catch(() => undefined);
      if (b)
        bundle = {
          path: options.inputs.bundlePath,
          name: b.manifest.name,
          version: b.manifest.version,
          manifestDigest: b.manifestDigest,
        };
    }
    const report: ValidationReport = {
      ok: exitCode === 0,
      exitCode,
      failOn,
      startedAt: started.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      bundle,
      summary,
      suites: suiteResults,
      recorded: null,
      junit: null,
    };
    if (options.inputs.database && options.record !== false)
      report.recorded = await (
        await import('./record.js')
      ).recordReport(ctx, report, options.validationType ?? 'kubechat validate');
    return report;
  } finally {
    await ctx.close();
  }
}
