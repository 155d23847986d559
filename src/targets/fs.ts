/**
 * Writing files into a target directory so a kill at any point leaves nothing half-written under a
 * final name: data goes to `.<name>.partial-<pid>-<n>` beside it, is fsynced, then renamed.
 */
import { mkdir, readdir, rm, rename, stat, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { targetError } from '../lib/errors.js';
import { onInterrupt } from '../lib/interrupt.js';

let counter = 0;
const PARTIAL = '.partial-';

// Ctrl-C / SIGTERM: partial files are removed before the process exits (kill -9 leaves them to the
// next run's prepare). A file opening while the signal arrives may appear just after the first
// sweep, hence the second one; no new write starts once `stopping` is set.
const live = new Set<string>();
/** Never settles: work caught by an interrupt waits here for the handler's exit. */
const interrupted = () => new Promise<never>(() => undefined);
let stopping = false;
let watching = false;
function watchInterrupt(): void {
  if (watching) return;
  watching = true;
  onInterrupt(async () => {
    stopping = true;
    const sweep = () => Promise.all([...live].map((p) => rm(p, { force: true })));
    await sweep();
    await new Promise((r) => setTimeout(r, 100));
    await sweep();
  });
}

export function describeWriteError(err: unknown, path: string): Error {
  if (err instanceof Error && err.name === 'KubechatError') return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const fix =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? `free space on the disk holding ${dirname(path)}, then run install again (it resumes)`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `give the current user write access to ${dirname(path)}`
        : 'run install again: it resumes where it stopped';
  const what =
    code === 'ENOSPC' ? 'no space left on device' : code ? `${code}` : ((err as Error)?.message ?? 'failed');
  return targetError(`${path}: cannot write (${what})`, fix, err);
}

/** Streams `data` into `path` atomically. If `data` throws (digest mismatch), nothing is left. */
export async function writeFileAtomic(
  path: string,
  data: AsyncIterable<Buffer>,
  mode = 0o644,
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}${PARTIAL}${process.pid}-${counter++}`);
  if (stopping) await interrupted();
  watchInterrupt();
  live.add(tmp);
  try {
    await mkdir(dirname(path), { recursive: true });
    // Each chunk is written before the next is asked for: a chunk may be a view of a read buffer the
    // bundle reader fills again soon after (see Channel), so none may wait in a write queue.
    const fh = await open(tmp, 'w', mode);
    try {
      for await (const chunk of data) {
        for (let at = 0; at < chunk.length;) at += (await fh.write(chunk, at)).bytesWritten;
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    // Interrupted: the signal handler exits with 130/143; failing here would race it with exit 30.
    if (stopping) await interrupted();
    throw describeWriteError(err, path);
  } finally {
    live.delete(tmp);
  }
}

export async function writeBytesAtomic(path: string, bytes: Buffer, mode = 0o644): Promise<void> {
  await writeFileAtomic(
    path,
    (async function* () {
      yield bytes;
    })(),
    mode,
  );
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Removes partial files a killed run left in `dir` (not recursive). */
export async function removePartials(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((n) => n.startsWith('.') && n.includes(PARTIAL))
      .map((n) => rm(join(dir, n), { force: true })),
  );
}
