/** The pure parts of `kubechat validate`: exit codes, JUnit XML, the table, probe and schema parsing. */
import { describe, expect, it } from 'vitest';
import type { Migration } from '../../src/db/migration-set.js';
import { junitXml, xmlEscape } from '../../src/validate/report/junit.js';
import { reportTable } from '../../src/validate/report/table.js';
import { tablesCreatedBy } from '../../src/validate/suites/database.js';
import { parseProbe } from '../../src/validate/suites/airgap.js';
import { clearSecrets } from '../../src/validate/suites/security.js';
import {
  exitCodeOf,
  summarize,
  worst,
  type CheckResult,
  type CheckStatus,
  type SuiteName,
  type SuiteResult,
  type ValidationReport,
} from '../../src/validate/types.js';

const check = (
  suite: SuiteName,
  name: string,
  status: CheckStatus,
  extra: Partial<CheckResult> = {},
): CheckResult => ({
  suite,
  name,
  status,
  reason: `${name} is ${status}`,
  fix: status === 'fail' || status === 'warn' ? `fix ${name}` : null,
  details: [],
  data: null,
  startedAt: '2026-11-22T04:00:00.000Z',
  durationMs: 12,
  ...extra,
});

function report(checks: CheckResult[], failOn: 'fail' | 'warn' = 'fail'): ValidationReport {
  const suites: SuiteResult[] = [...new Set(checks.map((c) => c.suite))].map((name) => {
    const cs = checks.filter((c) => c.suite === name);
    return { name, status: worst(cs.map((c) => c.status)), skipped: null, checks: cs, durationMs: 12 };
  });
  suites.push({ name: 'airgap', status: 'skip', skipped: 'no probes', checks: [], durationMs: 0 });
  const summary = summarize(suites);
  const exitCode = exitCodeOf(summary, failOn);
  return {
    ok: exitCode === 0,
    exitCode,
    failOn,
    startedAt: '2026-11-22T04:00:00.000Z',
    durationMs: 40,
    bundle: null,
    summary,
    suites,
    recorded: null,
    junit: null,
  };
}

describe('exit codes', () => {
  it('is 70 on any failure, 71 on warnings only with --fail-on warn, else 0', () => {
    const s = (pass: number, warn: number, fail: number) => ({
      pass,
      warn,
      fail,
      skip: 0,
      total: pass + warn + fail,
    });
    expect(exitCodeOf(s(3, 0, 0), 'fail')).toBe(0);
    expect(exitCodeOf(s(3, 1, 0), 'fail')).toBe(0);
    expect(exitCodeOf(s(3, 1, 0), 'warn')).toBe(71);
    expect(exitCodeOf(s(3, 1, 1), 'warn')).toBe(70);
    expect(exitCodeOf(s(0, 0, 1), 'fail')).toBe(70);
    expect(worst(['skip', 'pass', 'warn'])).toBe('warn');
    expect(worst([])).toBe('skip');
  });
});

describe('JUnit XML', () => {
  it('escapes markup and removes characters XML cannot hold', () => {
    expect(xmlEscape(`a<b>&"c'\u0001\u001fd\ud800`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;d');
    expect(xmlEscape('emoji 😀 stays')).toBe('emoji 😀 stays');
  });

  it('has one testsuite per suite and one testcase per check; failures carry details and the fix', () => {
    const xml = junitXml(
      report([
        check('registry', 'reachable', 'pass'),
        check('registry', 'image <a&b>', 'fail', { details: ['blob sha256:1 missing'] }),
        check('models', 'store x', 'warn'),
        check('models', 'endpoint y', 'skip'),
      ]),
      'host1',
    );
    expect(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kubechat validate" tests="4" failures="1" errors="0" skipped="1"',
      ),
    ).toBe(true);
    expect(xml.match(/<testsuite /g)).toHaveLength(3);
    expect(xml).toContain(
      '<testcase classname="kubechat.validate.registry" name="image &lt;a&amp;b&gt;" time="0.012"',
    );
    expect(xml).toContain(
      '<failure message="image &lt;a&amp;b&gt; is fail" type="failure">image &lt;a&amp;b&gt; is fail\nblob sha256:1 missing\nfix: fix image &lt;a&amp;b&gt;</failure>',
    );
    expect(xml).toContain('<system-out>WARNING: store x is warn\nfix: fix store x</system-out>');
    expect(xml).toContain('<skipped message="endpoint y is skip"/>');
    expect(xml).toContain('<property name="skipped" value="no probes"/>');
  });

  it('under --fail-on warn, a warning is a failure of type warning', () => {
    const xml = junitXml(report([check('models', 'store x', 'warn')], 'warn'), 'h');
    expect(xml).toContain('failures="1"');
    expect(xml).toContain('type="warning"');
  });
});

describe('the table', () => {
  it('lists each check, a fix under failures and warnings, a skipped suite as one row, and the summary', () => {
    const lines = reportTable(
      report([check('database', 'tables', 'fail'), check('database', 'reachable', 'pass')]),
      100,
    );
    expect(lines[0]).toMatch(/^SUITE\s+CHECK\s+STATUS\s+REASON$/);
    expect(lines.find((l) => l.includes('tables'))).toMatch(/✗ FAIL\s+tables is fail/);
    expect(lines.find((l) => l.includes('fix: fix tables'))).toBeDefined();
    expect(lines.find((l) => l.startsWith('airgap'))).toMatch(/\(suite\)\s+- skip\s+no probes/);
    expect(lines.at(-1)).toBe('2 checks: 1 passed, 0 warning(s), 1 failed, 0 skipped in 0.0 s — exit 70');
  });
});

describe('inputs', () => {
  it('parses HOST:PORT probes, IPv6 in brackets, and refuses the rest', () => {
    expect(parseProbe('registry-1.docker.io:443')).toEqual({ host: 'registry-1.docker.io', port: 443 });
    expect(parseProbe('[2606:4700::1111]:53')).toEqual({ host: '2606:4700::1111', port: 53 });
    for (const bad of ['nohost', 'a:0', 'a:70000', ':53', 'a b:1'])
      expect(parseProbe(bad), bad).toBeUndefined();
  });

  it('finds the tables a migration set creates, not those in comments', () => {
    const m = (sql: string) => ({ sql }) as Migration;
    expect(
      tablesCreatedBy([
        m('CREATE TABLE users (id int);\n-- CREATE TABLE not_this (x int)'),
        m('create table if not exists "public"."airgap_tests" (id int); CREATE INDEX x ON users (id);'),
      ]),
    ).toEqual(['users', 'airgap_tests']);
  });

  it('finds secrets stored in clear in a configuration, ignoring redacted values and password policy', () => {
    expect(
      clearSecrets({
        registryPassword: 'hunter2',
        token: '***',
        password_min_length: '14',
        nested: [{ url: 'postgres://u:pw@db/x' }, { url: 'postgres://u:***@db/x' }],
        overrides: ['allow-unsigned'],
      }),
    ).toEqual(['registryPassword', 'nested[0].url (a URL with a password)']);
  });
});
