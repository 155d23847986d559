/** What every benchmark in test/bench shares: where its scratch data goes, and the median it reports. */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../support/cli.js';

/** The middle value (the upper one for an even count) of `xs`. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A fresh scratch directory under $KUBECHAT_BENCH_DIR (a big disk), else the temp dir. */
export async function benchDir(prefix: string): Promise<string> {
  const base = process.env.KUBECHAT_BENCH_DIR ?? tmpdir();
  await mkdir(base, { recursive: true });
  return mkdtemp(join(base, prefix));
}

/**
 * Wall and CPU seconds (user + system, all processes of the command) of a bash command, under GNU
 * time, and what it printed on stdout.
 */
export function timedCpu(cmd: string): { wall: number; cpu: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', 'bash', '-o', 'pipefail', '-c', cmd], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  const [wall, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall: wall!, cpu: user! + sys!, stdout: r.stdout };
}

/** A module of the built CLI (dist/), for benchmarks that time library calls without process start-up. */
export const loadBuilt = <T>(path: string): Promise<T> =>
  import(pathToFileURL(join(ROOT, 'dist', path)).href) as Promise<T>;
