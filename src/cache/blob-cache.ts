/**
 * The local content cache shared by every `bundle create`: verified blobs by digest under
 * `$KUBECHAT_CACHE_DIR` (default `$XDG_CACHE_HOME/kubechat`, else `~/.cache/kubechat`).
 *
 *   blobs/sha256/<hex>    only ever verified content, renamed into place after its sha256 matched
 *   partial/<hex>         a download in progress or interrupted: resumed with a Range request next time
 *   partial/<hex>.ranges  progress of a parallel ranged download (JSON), so each range resumes
 *   partial/<hex>.lock    pid of the process downloading it (two creates never write one partial file)
 *   tmp/                  whole-blob writes in flight (temp + rename)
 *
 * A blob's mtime is its last use: `has()` touches it, so `prune` drops the least recently used first.
 * Two processes may share the cache: a blob is complete the moment its name exists (rename is atomic),
 * and concurrent downloads of one blob only race to write the same verified bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BLOB_DIR, blobPath, DIGEST_RE, hexOf } from '../lib/digest.js';
import { pidLock } from '../lib/pid-lock.js';
import { describeFsError, outputError, upstreamDigestError } from '../lib/errors.js';
import { hashFile } from '../lib/hash.js';
import type { PullStore } from '../oci/pull.js';

export interface CachedBlob {
  digest: string;
  size: number;
  /** Last time a create used (or fetched) it. */
  lastUsed: Date;
}

export interface PruneOptions {
  /** Keep at most this many bytes, dropping the least recently used first. */
  maxSize?: number;
  /** Drop blobs unused for longer than this many milliseconds. */
  olderThanMs?: number;
  now?: Date;
  /** Report what would go without deleting it. */
  dryRun?: boolean;
}

export interface PruneResult {
  removed: CachedBlob[];
  removedBytes: number;
  kept: number;
  keptBytes: number;
  /** Partial downloads and temp files removed (only by an age-based prune). */
  staleFiles: number;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUBECHAT_CACHE_DIR) return env.KUBECHAT_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'kubechat');
  return join(homedir(), '.cache', 'kubechat');
}

