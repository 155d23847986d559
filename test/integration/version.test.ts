/** `kubechat version` and `--version`: the version, the commit it was built from, when, Node, platform. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubechat, ROOT } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();

describe('kubechat version', () => {
  it('Given --json, Then it prints the version, the commit built, the build date, Node and the platform', async () => {
    const r = await kubechat(['version', '--json']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(v).toMatchObject({
      version: pkg.version,
      commit: head,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    });
    expect(typeof v.dirty).toBe('boolean');
    expect(Date.parse(v.built as string)).not.toBeNaN();
  });

  it('Given no flags, Then each field is on its own labelled line', async () => {
    const r = await kubechat(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`kubechat ${pkg.version}\n`);
    expect(r.stdout).toMatch(new RegExp(`^commit +${head}`, 'm'));
    expect(r.stdout).toMatch(/^built +\d{4}-\d\d-\d\dT/m);
    expect(r.stdout).toContain(`node      ${process.version}`);
  });

  it('Given --version, Then one line carries the commit and the build date after oclif’s user agent', async () => {
    const r = await kubechat(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(
      new RegExp(
        `^kubechat/${pkg.version.replace(/\./g, '\\.')} ${process.platform}-${process.arch} node-${process.version} \\(commit ${head.slice(0, 12)}(\\+dirty)?, built \\d{4}-\\d\\d-\\d\\d\\)$`,
      ),
    );
  });
});
