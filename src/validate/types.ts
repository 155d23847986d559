/**
 * The shapes of `kubechat validate`: a suite is a list of named checks; each check ends pass, warn,
 * fail or skip with a one-line reason and, unless it passed, a one-line fix. Reporters (table, JSON,
 * JUnit, database rows) all read the same `ValidationReport`.
 */
import { ExitCode } from '../lib/errors.js';

/** Every suite, in report order. */
export const SUITES = [
  'preflight',
  'bundle',
  'registry',
  'models',
  'database',
  'security',
  'airgap',
] as const;
export type SuiteName = (typeof SUITES)[number];

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** What a check's body returns. */
export interface Outcome {
  status: CheckStatus;
  /** One line: what was found. */
  reason: string;
  /** One line: what to do about it (null when there is nothing to do). */
  fix?: string | null;
  /** More lines (every missing blob, every problem): JUnit failure bodies, --json, the database. */
  details?: string[];
  /** Measurements: latency, bytes hashed, free space… */
  data?: Record<string, unknown>;
}

/** One check of a suite, run concurrently with the others. */
export interface Check {
  /** Short, stable name within its suite, e.g. `artifact docker.io/demo/hello:1.0`. */
  name: string;
  run(signal: AbortSignal): Promise<Outcome>;
}

export interface CheckResult extends Required<Omit<Outcome, 'data'>> {
  suite: SuiteName;
  name: string;
  data: Record<string, unknown> | null;
  startedAt: string;
  durationMs: number;
}

export interface SuiteResult {
  name: SuiteName;
  /** The worst status of its checks; 'skip' for a suite whose inputs were not given. */
  status: CheckStatus;
  /** Why the whole suite was skipped (inputs missing), or null. */
  skipped: string | null;
  checks: CheckResult[];
  durationMs: number;
}

export interface ValidationSummary {
  pass: number;
  warn: number;
  fail: number;
  skip: number;
  total: number;
}

export interface ValidationReport {
  /** No failure (and no warning with --fail-on warn). */
  ok: boolean;
  exitCode: number;
  failOn: 'fail' | 'warn';
  startedAt: string;
  durationMs: number;
  bundle: null | { path: string; name: string; version: string; manifestDigest: string };
  summary: ValidationSummary;
  suites: SuiteResult[];
  /** Where the run was recorded (validation_reports / airgap_tests), null without a database. */
  recorded: null | {
    database: string;
    validationReportId: string | null;
    deploymentId: string | null;
    /** Why nothing was recorded (schema missing, query refused), or null. */
    error: string | null;
  };
  junit: string | null;
}

/** The codes a validation run ends with: its outcomes have their own range (70–79) in the exit-code table. */
export const ValidateExit = {
  ok: ExitCode.ok,
  usage: ExitCode.usage,
  failed: ExitCode.validateFailed,
  warned: ExitCode.validateWarned,
} as const;

const RANK: Record<CheckStatus, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };

/** The worst of `statuses`; all skipped (or none) is skip. */
export function worst(statuses: CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((w, s) => (RANK[s] > RANK[w] ? s : w), 'skip');
}

export function summarize(suites: SuiteResult[]): ValidationSummary {
  const s: ValidationSummary = { pass: 0, warn: 0, fail: 0, skip: 0, total: 0 };
  for (const c of suites.flatMap((x) => x.checks)) {
    s[c.status]++;
    s.total++;
  }
  return s;
}

/** `failed` on any failure, `warned` on warnings only when `failOn` is warn, else `ok`. */
export function exitCodeOf(summary: ValidationSummary, failOn: 'fail' | 'warn'): number {
  if (summary.fail > 0) return ValidateExit.failed;
  if (failOn === 'warn' && summary.warn > 0) return ValidateExit.warned;
  return ValidateExit.ok;
}

export const pass = (reason: string, extra: Omit<Outcome, 'status' | 'reason'> = {}): Outcome => ({
  status: 'pass',
  reason,
  ...extra,
});
export const warn = (reason: string, fix: string, extra: Omit<Outcome, 'status' | 'reason' | 'fix'> = {}) =>
  ({ status: 'warn', reason, fix, ...extra }) satisfies Outcome;
export const fail = (reason: string, fix: string, extra: Omit<Outcome, 'status' | 'reason' | 'fix'> = {}) =>
  ({ status: 'fail', reason, fix, ...extra }) satisfies Outcome;
export const skip = (reason: string, extra: Omit<Outcome, 'status' | 'reason'> = {}): Outcome => ({
  status: 'skip',
  reason,
  ...extra,
});
