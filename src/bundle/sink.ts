/**
 * Where a bundle is written: one file or split parts, always under temporary names until `commit`
 * renames them into place (parts file last), so a failed or interrupted write never leaves a
 * bundle under its final name. Writes are positional because the header is written last.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeFsError, outputError } from '../lib/errors.js';
import { onInterrupt } from '../lib/interrupt.js';
import { partName, partsFileName } from './layout.js';
import type { PartsFile } from './split.js';

export interface BundleSink {
  write(data: Buffer, position: number): Promise<void>;
  /** Writes the buffers one after another starting at `position` (no copy). */
  writev(parts: Buffer[], position: number): Promise<void>;
  /** Renames into place; returns the paths a user should copy (bundle, or parts + parts file). */
  commit(): Promise<{ files: string[]; parts?: PartsFile }>;
  /** Removes everything written so far. Safe to call more than once. */
  abort(): Promise<void>;
}

const tempName = (final: string) => join(dirname(final), `.${basename(final)}.partial-${process.pid}`);

function wrap(err: unknown, path: string): Error {
  return (
    describeFsError(err, path, 'write') ??
    outputError(`${path}: write failed (${(err as Error).message})`, undefined, err)
  );
}

export async function createSink(finalPath: string, splitSize?: number): Promise<BundleSink> {
  try {
    await mkdir(dirname(finalPath), { recursive: true });
  } catch (err) {
    throw wrap(err, dirname(finalPath));
  }
  await removeStalePartials(finalPath);
  const sink = splitSize === undefined ? new FileSink(finalPath) : new PartsSink(finalPath, splitSize);
  // Ctrl-C removes what was written; commit and abort end that duty.
  const release = onInterrupt(() => sink.abort());
  return {
    write: (d, p) => sink.write(d, p),
    writev: (d, p) => sink.writev(d, p),
    commit: () => sink.commit().finally(release),
    abort: () => sink.abort().finally(release),
  };
}

