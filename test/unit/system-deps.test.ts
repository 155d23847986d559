/**
 * scripts/system-deps.sh: the system tools the tests need, and the exact apt-get line when one is
 * missing; test/support/registry.ts gives the same line when htpasswd is off PATH, and kills every
 * registry it started when the test process ends, even ones the test never got a handle to.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import {
  runningRegistries,
  startRegistry,
  stopAllRegistries,
  type TestRegistry,
} from '../support/registry.js';

/** A PATH holding every tool of the machine's /usr/bin and /bin except `without`. */
function pathWithout(...without: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubechat-path-'));
  for (const bin of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    for (const name of readdirSync(bin)) {
      if (without.includes(name)) continue;
      try {
        symlinkSync(join(bin, name), join(dir, name));
      } catch {
        // the same name in two of them: the first wins, as on PATH
      }
    }
  }
  return dir;
}

const script = join(ROOT, 'scripts', 'system-deps.sh');

describe('scripts/system-deps.sh', () => {
  it('Given every tool on PATH, Then it exits 0 and says nothing', () => {
    const r = spawnSync('bash', [script, 'test', '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('Given htpasswd and skopeo off PATH, Then it names both packages in one exact apt-get line and exits 1', () => {
    const path = pathWithout('htpasswd', 'skopeo');
    const r = spawnSync('/bin/bash', [script, 'test', '--check'], { encoding: 'utf8', env: { PATH: path } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'kubechat: missing system packages: skopeo apache2-utils\n' +
        'fix: sudo apt-get update && sudo apt-get install -y skopeo apache2-utils\n',
    );
  });

  it('Given htpasswd off PATH, Then a test registry with basic auth fails with the install line, and the registry started beside it is stopped', async () => {
    const path = process.env.PATH;
    process.env.PATH = pathWithout('htpasswd');
    let results: PromiseSettledResult<TestRegistry>[];
    try {
      results = await Promise.allSettled([
        startRegistry(),
        startRegistry({ auth: { username: 'u', password: 'p' } }),
      ]);
    } finally {
      process.env.PATH = path;
    }
    expect(results[0]!.status).toBe('fulfilled');
    expect(results[1]!.status).toBe('rejected');
    expect(String((results[1] as PromiseRejectedResult).reason)).toContain(
      'htpasswd is not installed: sudo apt-get install -y apache2-utils',
    );
    const pids = runningRegistries();
    expect(pids).toHaveLength(1);
    await stopAllRegistries();
    expect(runningRegistries()).toEqual([]);
    expect(() => process.kill(pids[0]!, 0)).toThrow();
  });
});
