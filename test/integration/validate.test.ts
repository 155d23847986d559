/**
 * `kubechat validate` against a real install: the demo bundle (signed) installed into a real
 * docker-registry, an Ollama store, an Ollama API double and a fresh PostgreSQL database. Then
 * corruption — a flipped byte in a model blob, a deleted registry blob, a dropped table, a changed
 * migration — each turning the right check red with exit 70; egress probes on loopback only (and the
 * default public probes only inside `unshare -n`); the JUnit file parsed back by Python's XML parser;
 * the validation_reports and airgap_tests rows.
 */
import {
  cp,
  chmod,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
  open as openFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat, sh } from '../support/cli.js';
import { conforms } from '../support/install-fixture.js';
import { OllamaDouble } from '../support/ollama-double.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { freePort, makeCertificates, startRegistry, type TestRegistry } from '../support/registry.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';

/** In the database URL: trust auth ignores it; it must never show up anywhere. */
const SECRET = 'Val1date-Secret-77c';

interface Check {
  suite: string;
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  reason: string;
  fix: string | null;
  details: string[];
  data: Record<string, unknown> | null;
}
interface Report {
  ok: boolean;
  exitCode: number;
  summary: { pass: number; warn: number; fail: number; skip: number; total: number };
  suites: Array<{ name: string; status: string; skipped: string | null; checks: Check[] }>;
  recorded: {
    database: string;
    validationReportId: string | null;
    deploymentId: string | null;
    error: string | null;
  } | null;
  junit: string | null;
}

let ws: Workspace;
let work: string;
let bundle: string;
let pub: string;
let registry: TestRegistry;
let pg: TestDatabase;
let dbUrl: string;
let store: string;
let ollama: OllamaDouble;
let installedJson: string;
const state = () => join(work, 'state');

const run = (args: string[]) =>
  kubechat(args, { env: { KUBECHAT_STATE_DIR: state(), KUBECHAT_DATABASE_URL: '' } });

async function validate(args: string[], expected: number): Promise<Report> {
  const r = await run(['validate', ...args, '--json']);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(expected);
  conforms(r.stdout, 'validate');
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(SECRET);
  return JSON.parse(r.stdout) as Report;
}

const checksOf = (r: Report, suite: string) => r.suites.find((s) => s.name === suite)!.checks;
const checkNamed = (r: Report, suite: string, prefix: string) => {
  const c = checksOf(r, suite).find((x) => x.name.startsWith(prefix));
  expect(c, `${suite} ${prefix} in ${JSON.stringify(checksOf(r, suite).map((x) => x.name))}`).toBeDefined();
  return c!;
};

/** The largest regular file under `dir`. */
async function largestFile(dir: string): Promise<{ path: string; size: number }> {
  let best = { path: '', size: -1 };
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const s = (await stat(p)).size;
    if (s > best.size) best = { path: p, size: s };
  }
  return best;
}

beforeAll(async () => {
  ws = await makeWorkspace();
  work = await mkdtemp(join(tmpdir(), 'kubechat-validate-'));
  const keys = await run(['keys', 'generate', '--out', join(work, 'release'), '--no-passphrase']);
  expect(keys.code, keys.stderr).toBe(0);
  pub = join(work, 'release.pub');
  const spec = await ws.spec('1.0.0');
  const created = await run([
    'bundle',
    'create',
    '-f',
    spec,
    '-o',
    ws.out,
    '--key',
    join(work, 'release.key'),
    '--json',
  ]);
  expect(created.code, created.stderr).toBe(0);
  bundle = (JSON.parse(created.stdout) as { bundle: string }).bundle;
  [registry, pg] = await Promise.all([startRegistry({}), freshDatabase('kc_validate')]);
  const u = new URL(pg.url);
  u.username = 'postgres';
  u.password = SECRET;
  dbUrl = u.toString();
  store = join(work, 'ollama');
  ollama = new OllamaDouble(join(work, 'ollama-node'));
  await ollama.start();
  const installed = await run([
    'install',
    bundle,
    '--registry',
    registry.host,
    '--ollama-store',
    store,
    '--ollama',
    ollama.url,
    '--database-url',
    dbUrl,
    '--trusted-key',
    pub,
    '--json',
  ]);
  expect(installed.code, installed.stderr + installed.stdout).toBe(0);
  installedJson = installed.stdout;
});

