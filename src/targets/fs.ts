/**
 * Writing files into a target directory (an OCI layout, an Ollama store, files/): lib/fs.ts's
 * atomic write, with errors that tell the operator how to resume the install.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { targetError } from '../lib/errors.js';
import { writeAtomic, type AtomicData } from '../lib/fs.js';

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

/**
 * Writes `data` to `path` atomically, creating its directory. If a stream throws (digest
 * mismatch), nothing is left.
 */
export async function writeTargetFile(path: string, data: AtomicData, mode = 0o644): Promise<void> {
  try {
    await writeAtomic(path, data, { mode, mkdir: true });
  } catch (err) {
    throw describeWriteError(err, path);
  }
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
