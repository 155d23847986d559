/**
 * A new user's first hour (issue 24), at the CLI: a validate run with nothing to check is a usage
 * error, piped output is never cut, and a password typed where a variable's name belongs is never echoed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubechat } from '../support/cli.js';

describe('kubechat validate with no inputs', () => {
  it('Given no flags, Then it is a usage error (exit 2) that says how to name what to check', async () => {
    const r = await kubechat(['validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'error: nothing to validate: every suite and check was skipped for lack of inputs\n',
    );
    expect(r.stderr).toContain('or pass --allow-empty');
    expect(r.stdout).toBe('');
  });

  it('Given --json, Then the usage error is JSON on stdout', async () => {
    const r = await kubechat(['validate', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { kind: 'usage', exitCode: 2 } });
  });

  it('Given --allow-empty, Then every suite is skipped and it exits 0', async () => {
    const r = await kubechat(['validate', '--allow-empty']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0 failed, \d+ skipped/);
  });

  it('Given output to a pipe, Then no reason is cut with an ellipsis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubechat-first-hour-'));
    const file = join(dir, 'x'.repeat(180));
    writeFileSync(file, 'secret', { mode: 0o666 });
    const r = await kubechat(['validate', '--secret-file', file]);
    expect(r.stdout).toContain(file);
    expect(r.stdout).not.toContain('…');
  });
});

describe('--registry-auth with a password where the variable name belongs', () => {
  it('Then the error never echoes it, says the third part names a variable, and exits 3', async () => {
    for (const json of [false, true]) {
      const r = await kubechat([
        'install',
        '/nonexistent.kcb.tar.zst',
        '--registry',
        '127.0.0.1:1',
        '--registry-auth',
        '127.0.0.1:1=robot:Tr0ub4dor3xyz',
        ...(json ? ['--json'] : []),
      ]);
      expect(r.code).toBe(3);
      expect(r.stdout + r.stderr).not.toContain('Tr0ub4dor3xyz');
      expect(r.stdout + r.stderr).toContain('must name an environment variable that holds the password');
    }
  });
});
