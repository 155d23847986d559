/**
 * Validation inside `kubechat install`: the preflight suite once the bundle's signature is accepted
 * and before anything is written (a failure is exit 33), and after the install the suites for the
 * targets it wrote — registry, models, database — recorded like any validation run (a failure is
 * exit 34: the content is in, the checks say it is not right). `--no-validate` skips both.
 */
import type pg from 'pg';
import type { OpenedBundle } from '../bundle/reader.js';
import { KubechatError } from '../lib/errors.js';
import type { Reporter } from '../lib/progress.js';
import type { TrustedKey } from '../signing/signature.js';
import type { ValidateInputs } from './context.js';
import { runValidation } from './run.js';
import type { CheckStatus, SuiteName, ValidationReport, ValidationSummary } from './types.js';

export interface InstallTargets {
  bundlePath: string;
  /** The bundle install has open: the suites read it instead of opening the file again. */
  bundle?: OpenedBundle;
  registry?: string;
  registryPrefix?: string;
  registryCa?: string;
  registryAuth?: string[];
  /** Hosts allowed over plain HTTP or with an unverified certificate. */
  insecureRegistry?: string[];
  ollamaStores: string[];
  ollamaUrls: string[];
  filesDir?: string;
  trustedKeys: TrustedKey[];
}

export interface InstallValidation {
  suites: SuiteName[];
  ok: boolean;
  summary: ValidationSummary;
  /** The checks that failed or warned, one line each. */
  problems: Array<{
    suite: SuiteName;
    name: string;
    status: CheckStatus;
    reason: string;
    fix: string | null;
  }>;
  /** The validation_reports row of the post-install run, when a database recorded it. */
  validationReportId: string | null;
}

function inputsOf(t: InstallTargets): ValidateInputs {
  return {
    bundlePath: t.bundlePath,
    openedBundle: t.bundle,
    registry: t.registry,
    registryPrefix: t.registryPrefix,
    registryCa: t.registryCa,
    registryAuth: t.registryAuth,
    insecureRegistry: t.insecureRegistry,
    ollamaStores: t.ollamaStores,
    ollamaUrls: t.ollamaUrls,
    filesDir: t.filesDir,
    trustedKeys: () => Promise.resolve(t.trustedKeys),
  };
}

function summarise(report: ValidationReport, suites: SuiteName[]): InstallValidation {
  return {
    suites,
    ok: report.ok,
    summary: report.summary,
    problems: report.suites
      .flatMap((s) => s.checks)
      .filter((c) => c.status === 'fail' || c.status === 'warn')
      .map((c) => ({ suite: c.suite, name: c.name, status: c.status, reason: c.reason, fix: c.fix })),
    validationReportId: report.recorded?.validationReportId ?? null,
  };
}

function firstFailure(v: InstallValidation): string {
  const f = v.problems.find((p) => p.status === 'fail')!;
  const more = v.summary.fail > 1 ? ` (and ${v.summary.fail - 1} more)` : '';
  return `${f.suite} ${f.name}: ${f.reason}${more}`;
}

/** The preflight suite; throws exit 33 when a check fails. Reads targets, writes nothing. */
export async function installPreflight(t: InstallTargets, reporter?: Reporter): Promise<InstallValidation> {
  const report = await runValidation({
    inputs: { ...inputsOf(t), checkReachability: false },
    suites: ['preflight'],
    reporter,
    record: false,
  });
  const v = summarise(report, ['preflight']);
  if (!v.ok)
    throw new KubechatError(
      'preflight',
      `preflight failed, nothing was written: ${firstFailure(v)}`,
      v.problems.find((p) => p.status === 'fail')?.fix ??
        `run kubechat validate --suite preflight for details, or install with --no-validate`,
    );
  return v;
}

/**
 * The suites for what the install wrote, with the install's own database connection (the embedded
 * server is still up). Returns the result; the caller fails the install (exit 34) when it is not ok.
 */
export async function installPostValidation(
  t: InstallTargets,
  database: { pool: pg.Pool; shown: string; embedded: boolean } | undefined,
  reporter?: Reporter,
): Promise<InstallValidation> {
  const suites: SuiteName[] = [];
  if (t.registry) suites.push('registry');
  if (t.ollamaStores.length || t.ollamaUrls.length) suites.push('models');
  if (database) suites.push('database');
  if (!suites.length)
    return {
      suites,
      ok: true,
      summary: { pass: 0, warn: 0, fail: 0, skip: 0, total: 0 },
      problems: [],
      validationReportId: null,
    };
  const report = await runValidation({
    inputs: { ...inputsOf(t), database },
    suites,
    reporter,
    validationType: 'kubechat install: post-install validation',
  });
  return summarise(report, suites);
}

export function postValidationError(v: InstallValidation): KubechatError {
  return new KubechatError(
    'postValidation',
    `installed, but post-install validation failed: ${firstFailure(v)}`,
    v.problems.find((p) => p.status === 'fail')?.fix ?? 'run kubechat validate for details',
  );
}