afterAll(async () => {
  await ollama?.stop();
  await registry?.stop();
  await pg?.drop();
  if (work) await rm(work, { recursive: true, force: true });
  if (ws) await rm(ws.dir, { recursive: true, force: true });
});

const everything = () => [
  '--bundle',
  bundle,
  '--trusted-key',
  pub,
  '--registry',
  registry.host,
  '--ollama-store',
  store,
  '--ollama',
  ollama.url,
  '--smoke',
  '--database-url',
  dbUrl,
];
const allButAirgap = ['preflight', 'bundle', 'registry', 'models', 'database', 'security'].flatMap((s) => [
  '--suite',
  s,
]);

describe('a complete, intact installation', () => {
  let report: Report;
  let junit: string;

  beforeAll(async () => {
    junit = join(work, 'reports', 'validate.xml');
    await sh(`mkdir -p '${join(work, 'reports')}'`);
    report = await validate([...everything(), ...allButAirgap, '--junit', junit], 0);
  });

  it('Then every suite with inputs passes, each check with a one-line reason, and exit is 0', () => {
    expect(report.ok).toBe(true);
    expect(report.summary.fail).toBe(0);
    for (const s of ['preflight', 'bundle', 'registry', 'models', 'database'])
      expect(report.suites.find((x) => x.name === s)?.status, s).toBe('pass');
    expect(checkNamed(report, 'bundle', 'signature').reason).toContain('signed by trusted key');
    expect(checkNamed(report, 'registry', 'image docker.io/demo/hello:1.0').status).toBe('pass');
    expect(checkNamed(report, 'registry', 'chart').status).toBe('pass');
    expect(checkNamed(report, 'models', `store ${store} assist:1.0`).reason).toMatch(/blobs re-hashed/);
    expect(checkNamed(report, 'models', `endpoint ${ollama.url} assist:1.0`).status).toBe('pass');
    const smoke = checkNamed(report, 'models', `smoke ${ollama.url} assist:1.0`);
    expect(smoke.status).toBe('pass');
    expect(typeof smoke.data?.latencyMs).toBe('number');
    expect(checkNamed(report, 'database', 'migrations').reason).toMatch(/^at V\d+/);
    expect(checkNamed(report, 'database', 'deployment').status).toBe('pass');
    expect(report.suites.find((s) => s.name === 'airgap')).toBeUndefined();
  });

  it('Then the JUnit file parses (Python xml.etree) with one testsuite per suite and one testcase per check', async () => {
    expect(report.junit).toBe(junit);
    const xml = await readFile(junit, 'utf8');
    expect(xml).not.toContain(SECRET);
    const parsed = await sh(
      `python3 -c 'import json,sys,xml.etree.ElementTree as E
r=E.parse(sys.argv[1]).getroot()
print(json.dumps({"tag":r.tag,"tests":r.get("tests"),"failures":r.get("failures"),"suites":[{"name":s.get("name"),"tests":int(s.get("tests")),"cases":[{"name":c.get("name"),"classname":c.get("classname"),"failed":c.find("failure") is not None,"skipped":c.find("skipped") is not None} for c in s.findall("testcase")]} for s in r.findall("testsuite")]}))' '${junit}'`,
    );
    expect(parsed.code, parsed.stderr).toBe(0);
    const j = JSON.parse(parsed.stdout) as {
      tag: string;
      tests: string;
      failures: string;
      suites: Array<{
        name: string;
        tests: number;
        cases: Array<{ name: string; classname: string; failed: boolean; skipped: boolean }>;
      }>;
    };
    expect(j.tag).toBe('testsuites');
    expect(Number(j.tests)).toBe(report.summary.total);
    expect(j.failures).toBe('0');
    expect(j.suites.map((s) => s.name)).toEqual(report.suites.map((s) => s.name));
    for (const s of report.suites) {
      const js = j.suites.find((x) => x.name === s.name)!;
      expect(js.cases.map((c) => c.name)).toEqual(s.checks.map((c) => c.name));
      expect(js.tests).toBe(s.checks.length);
      for (const [i, c] of s.checks.entries()) {
        expect(js.cases[i]!.classname).toBe(`kubechat.validate.${s.name}`);
        expect(js.cases[i]!.skipped).toBe(c.status === 'skip');
      }
    }
  });

  it('Then the run is one validation_reports row linked to the deployment and one airgap_tests row per check', async () => {
    expect(report.recorded?.error).toBeNull();
    expect(report.recorded?.database).toContain('***');
    const dep = await pg.pool.query<{ id: string; last_health_check: Date | null }>(
      `SELECT id, last_health_check FROM airgap_deployments WHERE status = 'installed'`,
    );
    expect(report.recorded?.deploymentId).toBe(dep.rows[0]!.id);
    expect(dep.rows[0]!.last_health_check).not.toBeNull();
    const rep = await pg.pool.query<{ deployment_id: string; passed: boolean; validation_results: unknown }>(
      'SELECT deployment_id, passed, validation_results FROM validation_reports WHERE id = $1',
      [report.recorded!.validationReportId],
    );
    expect(rep.rows[0]).toMatchObject({ deployment_id: dep.rows[0]!.id, passed: true });
    const tests = await pg.pool.query<{
      test_name: string;
      test_category: string;
      test_status: string;
      test_results: { status: string; validationReportId: string };
    }>(
      `SELECT test_name, test_category, test_status, test_results FROM airgap_tests WHERE test_results->>'validationReportId' = $1`,
      [report.recorded!.validationReportId],
    );
    expect(tests.rows.length).toBe(report.summary.total);
    for (const c of report.suites.flatMap((s) => s.checks)) {
      const row = tests.rows.find((t) => t.test_name === `${c.suite}: ${c.name}`);
      expect(row, c.name).toBeDefined();
      expect(row!.test_category).toBe(c.suite);
      expect(row!.test_status).toBe(
        { pass: 'passed', warn: 'passed', fail: 'failed', skip: 'skipped' }[c.status],
      );
    }
    const all = JSON.stringify([rep.rows, tests.rows]);
    expect(all).not.toContain(SECRET);
  });

  it('Then the terminal table lists every check with its status and a summary line', async () => {
    const r = await run([
      'validate',
      '--bundle',
      bundle,
      '--trusted-key',
      pub,
      '--registry',
      registry.host,
      '--suite',
      'registry',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^SUITE\s+CHECK\s+STATUS\s+REASON/m);
    expect(r.stdout).toMatch(/registry\s+image docker\.io\/demo\/hello:1\.0\s+✓ pass/);
    expect(r.stdout).toMatch(/checks: \d+ passed, 0 warning\(s\), 0 failed/);
  });
});

describe('corruption turns the right check red (exit 70)', () => {
  it('Given a flipped byte in a model blob, Then models fails for that model naming the corrupt blob', async () => {
    const copy = join(work, 'ollama-corrupt');
    await cp(store, copy, { recursive: true });
    const weights = await largestFile(join(copy, 'blobs'));
    const fh = await openFile(weights.path, 'r+');
    const at = Math.floor(weights.size / 2);
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
    const r = await validate(['--suite', 'models', '--bundle', bundle, '--ollama-store', copy], 70);
    const c = checkNamed(r, 'models', `store ${copy} assist:1.0`);
    expect(c.status).toBe('fail');
    expect(c.reason).toContain('corrupt');
    expect(c.details.join('\n')).toContain(weights.path);
    expect(c.fix).toBeTruthy();
    // the intact store beside it still passes
    const ok = await validate(['--suite', 'models', '--bundle', bundle, '--ollama-store', store], 0);
    expect(ok.summary.fail).toBe(0);
  });

  it('Given a blob deleted from the registry storage, Then registry fails for the artifact that uses it', async () => {
    const blob = await largestFile(join(registry.storage, 'docker', 'registry', 'v2', 'blobs'));
    const digest = `sha256:${blob.path.split('/').at(-2)}`;
    const aside = join(work, 'blob-aside');
    await cp(blob.path, aside);
    await rm(blob.path);
    try {
      const r = await validate(['--suite', 'registry', '--bundle', bundle, '--registry', registry.host], 70);
      const failed = checksOf(r, 'registry').filter((c) => c.status === 'fail');
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed.flatMap((c) => c.details).join('\n')).toContain(digest);
      expect(checkNamed(r, 'registry', 'reachable').status).toBe('pass');
    } finally {
      await cp(aside, blob.path);
    }
    await validate(['--suite', 'registry', '--bundle', bundle, '--registry', registry.host], 0);
  });

  it('Given a dropped table and then a changed migration, Then database.tables and database.migrations fail', async () => {
    const other = await freshDatabase('kc_validate_db');
    try {
      const m = await run(['db', 'migrate', '--database-url', other.url]);
      expect(m.code, m.stderr).toBe(0);
      let r = await validate(['--suite', 'database', '--database-url', other.url], 0);
      expect(checkNamed(r, 'database', 'deployment').status).toBe('skip');
      await other.pool.query('DROP TABLE help_interactions');
      r = await validate(['--suite', 'database', '--database-url', other.url], 70);
      expect(checkNamed(r, 'database', 'tables')).toMatchObject({ status: 'fail' });
      expect(checkNamed(r, 'database', 'tables').reason).toContain('help_interactions');
      expect(checkNamed(r, 'database', 'migrations').status).toBe('pass');
      await other.pool.query(`UPDATE kubechat_schema_migrations SET checksum = $1 WHERE version = 2`, [
        '0'.repeat(64),
      ]);
      r = await validate(['--suite', 'database', '--database-url', other.url], 70);
      const mig = checkNamed(r, 'database', 'migrations');
      expect(mig.status).toBe('fail');
      expect(mig.reason).toMatch(/drift.*V2/);
      // the run is still recorded (airgap_tests and validation_reports are intact)
      expect(r.recorded?.error).toBeNull();
      const rows = await other.pool.query(
        `SELECT test_status FROM airgap_tests WHERE test_name = 'database: migrations'`,
      );
      expect(rows.rows.map((x: { test_status: string }) => x.test_status)).toEqual(
        expect.arrayContaining(['passed', 'failed']),
      );
    } finally {
      await other.drop();
    }
  });

  it('Given a database that is not there, Then database.reachable fails and nothing is recorded', async () => {
    const port = await freePort();
    const r = await validate(
      ['--suite', 'database', '--database-url', `postgres://u:${SECRET}@127.0.0.1:${port}/x`],
      70,
    );
    expect(checkNamed(r, 'database', 'reachable').status).toBe('fail');
    expect(r.recorded?.validationReportId).toBeNull();
    expect(r.recorded?.error).toMatch(/not recorded/);
  });

  it('Given a missing version tag in the store, Then models warns: exit 0, or 4 with --fail-on warn', async () => {
    const copy = join(work, 'ollama-no-version-tag');
    await cp(store, copy, { recursive: true });
    const dir = join(copy, 'manifests', 'registry.ollama.ai', 'library', 'assist');
    const version = (await readdir(dir)).find((f) => f.startsWith('1.0-'))!;
    await rm(join(dir, version));
    const args = ['--suite', 'models', '--bundle', bundle, '--ollama-store', copy];
    const r = await validate(args, 0);
    expect(checkNamed(r, 'models', 'store').status).toBe('warn');
    const w = await validate([...args, '--fail-on', 'warn'], 71);
    expect(w.ok).toBe(false);
  });
});

