/**
 * JUnit XML as Jenkins (junit plugin) and GitLab (artifacts:reports:junit) read it: <testsuites>, one
 * <testsuite> per suite, one <testcase> per check (classname kubechat.validate.<suite>), <failure
 * message type> with the details and the fix as its text, <skipped message>. JUnit has no warning:
 * a warning is a passed test case whose <system-out> says WARNING — or a failure of type "warning"
 * under --fail-on warn, so the CI job and the report agree.
 */
import { hostname } from 'node:os';
import type { CheckResult, SuiteResult, ValidationReport } from '../types.js';

/** XML 1.0 text: the five escapes, and characters XML cannot hold at all removed. */
export function xmlEscape(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex -- removing exactly the characters XML 1.0 forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\ud800-\udfff]/g, (c, i: number, str: string) => {
        // keep valid surrogate pairs, drop lone halves
        const code = c.charCodeAt(0);
        const next = str.charCodeAt(i + 1);
        const prev = str.charCodeAt(i - 1);
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return c;
        if (code >= 0xdc00 && prev >= 0xd800 && prev <= 0xdbff) return c;
        return '';
      })
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

function body(c: CheckResult): string {
  return [c.reason, ...c.details, ...(c.fix ? [`fix: ${c.fix}`] : [])].join('\n');
}

function testcase(c: CheckResult, failOn: 'fail' | 'warn'): string {
  const open = `    <testcase classname="kubechat.validate.${xmlEscape(c.suite)}" name="${xmlEscape(c.name)}" time="${seconds(c.durationMs)}"`;
  switch (c.status) {
    case 'pass':
      return `${open}/>`;
    case 'skip':
      return `${open}>\n      <skipped message="${xmlEscape(c.reason)}"/>\n    </testcase>`;
    case 'fail':
      return `${open}>\n      <failure message="${xmlEscape(c.reason)}" type="failure">${xmlEscape(body(c))}</failure>\n    </testcase>`;
    case 'warn':
      return failOn === 'warn'
        ? `${open}>\n      <failure message="${xmlEscape(c.reason)}" type="warning">${xmlEscape(body(c))}</failure>\n    </testcase>`
        : `${open}>\n      <system-out>${xmlEscape(`WARNING: ${body(c)}`)}</system-out>\n    </testcase>`;
  }
}

function counts(checks: CheckResult[], failOn: 'fail' | 'warn') {
  const failures = checks.filter(
    (c) => c.status === 'fail' || (failOn === 'warn' && c.status === 'warn'),
  ).length;
  const skipped = checks.filter((c) => c.status === 'skip').length;
  return { tests: checks.length, failures, skipped };
}

function testsuite(s: SuiteResult, report: ValidationReport, host: string): string {
  const n = counts(s.checks, report.failOn);
  const started = s.checks.map((c) => c.startedAt).sort()[0] ?? report.startedAt;
  const attrs = `name="${xmlEscape(s.name)}" tests="${n.tests}" failures="${n.failures}" errors="0" skipped="${n.skipped}" time="${seconds(s.durationMs)}" timestamp="${started}" hostname="${xmlEscape(host)}"`;
  if (s.skipped !== null)
    return `  <testsuite ${attrs}>\n    <properties>\n      <property name="skipped" value="${xmlEscape(s.skipped)}"/>\n    </properties>\n  </testsuite>`;
  return [
    `  <testsuite ${attrs}>`,
    ...s.checks.map((c) => testcase(c, report.failOn)),
    '  </testsuite>',
  ].join('\n');
}

export function junitXml(report: ValidationReport, host = hostname()): string {
  const all = report.suites.flatMap((s) => s.checks);
  const n = counts(all, report.failOn);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kubechat validate" tests="${n.tests}" failures="${n.failures}" errors="0" skipped="${n.skipped}" time="${seconds(report.durationMs)}">`,
    ...report.suites.map((s) => testsuite(s, report, host)),
    '</testsuites>',
    '',
  ].join('\n');
}
