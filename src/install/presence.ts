/** Which blobs each target holds: from the journal, from the target itself (HEAD), or written now. */
import type { Descriptor } from '../oci/types.js';
import type { Limiter } from './channel.js';
import { JobKey, type JobBook } from './jobs.js';
import type { BlobTarget, InstallArtifact } from './types.js';

export class BlobPresence {
  /** (target, digest) → the target holds the blob (journal, HEAD or this run). */
  readonly #present = new Map<string, Promise<boolean>>();
  readonly #written = new Set<string>();
  /** Blob jobs confirmed on their target in this run (written, or found by HEAD): early commits need these. */
  readonly #confirmed = new Set<string>();

  constructor(
    private readonly jobs: JobBook,
    private readonly checks: Limiter,
    private readonly usersOf: (digest: string) => InstallArtifact[],
  ) {}

  /** Whether the target holds the blob: journal first, then the target itself (HEAD), at most once. */
  holds(t: BlobTarget, blob: Descriptor): Promise<boolean> {
    const key = JobKey.blob(t, blob.digest);
    let p = this.#present.get(key);
    if (!p) {
      const users = this.usersOf(blob.digest).filter((a) => t.accepts(a.kind));
      const done = this.jobs.done(key);
      p = done ? Promise.resolve(true) : this.checks.run(() => t.hasBlob(blob, users));
      if (!done)
        p.then(
          (held) => held && this.#confirmed.add(key),
          () => undefined,
        );
      this.#present.set(key, p);
    }
    return p;
  }

  /** The blob job finished in this run: the target holds it. */
  wrote(key: string): void {
    this.#written.add(key);
    this.#confirmed.add(key);
    this.#present.set(key, Promise.resolve(true));
  }

  /** Confirmed on the target in this run (written, or found by HEAD). */
  confirmed(key: string): boolean {
    return this.#confirmed.has(key);
  }

  /** Written by this run (not merely known from an earlier run's journal). */
  writtenNow(key: string): boolean {
    return this.#written.has(key);
  }
}
