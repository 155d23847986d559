/**
 * The jobs of one install run as the journal sees them: what earlier runs finished (loaded once),
 * and every state change of this run written through to the journal port.
 */
import type { InstallJournal, JournalJob } from './journal.js';

/** The jobs of an install, named for the journal. */
export const JobKey = {
  blob: (t: { id: string }, digest: string) => `blob ${t.id} ${digest}`,
  artifact: (t: { id: string }, ref: string) => `artifact ${t.id} ${ref}`,
  file: (t: { id: string }, path: string) => `file ${t.id} ${path}`,
};

export class JobBook {
  readonly #journal: InstallJournal;
  readonly #earlier: Map<string, JournalJob>;
  /** Jobs an earlier run had finished, counted before any was forgotten. */
  readonly resumed: number;

  private constructor(journal: InstallJournal, earlier: Map<string, JournalJob>) {
    this.#journal = journal;
    this.#earlier = earlier;
    this.resumed = [...earlier.values()].filter((j) => j.state === 'completed').length;
  }

  static async load(journal: InstallJournal): Promise<JobBook> {
    return new JobBook(journal, await journal.load());
  }

  /** Whether an earlier run finished the job (and it was not forgotten since). */
  done(key: string): boolean {
    return this.#earlier.get(key)?.state === 'completed';
  }

  /** A target found wiped: nothing an earlier run did on it counts any more. */
  forgetTarget(targetId: string): void {
    for (const k of [...this.#earlier.keys()]) if (k.includes(` ${targetId} `)) this.#earlier.delete(k);
  }

  start(key: string, type: string, artifact: string): Promise<void> {
    return this.#journal.start(key, type, artifact);
  }

  complete(key: string): Promise<void> {
    return this.#journal.complete(key);
  }

  fail(key: string, message: string): Promise<void> {
    return this.#journal.fail(key, message);
  }
}