describe('airgap: egress probes (loopback only here)', () => {
  let server: Server;
  let open: number;
  beforeAll(async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('Given an open local port as the probe target, Then the airgap suite fails (exit 70)', async () => {
    const r = await validate(['--suite', 'airgap', '--egress-probe', `127.0.0.1:${open}`], 70);
    const c = checkNamed(r, 'airgap', `tcp 127.0.0.1:${open}`);
    expect(c.status).toBe('fail');
    expect(c.reason).toContain('egress');
    expect(checksOf(r, 'airgap')).toHaveLength(1); // an address: no DNS lookup
  });

  it('Given a closed local port, Then the airgap suite passes (exit 0)', async () => {
    const closed = await freePort();
    const r = await validate(['--suite', 'airgap', '--egress-probe', `127.0.0.1:${closed}`], 0);
    expect(checkNamed(r, 'airgap', `tcp 127.0.0.1:${closed}`).reason).toContain('ECONNREFUSED');
  });

  it('Given no network at all (unshare -n), Then the default public probes are all blocked (exit 0)', async () => {
    if ((await sh('unshare -n true')).code !== 0) return; // needs root (CI runs the suite as root)
    const r = await kubechat(['validate', '--suite', 'airgap', '--egress-timeout', '2', '--json'], {
      wrap: ['unshare', '-n'],
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    conforms(r.stdout, 'validate');
    const report = JSON.parse(r.stdout) as Report;
    const names = checksOf(report, 'airgap').map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'tcp registry-1.docker.io:443',
        'tcp 8.8.8.8:53',
        'dns ghcr.io',
        'resolver 1.1.1.1',
      ]),
    );
    expect(checksOf(report, 'airgap').every((c) => c.status === 'pass')).toBe(true);
  });
});