/** Temporary files of this bundle left by a process that was killed (its pid is gone). */
async function removeStalePartials(finalPath: string): Promise<void> {
  const prefix = `.${basename(finalPath)}`;
  const names = await readdir(dirname(finalPath)).catch(() => [] as string[]);
  for (const name of names) {
    const m = /\.partial-(\d+)$/.exec(name);
    if (!name.startsWith(prefix) || !m || alive(Number(m[1]))) continue;
    await rm(join(dirname(finalPath), name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Flushing as we go: a background fdatasync every FLUSH_EVERY bytes puts data on the medium while
 * the rest is still being produced, so the final fsync (needed before the rename, or a power cut
 * could leave a bundle under its final name that is not on the disk) has little left to do.
 */
const FLUSH_EVERY = 64 * 1024 * 1024;

class FileSink implements BundleSink {
  readonly #temp: string;
  #fh: Promise<FileHandle> | undefined;
  #unflushed = 0;
  #flushing: Promise<void> | undefined;
  #aborted = false;

  /** The temp file, opened once; never again after abort (a late write must not recreate it). */
  #handle(): Promise<FileHandle> {
    if (this.#aborted) return Promise.reject(new Error('bundle write was aborted'));
    this.#fh ??= open(this.#temp, 'w');
    return this.#fh;
  }

  #wrote(fh: FileHandle, n: number) {
    this.#unflushed += n;
    if (this.#unflushed < FLUSH_EVERY || this.#flushing) return;
    this.#unflushed = 0;
    this.#flushing = fh
      .datasync()
      .catch(() => undefined) // a real failure resurfaces at the final fsync
      .finally(() => (this.#flushing = undefined));
  }

  constructor(private readonly finalPath: string) {
    this.#temp = tempName(finalPath);
  }

  async write(data: Buffer, position: number): Promise<void> {
    try {
      // Writes may overlap: open once, and share the handle.
      const fh = await this.#handle();
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
      this.#wrote(fh, data.length);
    } catch (err) {
      throw wrap(err, this.finalPath);
    }
  }

  async writev(parts: Buffer[], position: number): Promise<void> {
    try {
      const fh = await this.#handle();
      let rest = parts.filter((p) => p.length > 0);
      let at = position;
      while (rest.length > 0) {
        // At most IOV_MAX (1024) buffers per call; a short write resumes mid-buffer.
        const batch = rest.slice(0, 1024);
        let { bytesWritten } = await fh.writev(batch, at);
        at += bytesWritten;
        this.#wrote(fh, bytesWritten);
        let i = 0;
        while (i < batch.length && bytesWritten >= batch[i]!.length) bytesWritten -= batch[i++]!.length;
        rest = [
          ...(i < batch.length ? [batch[i]!.subarray(bytesWritten)] : []),
          ...batch.slice(i + 1),
          ...rest.slice(batch.length),
        ];
      }
    } catch (err) {
      throw wrap(err, this.finalPath);
    }
  }

  async commit() {
    try {
      const fh = await this.#handle();
      await this.#flushing;
      await fh.sync();
      await fh.close();
      this.#fh = undefined;
      await rename(this.#temp, this.finalPath);
    } catch (err) {
      throw wrap(err, this.finalPath);
    }
    return { files: [this.finalPath] };
  }

  async abort() {
    this.#aborted = true;
    await this.#fh?.then((fh) => fh.close()).catch(() => undefined);
    this.#fh = undefined;
    await rm(this.#temp, { force: true });
  }
}

class PartsSink implements BundleSink {
  readonly #handles: Array<Promise<FileHandle>> = [];
  #size = 0;

  constructor(
    private readonly finalPath: string,
    private readonly partSize: number,
  ) {}

  #partPath(i: number, temp: boolean) {
    const final = partName(this.finalPath, i);
    return temp ? tempName(final) : final;
  }

  #aborted = false;

  #handle(i: number): Promise<FileHandle> {
    if (this.#aborted) return Promise.reject(new Error('bundle write was aborted'));
    // Synchronous bookkeeping so overlapping writes never open a part twice.
    while (this.#handles.length <= i)
      this.#handles.push(open(this.#partPath(this.#handles.length, true), 'w'));
    return this.#handles[i]!;
  }

  async write(data: Buffer, position: number): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const pos = position + done;
        const i = Math.floor(pos / this.partSize);
        const within = pos - i * this.partSize;
        const n = Math.min(data.length - done, this.partSize - within);
        const fh = await this.#handle(i);
        const { bytesWritten } = await fh.write(data, done, n, within);
        done += bytesWritten;
      }
      this.#size = Math.max(this.#size, position + data.length);
    } catch (err) {
      throw wrap(err, this.finalPath);
    }
  }

  async writev(parts: Buffer[], position: number): Promise<void> {
    let at = position;
    for (const p of parts) {
      await this.write(p, at);
      at += p.length;
    }
  }

  async commit() {
    const count = Math.max(1, Math.ceil(this.#size / this.partSize));
    const whole = createHash('sha256');
    const parts: PartsFile['parts'] = [];
    try {
      for (let i = 0; i < count; i++) {
        const fh = await this.#handle(i);
        await fh.sync();
        await fh.close();
        // The header was written last at offset 0, so digests need one read of the (page-cached) parts.
        const h = createHash('sha256');
        let size = 0;
        for await (const chunk of createReadStream(this.#partPath(i, true)) as AsyncIterable<Buffer>) {
          h.update(chunk);
          whole.update(chunk);
          size += chunk.length;
        }
        parts.push({ name: basename(this.#partPath(i, false)), size, sha256: h.digest('hex') });
      }
      this.#handles.length = 0;
      const file: PartsFile = {
        schemaVersion: 1,
        bundle: basename(this.finalPath),
        size: this.#size,
        sha256: whole.digest('hex'),
        parts,
      };
      for (let i = 0; i < count; i++) await rename(this.#partPath(i, true), this.#partPath(i, false));
      const partsPath = partsFileName(this.finalPath);
      await writeFile(tempName(partsPath), JSON.stringify(file, null, 2) + '\n');
      await rename(tempName(partsPath), partsPath);
      return { files: [...parts.map((p) => join(dirname(this.finalPath), p.name)), partsPath], parts: file };
    } catch (err) {
      throw wrap(err, this.finalPath);
    }
  }

  async abort() {
    this.#aborted = true;
    for (const fh of this.#handles) await fh.then((h) => h.close()).catch(() => undefined);
    const count = this.#handles.length;
    this.#handles.length = 0;
    for (let i = 0; i < count; i++) await rm(this.#partPath(i, true), { force: true });
  }
}
