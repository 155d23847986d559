/**
 * The install journal port: which jobs (a blob to a target, an artifact's manifests and tags, a file)
 * an earlier run of the same install finished, so a re-run resumes instead of starting over. The
 * adapters live above the engine: a JSON-lines file (targets/journal.ts) and PostgreSQL's
 * processing_jobs (db/journal.ts).
 */

export type JobState = 'pending' | 'running' | 'completed' | 'failed';
export interface JournalJob {
  key: string;
  type: string;
  artifact: string;
  state: JobState;
  retries: number;
  error?: string;
}
export interface InstallJournal {
  /** Jobs recorded by earlier runs of the same install (same bundle manifest digest + same targets). */
  load(): Promise<Map<string, JournalJob>>;
  start(key: string, type: string, artifact: string): Promise<void>;
  complete(key: string): Promise<void>;
  fail(key: string, message: string): Promise<void>;
  close(): Promise<void>;
}

/** A journal that remembers nothing (tests, --no-journal). */
export class MemoryJournal implements InstallJournal {
  readonly jobs = new Map<string, JournalJob>();
  load = () => Promise.resolve(new Map([...this.jobs].map(([k, j]) => [k, { ...j }])));
  start(key: string, type: string, artifact: string): Promise<void> {
    const prev = this.jobs.get(key);
    this.jobs.set(key, {
      key,
      type,
      artifact,
      state: 'running',
      retries: prev ? prev.retries + (prev.state === 'completed' ? 0 : 1) : 0,
    });
    return Promise.resolve();
  }
  complete(key: string): Promise<void> {
    const j = this.jobs.get(key);
    if (j) j.state = 'completed';
    return Promise.resolve();
  }
  fail(key: string, message: string): Promise<void> {
    const j = this.jobs.get(key);
    if (j) Object.assign(j, { state: 'failed', error: message });
    return Promise.resolve();
  }
  close = () => Promise.resolve();
}