describe('inputs, usage and security', () => {
  it('Given no inputs for a suite and --allow-empty, Then it is skipped with the reason, and exit is 0', async () => {
    const r = await validate(
      ['--suite', 'registry', '--suite', 'models', '--suite', 'database', '--allow-empty'],
      0,
    );
    for (const s of r.suites) {
      expect(s.status).toBe('skip');
      expect(s.skipped).toMatch(/^no --/);
    }
  });

  it('Given no --suite and no --egress-probe, Then airgap is skipped: no packet towards a public host unasked', async () => {
    // Inside unshare -n when possible, so even a regression could not reach out from a test.
    const wrap = (await sh('unshare -n true')).code === 0 ? ['unshare', '-n'] : [];
    const r = await kubechat(['validate', '--json', '--allow-empty'], { wrap });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    const airgap = report.suites.find((s) => s.name === 'airgap')!;
    expect(airgap.status).toBe('skip');
    expect(airgap.skipped).toContain('--suite airgap');
    expect(airgap.checks).toEqual([]);
  });

  it('Given bad flags, Then exit 2 with error and fix', async () => {
    for (const args of [
      ['--suite', 'nonsense'],
      ['--suite', 'airgap', '--egress-probe', 'no-port-here'],
      ['--free-port', 'x:y'],
    ]) {
      const r = await run(['validate', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error: /);
    }
  });

  it('Given a --junit path that cannot be written, Then exit 8 and no partial file is left', async () => {
    const ro = join(work, 'missing-dir', 'report.xml');
    const r = await run(['validate', '--suite', 'registry', '--allow-empty', '--junit', ro]);
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toMatch(/error: .*missing-dir: no such directory/);
    expect(await stat(join(work, 'missing-dir')).catch(() => undefined)).toBeUndefined();
  });

  it('Given --help, Then the suites and validate’s own exit codes are explained', async () => {
    const r = await run(['validate', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['preflight', 'bundle', 'registry', 'models', 'database', 'security', 'airgap'])
      expect(r.stdout).toContain(`  ${s} `);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(
      /0 every check passed.*70 a check failed.*71 warnings only/,
    );
  });

  it('Given an unsigned bundle, Then bundle.signature fails; with --allow-unsigned it warns', async () => {
    const spec = await ws.spec('1.0.1');
    const c = await run(['bundle', 'create', '-f', spec, '-o', join(work, 'unsigned'), '--json']);
    expect(c.code, c.stderr).toBe(0);
    const unsigned = (JSON.parse(c.stdout) as { bundle: string }).bundle;
    const r = await validate(['--suite', 'bundle', '--bundle', unsigned], 70);
    expect(checkNamed(r, 'bundle', 'signature').status).toBe('fail');
    expect(checkNamed(r, 'bundle', 'integrity').status).toBe('pass');
    const w = await validate(['--suite', 'bundle', '--bundle', unsigned, '--allow-unsigned'], 0);
    expect(checkNamed(w, 'bundle', 'signature').status).toBe('warn');
  });

  it('Given a world-readable private key and a default database password, Then security fails without showing either', async () => {
    const key = join(work, 'world.key');
    await writeFile(key, '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n');
    await chmod(key, 0o644);
    const good = join(work, 'good.key');
    await writeFile(good, '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    await chmod(good, 0o600);
    const u = new URL(pg.url);
    u.username = 'postgres';
    u.password = 'postgres';
    const r = await validate(
      [
        '--suite',
        'security',
        '--secret-file',
        key,
        '--secret-file',
        good,
        '--database-url',
        u.toString(),
        '--ollama',
        'http://10.255.255.1:11434',
      ],
      70,
    );
    expect(checkNamed(r, 'security', `file ${key}`)).toMatchObject({ status: 'fail' });
    expect(checkNamed(r, 'security', `file ${key}`).fix).toBe(`chmod 600 ${key}`);
    expect(checkNamed(r, 'security', `file ${good}`).status).toBe('pass');
    const pw = checkNamed(r, 'security', 'passwords');
    expect(pw.status).toBe('fail');
    expect(pw.reason).toContain('default password');
    expect(JSON.stringify(pw)).not.toMatch(/:postgres@/);
    expect(checkNamed(r, 'security', 'tls ollama').status).toBe('fail');
    // the good configuration passes
    const ok = await validate(['--suite', 'security', '--secret-file', good, '--database-url', dbUrl], 0);
    expect(checkNamed(ok, 'security', 'passwords').status).toBe('pass');
  });

  it('Given a fresh and an installed store, Then preflight.disk counts only what is still to write', async () => {
    const r = await validate(
      ['--suite', 'preflight', '--bundle', bundle, '--ollama-store', join(work, 'fresh-store')],
      0,
    );
    const d = checkNamed(r, 'preflight', 'disk Ollama store');
    expect(d.status).toBe('pass');
    expect(Number(d.data?.needed)).toBeGreaterThan(0);
    expect(checkNamed(r, 'preflight', 'clock').status).toBe('pass');
    // the installed store needs nothing more
    const again = await validate(['--suite', 'preflight', '--bundle', bundle, '--ollama-store', store], 0);
    expect(checkNamed(again, 'preflight', 'disk Ollama store').data?.needed).toBe(0);
  });
});

describe('install runs preflight before and the target suites after', () => {
  interface InstallOut {
    validation: null | {
      preflight: { ok: boolean; suites: string[] };
      post: null | {
        ok: boolean;
        suites: string[];
        validationReportId: string | null;
        problems: Array<{ suite: string; reason: string }>;
      };
    };
  }

  it('Given a clean install, Then --json carries both runs and the post-install run is recorded', async () => {
    conforms(installedJson, 'install');
    const v = (JSON.parse(installedJson) as InstallOut).validation!;
    expect(v.preflight).toMatchObject({ ok: true, suites: ['preflight'] });
    expect(v.post).toMatchObject({ ok: true, suites: ['registry', 'models', 'database'] });
    const row = await pg.pool.query<{
      validation_type: string;
      passed: boolean;
      deployment_id: string | null;
    }>('SELECT validation_type, passed, deployment_id FROM validation_reports WHERE id = $1', [
      v.post!.validationReportId,
    ]);
    expect(row.rows[0]).toMatchObject({
      validation_type: 'kubechat install: post-install validation',
      passed: true,
    });
    expect(row.rows[0]!.deployment_id).not.toBeNull();
  });

  it('Given a store holding a corrupt blob of the right size, Then install skips it and post-install validation fails with exit 34', async () => {
    const target = join(work, 'ollama-preexisting');
    await cp(join(store, 'blobs'), join(target, 'blobs'), { recursive: true });
    const weights = await largestFile(join(target, 'blobs'));
    const fh = await openFile(weights.path, 'r+');
    await fh.write(Buffer.from([0x00, 0x01, 0x02, 0x03]), 0, 4, Math.floor(weights.size / 3));
    await fh.close();
    const r = await kubechat(['install', bundle, '--ollama-store', target, '--trusted-key', pub], {
      env: { KUBECHAT_STATE_DIR: join(work, 'state-34'), KUBECHAT_DATABASE_URL: '' },
    });
    expect(r.code, r.stdout + r.stderr).toBe(34);
    expect(r.stderr).toMatch(/error: installed, but post-install validation failed: models store .*corrupt/);
    expect(r.stderr).toMatch(/fix: /);
    const j = await kubechat(['install', bundle, '--ollama-store', target, '--trusted-key', pub, '--json'], {
      env: { KUBECHAT_STATE_DIR: join(work, 'state-34b'), KUBECHAT_DATABASE_URL: '' },
    });
    expect(j.code).toBe(34);
    conforms(j.stdout, 'install');
    expect((JSON.parse(j.stdout) as InstallOut).validation!.post!.problems[0]!.suite).toBe('models');
    // --no-validate: the install itself succeeds (it trusts sizes on a re-run), and says no validation ran
    const n = await kubechat(
      ['install', bundle, '--ollama-store', target, '--trusted-key', pub, '--no-validate', '--json'],
      {
        env: { KUBECHAT_STATE_DIR: join(work, 'state-34c'), KUBECHAT_DATABASE_URL: '' },
      },
    );
    expect(n.code, n.stderr).toBe(0);
    expect((JSON.parse(n.stdout) as InstallOut).validation).toBeNull();
  });

  it('Given a bundle created in the future, Then preflight refuses it with exit 33 and nothing is written', async () => {
    const spec = await ws.spec('1.0.2');
    const future = String(Math.floor(Date.now() / 1000) + 86_400);
    const c = await kubechat(
      [
        'bundle',
        'create',
        '-f',
        spec,
        '-o',
        join(work, 'future'),
        '--key',
        join(work, 'release.key'),
        '--json',
      ],
      {
        env: { SOURCE_DATE_EPOCH: future },
      },
    );
    expect(c.code, c.stderr).toBe(0);
    const futureBundle = (JSON.parse(c.stdout) as { bundle: string }).bundle;
    const target = join(work, 'never-written');
    const r = await kubechat(['install', futureBundle, '--ollama-store', target, '--trusted-key', pub], {
      env: { KUBECHAT_STATE_DIR: join(work, 'state-33'), KUBECHAT_DATABASE_URL: '' },
    });
    expect(r.code, r.stderr).toBe(33);
    expect(r.stderr).toMatch(
      /error: preflight failed, nothing was written: preflight clock: the bundle was created/,
    );
    expect(await stat(target).catch(() => undefined)).toBeUndefined();
  });
});

describe('registry over TLS, and an OCI layout', () => {
  it('Given a TLS registry whose certificate expires within 30 days, Then tls warns with the date; without its CA, tls and reachable fail', async () => {
    const certs = await makeCertificates();
    const tlsRegistry = await startRegistry({ tls: { cert: certs.cert, key: certs.key } });
    try {
      const i = await run([
        'install',
        bundle,
        '--registry',
        tlsRegistry.host,
        '--registry-ca',
        certs.ca,
        '--trusted-key',
        pub,
      ]);
      expect(i.code, i.stderr).toBe(0);
      const args = ['--suite', 'registry', '--bundle', bundle, '--registry', tlsRegistry.host];
      const r = await validate([...args, '--registry-ca', certs.ca], 0);
      const tls = checkNamed(r, 'registry', 'tls');
      expect(tls.status).toBe('warn'); // the test certificates live one day
      expect(tls.reason).toMatch(/certificate of 127\.0\.0\.1 expires in 0 day\(s\)/);
      expect(tls.data).toMatchObject({ subject: '127.0.0.1', issuer: 'kubechat test CA' });
      expect(checkNamed(r, 'registry', 'image docker.io/demo/hello:1.0').status).toBe('pass');
      await validate([...args, '--registry-ca', certs.ca, '--fail-on', 'warn'], 71);
      const untrusted = await validate(args, 70);
      expect(checkNamed(untrusted, 'registry', 'reachable').reason).toMatch(/TLS certificate not trusted/);
      expect(checkNamed(untrusted, 'registry', 'tls').status).toBe('fail');
    } finally {
      await tlsRegistry.stop();
    }
  });

  it('Given an OCI layout target, Then every artifact is checked in index.json and blobs/, and a missing blob fails', async () => {
    const layout = join(work, 'layout');
    const i = await run(['install', bundle, '--registry', `oci:${layout}`, '--trusted-key', pub]);
    expect(i.code, i.stderr).toBe(0);
    const args = [
      '--suite',
      'registry',
      '--suite',
      'preflight',
      '--bundle',
      bundle,
      '--registry',
      `oci:${layout}`,
    ];
    const r = await validate(args, 0);
    expect(checkNamed(r, 'registry', 'tls').status).toBe('skip');
    expect(checkNamed(r, 'registry', 'chart').status).toBe('pass');
    expect(checkNamed(r, 'preflight', 'disk oci:').data?.needed).toBe(0);
    const blob = await largestFile(join(layout, 'blobs', 'sha256'));
    await rm(blob.path);
    const bad = await validate(args, 70);
    const failed = checksOf(bad, 'registry').filter((c) => c.status === 'fail');
    expect(failed.flatMap((c) => c.details).join('\n')).toContain(
      `blob sha256:${blob.path.split('/').at(-1)} missing`,
    );
  });
});
