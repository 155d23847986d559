/**
 * Dispatch: one blob, read once, streamed to every target that needs it and lacks it through a
 * bounded channel each, its sha256 checked on the way. The writes finish in the background while
 * the pass reads on; a confirmed blob may let an artifact commit early.
 */
import { createHash } from 'node:crypto';
import { KubechatError, targetError } from '../lib/errors.js';
import type { ByteProgress } from '../lib/progress.js';
import type { Descriptor } from '../oci/types.js';
import { Channel, type Limiter } from './channel.js';
import type { Committer } from './commit.js';
import type { ArtifactGraph } from './graph.js';
import { JobKey, type JobBook } from './jobs.js';
import type { BlobPresence } from './presence.js';
import type { Tally } from './tally.js';
import type { BlobTarget, InstallArtifact } from './types.js';
import type { Work } from './work.js';
import { blobPath } from '../bundle/layout.js';

export interface DispatchContext {
  graph: ArtifactGraph;
  targetsFor: (artifacts: InstallArtifact[]) => BlobTarget[];
  jobs: JobBook;
  presence: BlobPresence;
  committer: Committer;
  tally: Tally;
  work: Work;
  /** Blob writes in flight at once, over all targets. */
  limiter: Limiter;
  progress: ByteProgress;
  /** The error for a blob that does not match its digest. */
  corrupt: (path: string, artifacts: InstallArtifact[]) => KubechatError;
}

export class BlobDispatch {
  constructor(private readonly c: DispatchContext) {}

  /** Streams one blob to every target that needs it and lacks it, verifying its digest on the way. */
  async dispatch(desc: Descriptor, data: AsyncIterable<Buffer>, fromMemory: boolean): Promise<void> {
    const { work, progress } = this.c;
    const users = this.c.graph.usersOf(desc.digest);
    const path = blobPath(desc.digest);
    if (users.length === 0) return;
    const blob: Descriptor = {
      ...desc,
      mediaType: users[0]!.blobs.find((b) => b.digest === desc.digest)?.mediaType ?? '',
    };
    const targets = this.c.targetsFor(users);
    if (targets.length === 0) return; // a model with no Ollama target given: skipped by the reader
    const wanted: BlobTarget[] = [];
    for (const t of targets) {
      if (t.mustReceive?.(blob)) wanted.push(t);
      else if (await this.c.presence.holds(t, blob)) this.c.tally.skipped(blob.size);
      else wanted.push(t);
    }
    for (const t of targets) if (!wanted.includes(t)) this.c.committer.commitReady(t, users);
    if (wanted.length === 0) {
      progress.add(blob.size);
      return; // left unread: the reader skips it
    }
    const channels = wanted.map(() => new Channel());
    const releases = await Promise.all(wanted.map(() => this.c.limiter.acquire()));
    const writes = wanted.map((t, i) => this.#startWrite(t, blob, users, channels[i]!, releases[i]!));
    const hash = createHash('sha256');
    try {
      for await (const chunk of data) {
        hash.update(chunk);
        progress.add(chunk.length);
        for (const ch of channels) await ch.push(chunk);
        if (work.failure) break;
      }
    } catch (err) {
      for (const ch of channels) ch.end(err as Error);
      await Promise.allSettled(writes);
      throw err;
    }
    if (work.failure) {
      for (const ch of channels) ch.end(work.failure);
      await Promise.allSettled(writes);
      return;
    }
    if (!fromMemory && `sha256:${hash.digest('hex')}` !== desc.digest) {
      const err = this.c.corrupt(path, users);
      for (const ch of channels) ch.end(err);
      await Promise.allSettled(writes);
      throw err;
    }
    for (const ch of channels) ch.end();
    // The write finishes in the background; the pass reads on.
  }

  #startWrite(
    t: BlobTarget,
    blob: Descriptor,
    users: InstallArtifact[],
    ch: Channel,
    release: () => void,
  ): Promise<void> {
    const key = JobKey.blob(t, blob.digest);
    const artifact = users.map((a) => a.ref).join(', ');
    const write = (async () => {
      try {
        await this.c.jobs.start(key, 'blob', artifact);
        await t.writeBlob(
          blob,
          users.filter((a) => t.accepts(a.kind)),
          ch,
        );
        await this.c.jobs.complete(key);
        this.c.presence.wrote(key);
        this.c.committer.commitReady(t, users);
        this.c.tally.pushed(blob.size);
      } catch (err) {
        await this.c.jobs.fail(key, (err as Error).message).catch(() => undefined);
        this.c.work.fail(
          err instanceof KubechatError
            ? err
            : targetError(
                `${t.label}: writing ${blob.digest} (${artifact}) failed: ${(err as Error).message}`,
                'run install again: it resumes',
                err,
              ),
        );
        throw err;
      } finally {
        ch.abandon(); // a write that failed before reading everything must not hold up the reader
        release();
      }
    })();
    this.c.work.track(write.catch(() => undefined));
    return write;
  }
}
