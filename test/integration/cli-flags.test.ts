/**
 * The CLI layer's one-meaning rules, held against the built CLI (oclif.manifest.json, bin/run.js):
 * a shared flag has one definition wherever it appears, the old boolean --insecure-registry still
 * works with a warning, and every flag a low layer's fix asks for ({flag:NAME}) is a real flag.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIX_FLAGS, fixForCommand } from '../../src/cli/fix-flags.js';
import { rewriteBareInsecureRegistry } from '../../src/cli/registry-flags.js';
import { KubechatError } from '../../src/lib/errors.js';
import { fixFlagNames } from '../../src/lib/fix.js';
import { kubechat, ROOT } from '../support/cli.js';

interface ManifestFlag {
  type: string;
  multiple?: boolean;
  summary?: string;
  description?: string;
  env?: string;
  helpValue?: string;
}
const manifest = async () =>
  JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, { flags: Record<string, ManifestFlag> }>;
  };

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('shared flags: one definition, one meaning', () => {
  const SHARED = [
    'database-url',
    'insecure-registry',
    'registry-ca',
    'registry-auth',
    'trust-dir',
    'cache-dir',
  ];

  it('Then every command that has one of them has the same definition', async () => {
    const { commands } = await manifest();
    for (const name of SHARED) {
      const defs = Object.entries(commands)
        .filter(([, c]) => c.flags[name])
        .map(([id, c]) => {
          const { type, multiple, summary, description, env, helpValue } = c.flags[name]!;
          return [id, JSON.stringify({ type, multiple, summary, description, env, helpValue })] as const;
        });
      expect(defs.length, name).toBeGreaterThan(1);
      expect(new Set(defs.map(([, d]) => d)).size, `${name}: ${JSON.stringify(defs, null, 1)}`).toBe(1);
    }
    expect(commands['db:migrate']!.flags['database-url']).toMatchObject({
      summary: 'The PostgreSQL database to use: postgres://USER:PASSWORD@HOST:PORT/DATABASE.',
      env: 'KUBECHAT_DATABASE_URL',
      helpValue: 'URL',
    });
    for (const id of ['install', 'validate', 'bundle:create'])
      expect(commands[id]!.flags['insecure-registry'], id).toMatchObject({ type: 'option', multiple: true });
  });

  it('Then install --help defines --database-url once, and each command’s description says what it does without it', async () => {
    const help = await kubechat(['install', '--help']);
    expect(help.code, help.stderr).toBe(0);
    const defined = help.stdout.split('\n').filter((l) => /^\s+--database-url=/.test(l));
    expect(defined).toHaveLength(1);
    expect(defined[0]).toContain('The PostgreSQL');
    expect(help.stdout).not.toMatch(/default: the embedded server|Also record the certificates/);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(
      'Without either option, install uses no database at all',
    );

    const { commands } = await manifest();
    const without = (id: string) => (commands[id] as { description?: string }).description ?? '';
    expect(without('db:migrate')).toContain(
      'Without --database-url (or KUBECHAT_DATABASE_URL), kubechat starts its embedded PostgreSQL',
    );
    expect(without('admin:init')).toContain('kubechat starts its embedded PostgreSQL');
    expect(without('ca:issue')).toContain('without it the CA directory is the only record');
    expect(without('models:import')).toContain('nothing is recorded in a database');
    expect(without('validate')).toContain('the database suite is skipped');
  });
});

describe('--insecure-registry HOST, and the old boolean form', () => {
  it('Then the boolean form is rewritten only where it has no HOST', () => {
    const bare = (argv: string[]) =>
      rewriteBareInsecureRegistry(argv).map((a) => a.replace(/\0.*/, '<bare>'));
    expect(bare(['b.kcb', '--insecure-registry'])).toEqual(['b.kcb', '--insecure-registry=<bare>']);
    expect(bare(['--insecure-registry', '--registry', 'r:5000'])).toEqual([
      '--insecure-registry=<bare>',
      '--registry',
      'r:5000',
    ]);
    expect(bare(['--insecure-registry=true'])).toEqual(['--insecure-registry=<bare>']);
    expect(bare(['--insecure-registry=false', 'x'])).toEqual(['x']);
    expect(bare(['--insecure-registry', 'r.local:5443'])).toEqual(['--insecure-registry', 'r.local:5443']);
    // A path, or an existing file such as the bundle argument, is not a HOST.
    expect(bare(['--insecure-registry', '/media/b.kcb.tar.zst'])).toEqual([
      '--insecure-registry=<bare>',
      '/media/b.kcb.tar.zst',
    ]);
    expect(bare(['--insecure-registry', 'package.json'])).toEqual([
      '--insecure-registry=<bare>',
      'package.json',
    ]);
    expect(bare(['--', '--insecure-registry'])).toEqual(['--', '--insecure-registry']);
  });

  it('Given validate with a non-loopback --registry, Then both forms make it insecure, the old one with a warning; --json stays JSON', async () => {
    const host = '10.255.255.1:5000';
    const tlsCheck = async (extra: string[]) => {
      const r = await kubechat(['validate', '--suite', 'security', '--registry', host, ...extra, '--json']);
      const report = JSON.parse(r.stdout) as {
        suites: Array<{ checks: Array<{ name: string; status: string; reason: string }> }>;
      };
      const check = report.suites.flatMap((s) => s.checks).find((c) => c.name === `tls registry ${host}`)!;
      return { r, check };
    };
    const warning = `warning: --insecure-registry without a HOST is deprecated: use --insecure-registry HOST (here: ${host})`;
    for (const form of [['--insecure-registry'], ['--insecure-registry=true']]) {
      const { r, check } = await tlsCheck(form);
      expect(check.status, form.join(' ')).toBe('fail');
      expect(check.reason).toContain('--insecure-registry accepts plain HTTP');
      expect(r.stderr).toContain(warning);
    }
    const named = await tlsCheck(['--insecure-registry', host]);
    expect(named.check.status).toBe('fail');
    expect(named.r.stderr).not.toContain('deprecated');
    const other = await tlsCheck(['--insecure-registry', 'elsewhere.example:5000']);
    expect(other.check.status).toBe('pass');
  });
});

