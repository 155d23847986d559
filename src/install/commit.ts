/**
 * Commit: an artifact's manifests and tags are written once every blob it needs is confirmed on the
 * target — early, as soon as its last blob lands (Ollama prunes blobs no manifest names), and at the
 * end of the pass for everything else, in the graph's order (children before parents).
 */
import type { BundleManifest } from '../bundle/manifest.js';
import { baseMissingError, integrityError, targetError } from '../lib/errors.js';
import type { Reporter } from '../lib/progress.js';
import type { ArtifactGraph } from './graph.js';
import { JobKey, type JobBook } from './jobs.js';
import type { BlobPresence } from './presence.js';
import type { InstalledArtifact } from './result.js';
import type { BlobTarget, InstallArtifact, TargetCommit } from './types.js';
import type { Work } from './work.js';

export interface CommitContext {
  targets: readonly BlobTarget[];
  manifest: BundleManifest;
  graph: ArtifactGraph;
  jobs: JobBook;
  presence: BlobPresence;
  work: Work;
  /** Whether the bundle lists the digest (a delta leaves out what its base has). */
  listed: (digest: string) => boolean;
  reporter: Reporter;
  warn: (message: string) => void;
  /** Each artifact installed on a target (the database records them). */
  onInstalled?: (artifact: InstalledArtifact) => Promise<void>;
}

export class Committer {
  /** Artifact commits started as soon as their last blob landed. */
  readonly #early = new Map<string, Promise<void>>();
  readonly #installed: InstalledArtifact[] = [];

  constructor(private readonly c: CommitContext) {}

  get installed(): InstalledArtifact[] {
    return this.#installed;
  }

  /** Commits the artifacts whose every blob is now confirmed on `t`, without waiting for the pass to end. */
  commitReady(t: BlobTarget, artifacts: InstallArtifact[]): void {
    const incomplete = new Set(this.c.graph.incomplete);
    for (const a of artifacts) {
      const key = JobKey.artifact(t, a.ref);
      if (!t.accepts(a.kind) || incomplete.has(a) || this.c.jobs.done(key) || this.#early.has(key)) continue;
      if (!a.blobs.every((b) => this.c.presence.confirmed(JobKey.blob(t, b.digest)))) continue;
      const work = this.#commitOne(t, a).catch((err: unknown) => this.c.work.fail(err as Error));
      this.#early.set(key, work);
      this.c.work.track(work);
    }
  }

  /** Manifests and tags, last, for every artifact on every target. */
  async commitAll(): Promise<void> {
    const { graph, jobs, presence, work } = this.c;
    const incomplete = new Set(graph.incomplete);
    this.c.reporter.emit({
      task: 'commit',
      title: `Writing manifests and tags of ${graph.artifacts.length} artifact(s)`,
    });
    for (const t of this.c.targets) {
      for (const a of graph.artifacts.filter((x) => t.accepts(x.kind))) {
        const key = JobKey.artifact(t, a.ref);
        const early = this.#early.get(key);
        if (early) {
          await early;
          if (work.failure) throw work.failure;
          continue;
        }
        const unchanged: TargetCommit = { location: a.ref, digest: a.root.digest, aliases: [] };
        if (incomplete.has(a)) {
          // A delta's unchanged artifact: its base's install must have put it there.
          if (!(await t.hasArtifact(a)))
            throw baseMissingError(
              `${t.label}: ${a.ref} is not in this delta bundle and not on the target`,
              `install the base bundle ${this.c.manifest.delta?.base.name ?? ''} ${this.c.manifest.delta?.base.version ?? ''} first, or a full bundle`,
            );
          await this.#record(t, a, unchanged, 'unchanged');
          continue;
        }
        if (jobs.done(key)) {
          await this.#record(t, a, unchanged, 'unchanged', false);
          continue;
        }
        for (const b of a.blobs) {
          const blobKey = JobKey.blob(t, b.digest);
          // Known only from an earlier run's journal: confirm before tagging (the target may have been
          // wiped since). A missing one is marked failed so the next run sends it again.
          if (jobs.done(blobKey) && !presence.writtenNow(blobKey)) {
            const users = graph.usersOf(b.digest).filter((x) => t.accepts(x.kind));
            if (!(await t.hasBlob(b, users))) {
              await jobs.fail(blobKey, 'missing from the target');
              throw targetError(
                `${t.label}: ${b.digest} of ${a.ref}, installed by an earlier run, is no longer on the target`,
                'run install again: it sends the missing content',
              );
            }
          }
          if (!(await presence.holds(t, b)))
            throw (this.c.listed(b.digest) ? baseMissingError : integrityError)(
              `${t.label}: ${a.ref} needs ${b.digest}, which neither the bundle nor the target holds`,
              'install the base bundle first, or use a full bundle',
            );
        }
        await this.#commitOne(t, a);
      }
    }
  }

  async #commitOne(t: BlobTarget, a: InstallArtifact): Promise<void> {
    const key = JobKey.artifact(t, a.ref);
    await this.c.jobs.start(key, 'artifact', a.ref);
    let commit: TargetCommit;
    try {
      commit = await t.commit(a);
    } catch (err) {
      await this.c.jobs.fail(key, (err as Error).message);
      throw err;
    }
    await this.c.jobs.complete(key);
    await this.#record(t, a, commit, 'installed');
  }

  async #record(
    t: BlobTarget,
    a: InstallArtifact,
    c: TargetCommit,
    status: InstalledArtifact['status'],
    notify = true,
  ): Promise<void> {
    const item: InstalledArtifact = {
      kind: a.kind,
      ref: a.ref,
      digest: a.root.digest,
      target: t.id,
      location: c.location,
      targetDigest: c.digest,
      aliases: c.aliases,
      status,
    };
    this.#installed.push(item);
    if (c.digest !== a.root.digest)
      this.c.warn(
        `${t.label}: ${a.ref} is stored as ${c.digest}, the bundle has ${a.root.digest} (the target rewrote it)`,
      );
    if (notify) await this.c.onInstalled?.(item);
  }
}
