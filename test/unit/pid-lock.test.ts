/** The pid lock: one holder at a time, within a process and across processes, and a dead holder's lock taken over once. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pidLock } from '../../src/lib/pid-lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-pidlock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const fsError = (err: unknown) => err as Error;

/** Runs `n` lockers at once, each holding the lock for a moment; returns the most that held it at once. */
async function contend(path: string, n: number): Promise<number> {
  let inside = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const release = (await pidLock(path, { fsError, pollMs: 2 }))!;
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 3));
      inside--;
      await release();
    }),
  );
  return most;
}

/** A pid that is not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('pidLock', () => {
  it('Given twenty lockers at once, Then one holds it at a time and nothing is left behind', async () => {
    const path = join(dir, 'state.lock');
    expect(await contend(path, 20)).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('Given a lock left by a dead process and twenty lockers finding it at once, Then it is broken once and one holds it at a time', async () => {
    const path = join(dir, 'state.lock');
    for (let round = 0; round < 5; round++) {
      await writeFile(path, String(await deadPid()));
      expect(await contend(path, 20)).toBe(1);
      expect(existsSync(path)).toBe(false);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('Given a lock file that names no pid (empty, or garbage), Then it is taken over', async () => {
    for (const text of ['', 'not a pid']) {
      const path = join(dir, 'state.lock');
      await writeFile(path, text);
      const release = await pidLock(path, { fsError, pollMs: 2 });
      expect(release).toBeDefined();
      await release!();
      expect(await readdir(dir)).toEqual([]);
    }
  });
});
