/**
 * The file adapter of the install journal (install/journal.ts: which jobs an earlier run of the same
 * install finished, so a re-run resumes instead of starting over).
 *
 * This file journal is append-only JSON lines, one record per state change, each written with a
 * single `write` and fsynced at completion boundaries. A kill at any point leaves at most a torn last
 * line, which `load` ignores: the job it described is simply redone. The PostgreSQL journal
 * (db/journal.ts, `processing_jobs`) implements the same port.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubechatError } from '../lib/errors.js';
import type { InstallJournal, JobState, JournalJob } from '../install/journal.js';

interface Record {
  k: string;
  s: 'running' | 'completed' | 'failed';
  t?: string;
  a?: string;
  e?: string;
}

/** Where journals live: $KUBECHAT_STATE_DIR, else $XDG_STATE_HOME/kubechat, else ~/.local/state/kubechat. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUBECHAT_STATE_DIR) return env.KUBECHAT_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'kubechat');
}

/** The journal file for one bundle (manifest digest) installed into one set of targets. */
export function journalPath(stateDir: string, manifestDigest: string, targetIds: string[]): string {
  const targets = createHash('sha256')
    .update([...targetIds].sort().join('\n'))
    .digest('hex')
    .slice(0, 16);
  const bundle = manifestDigest.replace(/^sha256:/, '').slice(0, 16);
  return join(stateDir, 'install', `${bundle}-${targets}.jsonl`);
}

/**
 * The file that remembers the highest bundle version installed into one target (rollback
 * protection is per target): named by the hash of the target's identity.
 */
export function targetVersionsPath(stateDir: string, targetId: string): string {
  return join(
    stateDir,
    'installed',
    `${createHash('sha256').update(targetId).digest('hex').slice(0, 32)}.json`,
  );
}

export const journalError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('journal', message, fix, { cause });

export class FileJournal implements InstallJournal {
  #fh: Promise<FileHandle> | undefined;
  readonly #jobs = new Map<string, JournalJob>();

  constructor(readonly path: string) {}

  async load(): Promise<Map<string, JournalJob>> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw journalError(`${this.path}: cannot read the install journal`, 'check its permissions', err);
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let r: Record;
      try {
        r = JSON.parse(line) as Record;
      } catch {
        continue; // a torn last line from a killed run: that job is redone
      }
      if (typeof r.k !== 'string') continue;
      this.#apply(r);
    }
    return new Map([...this.#jobs].map(([k, j]) => [k, { ...j }]));
  }

  #apply(r: Record): JournalJob {
    const job = this.#jobs.get(r.k) ?? {
      key: r.k,
      type: r.t ?? '',
      artifact: r.a ?? '',
      state: 'pending' as JobState,
      retries: 0,
    };
    if (r.s === 'running') {
      if (job.state === 'running' || job.state === 'failed') job.retries++;
      job.type = r.t ?? job.type;
      job.artifact = r.a ?? job.artifact;
      delete job.error;
    } else if (r.s === 'failed') job.error = r.e;
    job.state = r.s;
    this.#jobs.set(r.k, job);
    return job;
  }

  async #append(r: Record, sync: boolean): Promise<void> {
    try {
      // One handle for the run, opened once even when the first appends race each other.
      this.#fh ??= mkdir(dirname(this.path), { recursive: true }).then(() => open(this.path, 'a', 0o600));
      const fh = await this.#fh;
      await fh.write(JSON.stringify(r) + '\n');
      if (sync) await fh.datasync();
    } catch (err) {
      throw journalError(
        `${this.path}: cannot write the install journal (${(err as Error).message})`,
        'free space or set KUBECHAT_STATE_DIR to a writable directory',
        err,
      );
    }
    this.#apply(r);
  }

  async start(key: string, type: string, artifact: string): Promise<void> {
    await this.#append({ k: key, s: 'running', t: type, a: artifact }, false);
  }

  async complete(key: string): Promise<void> {
    await this.#append({ k: key, s: 'completed' }, true);
  }

  async fail(key: string, message: string): Promise<void> {
    await this.#append({ k: key, s: 'failed', e: message.slice(0, 500) }, true);
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await (await fh?.catch(() => undefined))?.close();
  }
}