export class BlobCache implements PullStore {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, blobPath(digest));
  }

  partialPath(digest: string): string {
    return join(this.dir, 'partial', hexOf(digest));
  }

  async ensureDirs(): Promise<void> {
    for (const sub of [BLOB_DIR, 'partial', 'tmp']) {
      await mkdir(join(this.dir, sub), { recursive: true }).catch((err: unknown) => {
        throw this.fsError(err, join(this.dir, sub));
      });
    }
  }

  fsError(err: unknown, path: string) {
    return (
      describeFsError(err, path, 'write') ??
      outputError(`${path}: cache not writable`, 'set KUBECHAT_CACHE_DIR to a writable directory', err)
    );
  }

  /**
   * Takes the download lock of a blob (`partial/<hex>.lock`, holding our pid), so two processes
   * sharing the cache never write one partial file. While another live process holds it, polls until
   * `done()` (the blob arrived: returns undefined) or the lock is released; a dead holder's lock is
   * taken over. Returns the release function.
   */
  async lock(digest: string, done: () => Promise<boolean>): Promise<(() => Promise<void>) | undefined> {
    return pidLock(`${this.partialPath(digest)}.lock`, {
      done,
      fsError: (err, path) => this.fsError(err, path),
    });
  }

  /** True when the blob is cached with the expected size; marks it used. */
  async has(digest: string, size?: number): Promise<boolean> {
    const path = this.blobPath(digest);
    try {
      const st = await stat(path);
      if (!st.isFile() || (size !== undefined && st.size !== size)) return false;
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined); // read-only cache: still usable
      return true;
    } catch {
      return false;
    }
  }

  /** Stores in-memory content after checking its digest. */
  async putBuffer(digest: string, data: Buffer): Promise<string> {
    const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (actual !== digest) {
      throw upstreamDigestError(
        `content for ${digest} hashes to ${actual}`,
        'the server sent corrupt data: retry',
      );
    }
    await this.ensureDirs();
    const path = this.blobPath(digest);
    const tmp = join(this.dir, 'tmp', `${hexOf(digest)}.${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw this.fsError(err, path);
    }
    return path;
  }

  /**
   * Moves a fully downloaded file into the cache once its content is known to hash to `digest`
   * (`verifiedHex` from the streaming hash, or hashed here when undefined). A mismatch deletes it.
   */
  async commit(digest: string, file: string, verifiedHex?: string): Promise<string> {
    const hex = verifiedHex ?? (await hashFile(file));
    if (`sha256:${hex}` !== digest) {
      await rm(file, { force: true });
      throw upstreamDigestError(
        `downloaded content for ${digest} hashes to sha256:${hex}`,
        'the registry served corrupt or substituted content: retry, or check the mirror',
      );
    }
    const path = this.blobPath(digest);
    try {
      await rename(file, path);
    } catch (err) {
      // Another process committed the same blob first: its copy is verified too.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (await this.has(digest))) return path;
      throw this.fsError(err, path);
    }
    return path;
  }

  async ls(): Promise<CachedBlob[]> {
    const dir = join(this.dir, BLOB_DIR);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw describeFsError(err, dir, 'read') ?? err;
    }
    const out: CachedBlob[] = [];
    for (const name of names) {
      const digest = `sha256:${name}`;
      if (!DIGEST_RE.test(digest)) continue;
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st?.isFile()) out.push({ digest, size: st.size, lastUsed: st.mtime });
    }
    return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime() || (a.digest < b.digest ? -1 : 1));
  }

  /** Bytes held by interrupted downloads (resumable). */
  async partialBytes(): Promise<number> {
    const dir = join(this.dir, 'partial');
    const names = await readdir(dir).catch(() => [] as string[]);
    let n = 0;
    for (const name of names) n += (await stat(join(dir, name)).catch(() => undefined))?.size ?? 0;
    return n;
  }

  async prune(options: PruneOptions): Promise<PruneResult> {
    const now = (options.now ?? new Date()).getTime();
    const blobs = await this.ls(); // most recently used first
    const removed: CachedBlob[] = [];
    const keep: CachedBlob[] = [];
    let keptBytes = 0;
    for (const b of blobs) {
      const old = options.olderThanMs !== undefined && now - b.lastUsed.getTime() > options.olderThanMs;
      const over = options.maxSize !== undefined && keptBytes + b.size > options.maxSize;
      if (old || over) removed.push(b);
      else {
        keep.push(b);
        keptBytes += b.size;
      }
    }
    let staleFiles = 0;
    if (!options.dryRun) {
      for (const b of removed) await rm(this.blobPath(b.digest), { force: true });
      // Interrupted downloads and temp files follow the age rule (a running create may own fresh ones).
      if (options.olderThanMs !== undefined) {
        for (const sub of ['partial', 'tmp']) {
          const dir = join(this.dir, sub);
          for (const name of await readdir(dir).catch(() => [] as string[])) {
            const st = await stat(join(dir, name)).catch(() => undefined);
            if (st && now - st.mtime.getTime() > options.olderThanMs) {
              await rm(join(dir, name), { force: true, recursive: true });
              staleFiles++;
            }
          }
        }
      }
    }
    return {
      removed,
      removedBytes: removed.reduce((s, b) => s + b.size, 0),
      kept: keep.length,
      keptBytes,
      staleFiles,
    };
  }
}

/** "30d", "12h", "90m", "2w" → milliseconds. */
export function parseAge(s: string): number | undefined {
  const m = /^(\d+)\s*([smhdw])$/i.exec(s.trim());
  if (!m) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[(m[2] ?? 's').toLowerCase() as 's'];
  return Number(m[1]) * unit * 1000;
}
