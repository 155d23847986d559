/** The terminal table: one row per check (a skipped suite is one row), fixes under the rows that need them. */
import type { CheckStatus, ValidationReport } from '../types.js';

const MARK: Record<CheckStatus, string> = { pass: '✓ pass', warn: '! warn', fail: '✗ FAIL', skip: '- skip' };

/** Cuts `s` to `n` characters, with an ellipsis. */
const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** `width`: the terminal's columns; Infinity (output that is not a terminal) cuts nothing. */
export function reportTable(report: ValidationReport, width = 120): string[] {
  const rows: Array<{
    suite: string;
    check: string;
    status: CheckStatus;
    reason: string;
    fix: string | null;
  }> = [];
  for (const s of report.suites) {
    if (s.skipped !== null) {
      rows.push({ suite: s.name, check: '(suite)', status: 'skip', reason: s.skipped, fix: null });
      continue;
    }
    for (const c of s.checks)
      rows.push({ suite: s.name, check: c.name, status: c.status, reason: c.reason, fix: c.fix });
  }
  const suiteW = Math.max(5, ...rows.map((r) => r.suite.length));
  const checkW = Math.min(
    width === Infinity ? Infinity : 48,
    Math.max(5, ...rows.map((r) => r.check.length)),
  );
  const reasonW = Math.max(30, width - suiteW - checkW - 6 - 6);
  const lines = [`${'SUITE'.padEnd(suiteW)}  ${'CHECK'.padEnd(checkW)}  ${'STATUS'}  REASON`];
  for (const r of rows) {
    lines.push(
      `${r.suite.padEnd(suiteW)}  ${clip(r.check, checkW).padEnd(checkW)}  ${MARK[r.status]}  ${clip(r.reason, reasonW)}`,
    );
    if (r.fix && (r.status === 'fail' || r.status === 'warn'))
      lines.push(`${' '.repeat(suiteW + checkW + 12)}fix: ${r.fix}`);
  }
  const s = report.summary;
  lines.push(
    '',
    `${s.total} checks: ${s.pass} passed, ${s.warn} warning(s), ${s.fail} failed, ${s.skip} skipped in ${(report.durationMs / 1000).toFixed(1)} s` +
      (report.exitCode === 0 ? '' : ` — exit ${report.exitCode}`),
  );
  return lines;
}
