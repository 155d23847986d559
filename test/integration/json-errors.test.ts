/**
 * `--json` errors speak the exit-code table: a failed command prints `{error: {kind, exitCode, …}}`
 * where `kind` is a name in src/lib/exit-codes.ts, `exitCode` is that name's code, and the process
 * exits with it. One failing command per area that needs no server.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat } from '../support/cli.js';
import { conforms } from '../support/install-fixture.js';
import { ExitCode, type ExitCodeName } from '../../src/lib/errors.js';
import { EXIT_CODES } from '../../src/lib/exit-codes.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-json-errors-'));
  await writeFile(join(dir, 'not-a-bundle.kcb.tar.zst'), 'not a bundle\n');
  await writeFile(join(dir, 'spec.yaml'), 'apiVersion: kubechat.io/v1\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('--json errors', () => {
  const cases: Array<[ExitCodeName, () => string[]]> = [
    ['usage', () => ['bundle', 'inspect', '--no-such-flag']],
    ['usage', () => ['validate', '--egress-probe', 'no-port-here']],
    ['spec', () => ['bundle', 'create', '-f', join(dir, 'spec.yaml'), '-o', join(dir, 'out')]],
    ['source', () => ['bundle', 'inspect', join(dir, 'missing.kcb.tar.zst')]],
    ['bundleFormat', () => ['bundle', 'inspect', join(dir, 'not-a-bundle.kcb.tar.zst')]],
    ['signature', () => ['keys', 'trust', join(dir, 'missing.pub')]],
    ['dbUnreachable', () => ['db', 'status', '--database-url', 'postgres://127.0.0.1:1/kubechat']],
    ['caMissing', () => ['ca', 'list', '--dir', join(dir, 'no-ca')]],
  ];

  it.each(cases)(
    'Given a command failing with %s, Then kind and exitCode are the table’s',
    async (want, args) => {
      const r = await kubechat([...args(), '--json'], {
        env: { KUBECHAT_TRUST_DIR: join(dir, 'trust'), KUBECHAT_STATE_DIR: join(dir, 'state') },
      });
      conforms(r.stdout, 'error');
      const { error } = JSON.parse(r.stdout) as { error: { kind: string; exitCode: number } };
      expect(
        EXIT_CODES.map((e) => e.name),
        `kind ${error.kind}`,
      ).toContain(error.kind);
      expect(ExitCode[error.kind as ExitCodeName]).toBe(error.exitCode);
      expect(error.kind, r.stdout).toBe(want);
      expect(r.code).toBe(error.exitCode);
    },
  );
});
