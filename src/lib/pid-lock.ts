/**
 * A lock file holding the owner's pid, created with O_EXCL: the simplest lock that works across
 * processes on one host and never outlives a crash (a lock whose pid is gone is taken over).
 * Used where a read-modify-write of a small state file, or one download, must not run twice at once.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';

let taken = 0;

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface PidLockOptions {
  /** Checked while another live process holds the lock: true = the work is done, stop waiting. */
  done?: () => Promise<boolean>;
  /** Turns a file-system error (no such directory, read-only, full) into the caller's error. */
  fsError: (err: unknown, path: string) => Error;
  pollMs?: number;
}

/**
 * Takes the lock at `path`, waiting while a live process holds it. Returns the release function, or
 * undefined when `done` said the holder finished the work meanwhile.
 */
export async function pidLock(
  path: string,
  options: PidLockOptions,
): Promise<(() => Promise<void>) | undefined> {
  for (;;) {
    // The lock appears with its pid already in it (written beside it, then hard-linked into place):
    // created empty and then written, a waiter reading it in between would see no live holder and
    // remove a lock that is held.
    const mine = `${path}.${process.pid}-${++taken}`;
    try {
      await writeFile(mine, String(process.pid));
      await link(mine, path);
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw options.fsError(err, path);
    } finally {
      await rm(mine, { force: true });
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (!isAlive(holder)) {
      await rm(path, { force: true });
      continue;
    }
    if (options.done && (await options.done())) return undefined;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
}
