/**
 * Atomic file writes, the one implementation every layer uses: the data goes to a temp file
 * `.<name>.partial-<pid>-<n>` in the same directory (so the rename cannot cross file systems), is
 * given its mode (by chmod: the umask does not narrow it) and flushed to disk, then renamed over the
 * final name. A kill at any point leaves either the old file or the new one, never half of one;
 * Ctrl-C / SIGTERM also removes the temp files (kill -9 leaves them to `removePartials`).
 *
 * Errors are the file system's (with their `code`); each caller says what they mean for its user.
 */
import { link, lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeFsError, outputError } from './errors.js';
import { interruptedBy, onInterrupt } from './interrupt.js';

const PARTIAL = '.partial-';
let counter = 0;

// Temp files being written or staged. An interrupt removes them; a file opening while the signal
// arrives may appear just after the first sweep, hence the second one.
const live = new Set<string>();
let watching = false;
function watchInterrupt(): void {
  if (watching) return;
  watching = true;
  onInterrupt(async () => {
    const sweep = () => Promise.all([...live].map((p) => rm(p, { force: true })));
    await sweep();
    await new Promise((r) => setTimeout(r, 100));
    await sweep();
  });
}

/**
 * Never settles: work caught by an interrupt waits here for the signal handler's exit (130/143)
 * instead of failing and racing it with another exit code.
 */
async function stopIfInterrupted(): Promise<void> {
  if (interruptedBy() !== undefined) await new Promise<never>(() => undefined);
}

export interface AtomicWriteOptions {
  /** The file's mode, exactly (default 0o644). */
  mode?: number;
  /**
   * false: never replace an existing file. The final name is then created with link(2), which fails
   * with EEXIST if it exists, even when another process creates it meanwhile.
   */
  overwrite?: boolean;
  /** Create the parent directory (and its parents) first. */
  mkdir?: boolean;
}

/** A temp file fully written and flushed, not yet under its final name. */
export interface StagedFile {
  readonly path: string;
  readonly temp: string;
  /** Moves the temp file to `path` (see AtomicWriteOptions.overwrite). */
  commit(): Promise<void>;
  /** Removes the temp file. */
  abort(): Promise<void>;
}

export type AtomicData = string | Uint8Array | AsyncIterable<Uint8Array>;

/**
 * Writes `data` to a temp file beside `path` and returns it staged, for callers that must commit
 * several files together or only once other work succeeded. If `data` throws (a digest mismatch),
 * the temp file is removed and the error rethrown.
 */
export async function stageAtomic(
  path: string,
  data: AtomicData,
  options: AtomicWriteOptions = {},
): Promise<StagedFile> {
  const { mode = 0o644, overwrite = true } = options;
  await stopIfInterrupted();
  watchInterrupt();
  const temp = join(dirname(path), `.${basename(path)}${PARTIAL}${process.pid}-${counter++}`);
  live.add(temp);
  const abort = async () => {
    await rm(temp, { force: true });
    live.delete(temp);
  };
  try {
    if (options.mkdir) await mkdir(dirname(path), { recursive: true });
    if (!overwrite && (await exists(path))) throw existsError(path);
    // 'wx': a stale file or a planted symlink at the temp name is never written through.
    const fh = await open(temp, 'wx', mode).catch(async (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await rm(temp, { force: true });
      return open(temp, 'wx', mode);
    });
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) {
        await fh.writeFile(data);
      } else {
        // Each chunk is written before the next is asked for: a chunk may be a view of a read buffer
        // the bundle reader fills again soon after (targets/channel.ts), so none may wait in a queue.
        for await (const chunk of data) {
          for (let at = 0; at < chunk.length;) at += (await fh.write(chunk, at)).bytesWritten;
        }
      }
      await fh.chmod(mode);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await abort();
    await stopIfInterrupted();
    throw err;
  }
  const staged: StagedFile = {
    path,
    temp,
    abort,
    commit: async () => {
      try {
        if (overwrite) await rename(temp, path);
        else await commitNew(temp, path);
      } catch (err) {
        await abort();
        await stopIfInterrupted();
        throw err;
      }
      live.delete(temp);
    },
  };
  return staged;
}

/** Writes `data` to `path` atomically (see the module comment and AtomicWriteOptions). */
export async function writeAtomic(
  path: string,
  data: AtomicData,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await (await stageAtomic(path, data, options)).commit();
}

/** link + unlink: the final name appears only if nothing holds it. */
async function commitNew(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // File systems without hard links (FAT on a USB stick): check, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (await exists(path)) throw existsError(path);
    await rename(temp, path);
    return;
  }
  await rm(temp, { force: true });
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

function existsError(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EEXIST: file already exists, '${path}'`), { code: 'EEXIST', path });
}

/**
 * Writes a file the user asked for (a key, an export, a report) atomically with `mode`, refusing to
 * replace an existing one unless `overwrite`. Errors say what to do.
 */
export async function writeOutputFile(path: string, text: string, mode: number, overwrite: boolean) {
  try {
    // `overwrite` often comes from an optional --force: undefined means no.
    await writeAtomic(path, text, { mode, overwrite: overwrite === true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw outputError(`${path} already exists`, 'choose another name, or pass --force to replace it');
    if (code === 'ENOENT')
      throw outputError(
        `${dirname(path)}: no such directory`,
        'create it first, or write somewhere else',
        err,
      );
    throw describeFsError(err, path, 'write') ?? outputError(`${path}: cannot write`, undefined, err);
  }
}

/** Removes temp files a killed run left in `dir` (not recursive). */
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
