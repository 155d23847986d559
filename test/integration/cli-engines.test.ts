/**
 * bin/run.js checks kubechat's own `engines.node`, not oclif's, and says how to get the right Node;
 * and it ends quietly when whoever reads its output has gone.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubechat, ROOT } from '../support/cli.js';

const engines = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
).engines.node;

/** A Node on the PATH outside this package that is older than engines.node (the machine's own Node 20). */
function olderSystemNode(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules'));
  const [wantMajor, wantMinor] = /(\d+)\.(\d+)/.exec(engines)!.slice(1).map(Number) as [number, number];
  for (const dir of dirs) {
    const bin = join(dir, 'node');
    const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [major, minor] = r.stdout.trim().split('.').map(Number) as [number, number];
    if (major < wantMajor || (major === wantMajor && minor < wantMinor)) return bin;
  }
  return undefined;
}

describe('Node version check', () => {
  it('runs quietly on a Node that meets engines.node', async () => {
    const r = await kubechat(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kubechat\/\d/);
    expect(r.stderr).not.toMatch(/needs Node|Node version must be/);
  });

  const old = olderSystemNode();
  it.skipIf(!old)('warns on an older Node with kubechat’s requirement and the fix, not oclif’s', () => {
    const r = spawnSync(old!, [join(ROOT, 'bin', 'run.js'), '--version'], { encoding: 'utf8' });
    expect(r.stderr).toContain(`kubechat needs Node ${engines}`);
    expect(r.stderr).toContain('npx kubechat');
    expect(r.stderr).not.toContain('Node version must be');
  });
});

describe('a closed stdout', () => {
  it('Given a reader that exits at once, When kubechat writes to it, Then it ends quietly with 0', () => {
    // `true` exits before Node has started, so the first write meets a closed pipe (EPIPE).
    const r = spawnSync(
      'bash',
      ['-c', `'${process.execPath}' '${join(ROOT, 'bin', 'run.js')}' --help | true; exit \${PIPESTATUS[0]}`],
      { encoding: 'utf8' },
    );
    expect(r.stderr).not.toMatch(/unsettled top-level await|EPIPE/);
    expect(r.status).toBe(0);
  });
});