describe('fixes name actions; the CLI layer names the flags', () => {
  it('Then every {flag:NAME} a fix in src uses is in FIX_FLAGS, and every flag FIX_FLAGS names exists on some command', async () => {
    const used = new Map<string, string>();
    for (const file of await sourceFiles(join(ROOT, 'src')))
      for (const name of fixFlagNames(await readFile(file, 'utf8'))) used.set(name, relative(ROOT, file));
    expect(used.size).toBeGreaterThan(10);
    for (const [name, file] of used) expect(FIX_FLAGS, `{flag:${name}} in ${file}`).toHaveProperty([name]);

    const { commands } = await manifest();
    const all = new Set(Object.values(commands).flatMap((c) => Object.keys(c.flags)));
    for (const [name, flags] of Object.entries(FIX_FLAGS))
      for (const f of flags) expect(all.has(f), `FIX_FLAGS.${name}: no command has --${f}`).toBe(true);
  });

  it('Then a fix reads --NAME outside the CLI, and each command’s own flag in it', async () => {
    const err = new KubechatError('caMissing', 'no CA', 'point {flag:ca-dir} at the CA');
    expect(err.fix).toBe('point --ca-dir at the CA');
    expect(fixForCommand(err.fixTemplate!, ['dir', 'json'])).toBe('point --dir at the CA');
    expect(fixForCommand(err.fixTemplate!, ['ca-dir', 'registry'])).toBe('point --ca-dir at the CA');

    const ca = await kubechat(['ca', 'list', '--dir', join(ROOT, 'no-such-ca-dir')]);
    expect(ca.stderr).toContain('fix: run kubechat ca init, or point --dir / KUBECHAT_CA_DIR at the CA');
    const install = await kubechat([
      'install',
      join(ROOT, 'package.json'),
      '--registry',
      '127.0.0.1:1',
      '--issue-certs',
      '--ca-dir',
      join(ROOT, 'no-such-ca-dir'),
    ]);
    expect(install.stderr).toContain(
      'fix: run kubechat ca init, or point --ca-dir / KUBECHAT_CA_DIR at the CA',
    );
  });
});
