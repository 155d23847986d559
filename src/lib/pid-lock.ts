/**
 * A lock file holding the owner's pid, created with O_EXCL: the simplest lock that works across
 * processes on one host and never outlives a crash (a lock whose pid is gone is taken over).
 * Used where a read-modify-write of a small state file, or one download, must not run twice at once.
 */
import { link, readFile, rm, stat, writeFile } from 'node:fs/promises';

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
    const holder = await holderOf(path);
    if (holder !== undefined && !isAlive(holder)) {
      await breakStale(path, holder).catch((err: unknown) => {
        throw options.fsError(err, path);
      });
      continue;
    }
    if (options.done && (await options.done())) return undefined;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
}

/** The pid in the lock file; undefined when it is gone (released meanwhile: try again). */
async function holderOf(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number(text);
}

/** A breaker left by a process that died while breaking a lock (it holds it for a moment only). */
const BREAKER_STALE_MS = 10_000;

/**
 * Removes the lock of `dead`, a holder that is no longer running, under a second lock: two waiters
 * that both saw the dead holder must not both remove "the" lock, or the second removes the one the
 * first has just taken. Under the breaker the lock is read again and removed only if it still names
 * the dead holder.
 */
async function breakStale(path: string, dead: number): Promise<void> {
  const breaker = `${path}.break`;
  try {
    await writeFile(breaker, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = await stat(breaker).then(
      (st) => Date.now() - st.mtimeMs,
      () => 0,
    );
    if (age > BREAKER_STALE_MS) await rm(breaker, { force: true });
    else await new Promise((r) => setTimeout(r, 5)); // another waiter is breaking it
    return;
  }
  try {
    if (Object.is(await holderOf(path), dead)) await rm(path, { force: true }); // NaN: not a pid at all
  } finally {
    await rm(breaker, { force: true });
  }
}
