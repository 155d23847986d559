/**
 * The engine of `kubechat install` (services/install.ts): one pass over the bundle's entries,
 * routing each verified blob to its targets through bounded channels, journalling every job, and
 * committing each artifact's manifests and tags once its blobs are confirmed on the target.
 */
import { createHash } from 'node:crypto';
import { digestOfBlobPath, Entry, FILES_PREFIX } from '../bundle/layout.js';
import { modeOfEntry, type BundleManifest, type ContentEntry } from '../bundle/manifest.js';
import { EntryIndex, streamEntries, type OpenedBundle } from '../bundle/reader.js';
import { hexOf } from '../lib/digest.js';
import { baseMissingError, integrityError, KubechatError, targetError } from '../lib/errors.js';
import { ByteProgress, type Reporter } from '../lib/progress.js';
import type { Descriptor } from '../oci/types.js';
import { Channel, Limiter } from '../targets/channel.js';
import { ArtifactGraph } from '../targets/graph.js';
import type { InstallJournal, JournalJob } from '../targets/journal.js';
import type { BlobTarget, InstallArtifact, TargetCommit } from '../targets/types.js';
import type { InstalledArtifact, InstallOptions, InstallResult } from './install.js';

/** Blobs read before the manifests that reference them are kept in memory up to this much. */
const HOLD_LIMIT = 64 * 1024 * 1024;

/**
 * Blobs at least this large are read by ranged readers of their own (when the bundle has a seek table
 * and readStreams > 1), largest first, so their uploads overlap instead of following one another;
 * smaller ones are read by the main pass.
 */
export const RANGED_READ_FROM = 16 * 1024 * 1024;
export const DEFAULT_READ_STREAMS = 2;

export /** The jobs of an install, named for the journal. */
const JobKey = {
  blob: (t: { id: string }, digest: string) => `blob ${t.id} ${digest}`,
  artifact: (t: { id: string }, ref: string) => `artifact ${t.id} ${ref}`,
  file: (t: { id: string }, path: string) => `file ${t.id} ${path}`,
};

export class InstallRun {
  readonly manifest: BundleManifest;
  readonly contents: Map<string, ContentEntry>;
  readonly digests: Set<string>;
  readonly limiter: Limiter;
  readonly checks = new Limiter(8);
  readonly readStreams: number;
  /** The ranged readers at work (pool workers), beside the main pass. */
  ranged = new Set<Promise<void>>();
  /** Large blobs the ranged readers take: the main pass jumps past them. */
  pooled = new Set<string>();
  /** The bundle has a seek table and a table of contents: entries can be read and skipped by range. */
  seekable = false;
  index: EntryIndex | undefined;
  jobs = new Map<string, JournalJob>();
  resumed = 0;
  graph: ArtifactGraph | undefined;
  /** Blobs read before the graph was complete, kept to dispatch once it is. */
  held = new Map<string, { desc: Descriptor; data: Buffer }>();
  heldBytes = 0;
  /** (target, digest) → the target holds the blob (journal, HEAD or this run). */
  present = new Map<string, Promise<boolean>>();
  written = new Set<string>();
  /** Blob jobs confirmed on their target in this run (written, or found by HEAD): early commits need these. */
  confirmed = new Set<string>();
  /** Artifact commits started as soon as their last blob landed (Ollama prunes blobs no manifest names). */
  committing = new Map<string, Promise<void>>();
  inFlight = new Set<Promise<void>>();
  failure: Error | undefined;
  installed: InstalledArtifact[] = [];
  stats = { pushed: 0, skipped: 0, pushedBytes: 0, skippedBytes: 0, files: 0, filesSkipped: 0, fileBytes: 0 };
  upToDate = false;
  progress: ByteProgress | undefined;

  constructor(
    readonly bundle: OpenedBundle,
    readonly options: InstallOptions,
    readonly journal: InstallJournal,
    readonly journalLocation: string | null,
    readonly reporter: Reporter,
    readonly warn: (m: string) => void,
  ) {
    this.manifest = bundle.manifest;
    this.contents = new Map(bundle.manifest.contents.map((c) => [c.path, c]));
    this.digests = new Set(
      bundle.manifest.contents.flatMap((c) => (digestOfBlobPath(c.path) ? [`sha256:${c.sha256}`] : [])),
    );
    this.limiter = new Limiter(options.concurrency ?? 6);
    this.readStreams = Math.max(1, options.readStreams ?? DEFAULT_READ_STREAMS);
  }

  get name() {
    return this.bundle.source.name;
  }

  async prepare(): Promise<void> {
    this.reporter.emit({
      task: 'prepare',
      title: `Checking ${this.options.targets.map((t) => t.label).join(', ') || 'targets'}`,
    });
    this.jobs = await this.journal.load();
    this.resumed = [...this.jobs.values()].filter((j) => j.state === 'completed').length;
    for (const t of this.options.targets) await t.prepare();
    await this.options.files?.prepare();
    const toc = await EntryIndex.open(this.bundle);
    this.index = toc;
    this.graph = new ArtifactGraph(
      (d) => this.digests.has(d),
      (d) => toc.has(`blobs/sha256/${hexOf(d)}`) ?? true,
      this.name,
      this.options.select,
    );
  }

  done(key: string): boolean {
    return this.jobs.get(key)?.state === 'completed';
  }

  targetsFor(artifacts: InstallArtifact[]): BlobTarget[] {
    return this.options.targets.filter((t) => artifacts.some((a) => t.accepts(a.kind)));
  }

  /** Whether the target holds the blob: journal first, then the target itself (HEAD), at most once. */
  holds(t: BlobTarget, blob: Descriptor): Promise<boolean> {
    const key = JobKey.blob(t, blob.digest);
    let p = this.present.get(key);
    if (!p) {
      const users = this.graph!.usersOf(blob.digest).filter((a) => t.accepts(a.kind));
      p = this.done(key) ? Promise.resolve(true) : this.checks.run(() => t.hasBlob(blob, users));
      if (!this.done(key))
        p.then(
          (held) => held && this.confirmed.add(key),
          () => undefined,
        );
      this.present.set(key, p);
    }
    return p;
  }

  /** Once the graph is complete: start the existence checks and decide whether anything is left to do. */
  async onGraphComplete(): Promise<boolean> {
    const graph = this.graph!;
    // Journal says an artifact is installed: confirm cheaply (a registry wiped since must not be trusted).
    // One HEAD per artifact, all at once (a re-run of a finished install is these requests and start-up).
    const wiped = await Promise.all(
      this.options.targets.map(async (t) => {
        const checks = graph.artifacts
          .filter((x) => t.accepts(x.kind) && this.done(JobKey.artifact(t, x.ref)))
          .map((a) => this.checks.run(() => t.hasArtifact(a)));
        return (await Promise.all(checks)).some((there) => !there);
      }),
    );
    for (const [i, t] of this.options.targets.entries()) {
      if (wiped[i]) for (const k of [...this.jobs.keys()]) if (k.includes(` ${t.id} `)) this.jobs.delete(k);
    }
    const taken = graph.artifacts.filter((a) => this.options.targets.some((t) => t.accepts(a.kind)));
    const unique = new Map(taken.flatMap((a) => a.blobs).map((b) => [b.digest, b.size]));
    // files/ entries count too: in a docs-heavy bundle they are most of what is written.
    const fileBytes = this.options.files
      ? this.manifest.contents.filter((c) => c.path.startsWith(FILES_PREFIX)).reduce((n, c) => n + c.size, 0)
      : 0;
    const total = [...unique.values()].reduce((n, s) => n + s, 0) + fileBytes;
    const allArtifactsDone = this.options.targets.every((t) =>
      graph.artifacts.filter((a) => t.accepts(a.kind)).every((a) => this.done(JobKey.artifact(t, a.ref))),
    );
    const filesDone =
      !this.options.files ||
      this.manifest.contents
        .filter((c) => c.path.startsWith(FILES_PREFIX))
        .every((c) => this.done(JobKey.file(this.options.files!, c.path)));
    if (allArtifactsDone && filesDone) {
      if (this.options.files)
        this.stats.filesSkipped = this.manifest.contents.filter((c) =>
          c.path.startsWith(FILES_PREFIX),
        ).length;
      // One line, not a bar drawn from 0% to 100% over nothing written.
      this.reporter.emit({
        task: 'install',
        title: `${this.manifest.name} ${this.manifest.version} is already installed: nothing to write`,
        done: true,
      });
      for (const t of this.options.targets)
        for (const a of taken.filter((x) => t.accepts(x.kind)))
          for (const b of a.blobs) {
            this.stats.skipped++;
            this.stats.skippedBytes += b.size;
          }
      return true;
    }
    this.progress = new ByteProgress(
      this.reporter,
      'install',
      `Installing ${this.manifest.name} ${this.manifest.version}`,
      total,
    );
    if (this.seekable && this.readStreams > 1) this.startRangedReaders();
    for (const [, { desc, data }] of this.held)
      await this.dispatch(
        desc,
        (async function* () {
          yield data;
        })(),
        true,
      );
    this.held.clear();
    return false;
  }

  async stream(): Promise<void> {
    const graph = this.graph!;
    let finished = false;
    // With a seek table the pass jumps over what it does not read (blobs the targets hold, blobs a
    // ranged reader takes) instead of decompressing its way past them.
    this.seekable = this.index?.seekable === true && this.bundle.frames !== undefined;
    for await (const entry of streamEntries(this.bundle, { seek: this.seekable })) {
      if (this.failure) break;
      if (entry.path === Entry.manifest || entry.path === Entry.signature || entry.path === Entry.toc)
        continue;
      const listed = this.contents.get(entry.path);
      if (!listed)
        throw integrityError(
          `${this.name}: ${entry.path} is in the archive but not in the manifest`,
          'copy the bundle again from its source',
        );
      if (entry.size !== listed.size)
        throw integrityError(
          `${this.name}: ${entry.path} has ${entry.size} bytes, the manifest says ${listed.size}`,
          'copy the bundle again from its source',
        );
      if (entry.path === Entry.index) {
        graph.addIndex(await this.readVerified(entry.data, listed, entry.path));
      } else if (entry.path.startsWith(FILES_PREFIX)) {
        await this.writeFile(listed, entry.data);
      } else {
        const digest = digestOfBlobPath(entry.path);
        if (!digest) continue; // oci-layout
        const desc: Descriptor = { mediaType: '', digest, size: entry.size };
        if (graph.wantsDoc(digest)) {
          const bytes = await this.readVerified(entry.data, listed, entry.path);
          graph.addDoc(digest, undefined, bytes);
        } else if (!graph.complete) {
          if (this.heldBytes + entry.size > HOLD_LIMIT)
            throw integrityError(
              `${this.name}: ${entry.path} comes before the manifests that reference it`,
              'recreate the bundle with kubechat bundle create',
            );
          this.held.set(digest, { desc, data: await this.readVerified(entry.data, listed, entry.path) });
          this.heldBytes += entry.size;
        } else if (this.pooled.has(digest)) {
          // taken by a ranged reader: the pass jumps past it
        } else {
          await this.dispatch(desc, entry.data, false);
        }
      }
      if (!finished && graph.complete && this.progress === undefined) {
        if (await this.onGraphComplete()) {
          this.upToDate = true;
          finished = true;
          break; // a finished install: nothing past the header is needed
        }
      }
    }
    await this.settleRanged();
    await Promise.allSettled([...this.inFlight]);
    if (this.failure) throw this.failure;
    if (!graph.complete && !finished) await this.onGraphComplete();
    this.progress?.finish();
  }

  /**
   * Once the graph is complete (seek table, readStreams > 1): the large blobs the targets need are
   * streamed by ranged readers of their own, readStreams at once, largest first, each a front-to-back
   * read of that blob's frames with its sha256 checked on the way (dispatch) before anything
   * references it; the main pass jumps past them and reads the small entries. Every upload is under
   * way within a round trip of the manifests being read, instead of each waiting for the pass to reach
   * it (one upload at a time leaves a registry waiting on its own hashing and disk writes); the
   * existence checks (HEAD) of all of them go out at once first. Memory stays bounded by the channels.
   * On media where seeking is slow (a spinning USB disk), --read-streams 1 keeps reading strictly
   * front to back; flash media and files in the page cache serve a few sequential streams at full speed.
   */
  startRangedReaders(): void {
    const index = this.index!;
    const graph = this.graph!;
    const large = new Map<string, Descriptor>();
    for (const a of graph.artifacts) {
      if (this.targetsFor([a]).length === 0) continue;
      for (const b of a.blobs) {
        const size = index.size(`blobs/sha256/${hexOf(b.digest)}`);
        if (size !== undefined && size >= RANGED_READ_FROM && !this.held.has(b.digest))
          large.set(b.digest, { mediaType: b.mediaType, digest: b.digest, size }); // targets decide by media type
      }
    }
    const queue = [...large.values()].sort((x, y) => y.size - x.size);
    for (const blob of queue) {
      this.pooled.add(blob.digest);
      for (const t of this.targetsFor(graph.usersOf(blob.digest)))
        if (!t.mustReceive?.(blob)) void this.holds(t, blob).catch(() => undefined);
    }
    const reader = async () => {
      for (let blob = queue.shift(); blob && !this.failure; blob = queue.shift())
        await this.dispatch(
          blob,
          // Views of a few reused read buffers (no allocation per chunk): the channels lease them.
          index.readRange(`blobs/sha256/${hexOf(blob.digest)}`, 0, blob.size, { reuse: true }),
          false,
        );
    };
    const readers = Math.min(this.readStreams, queue.length); // before the first reader takes one
    for (let i = 0; i < readers; i++) {
      const work = reader().catch((err: unknown) => {
        this.failure ??= err as Error;
      });
      this.ranged.add(work);
      void work.then(() => this.ranged.delete(work));
    }
  }

  /** Waits for the ranged readers (and so for every write they started to be under way). */
  async settleRanged(): Promise<void> {
    while (this.ranged.size > 0) await Promise.allSettled([...this.ranged]);
  }

  async readVerified(data: AsyncIterable<Buffer>, listed: ContentEntry, path: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of data) parts.push(Buffer.from(c));
    const bytes = Buffer.concat(parts);
    const hex = createHash('sha256').update(bytes).digest('hex');
    if (hex !== listed.sha256) throw this.corrupt(path, []);
    return bytes;
  }

  corrupt(path: string, artifacts: InstallArtifact[]): KubechatError {
    const names = artifacts.map((a) => a.ref).join(', ');
    return integrityError(
      `${this.name}: ${path}${names ? ` (${names})` : ''} does not match its sha256 in the manifest: stopped, nothing that references it was tagged`,
      'copy the bundle again from its source, then run install again (it resumes)',
    );
  }

  /** Streams one blob to every target that needs it and lacks it, verifying its digest on the way. */
  async dispatch(desc: Descriptor, data: AsyncIterable<Buffer>, fromMemory: boolean): Promise<void> {
    const users = this.graph!.usersOf(desc.digest);
    const path = `blobs/sha256/${hexOf(desc.digest)}`;
    if (users.length === 0) return;
    const blob: Descriptor = {
      ...desc,
      mediaType: users[0]!.blobs.find((b) => b.digest === desc.digest)?.mediaType ?? '',
    };
    const targets = this.targetsFor(users);
    if (targets.length === 0) return; // a model with no Ollama target given: skipped by the reader
    const wanted: BlobTarget[] = [];
    for (const t of targets) {
      if (t.mustReceive?.(blob)) wanted.push(t);
      else if (await this.holds(t, blob)) {
        this.stats.skipped++;
        this.stats.skippedBytes += blob.size;
      } else wanted.push(t);
    }
    for (const t of targets) if (!wanted.includes(t)) this.commitReady(t, users);
    if (wanted.length === 0) {
      this.progress?.add(blob.size);
      return; // left unread: the reader skips it
    }
    const channels = wanted.map(() => new Channel());
    const releases = await Promise.all(wanted.map(() => this.limiter.acquire()));
    const writes = wanted.map((t, i) => this.startWrite(t, blob, users, channels[i]!, releases[i]!));
    const hash = createHash('sha256');
    try {
      for await (const chunk of data) {
        hash.update(chunk);
        this.progress?.add(chunk.length);
        for (const ch of channels) await ch.push(chunk);
        if (this.failure) break;
      }
    } catch (err) {
      for (const ch of channels) ch.end(err as Error);
      await Promise.allSettled(writes);
      throw err;
    }
    if (this.failure) {
      for (const ch of channels) ch.end(this.failure);
      await Promise.allSettled(writes);
      return;
    }
    if (!fromMemory && `sha256:${hash.digest('hex')}` !== desc.digest) {
      const err = this.corrupt(path, users);
      for (const ch of channels) ch.end(err);
      await Promise.allSettled(writes);
      throw err;
    }
    for (const ch of channels) ch.end();
    // The write finishes in the background; the pass reads on.
  }

  startWrite(
    t: BlobTarget,
    blob: Descriptor,
    users: InstallArtifact[],
    ch: Channel,
    release: () => void,
  ): Promise<void> {
    const key = JobKey.blob(t, blob.digest);
    const artifact = users.map((a) => a.ref).join(', ');
    const work = (async () => {
      try {
        await this.journal.start(key, 'blob', artifact);
        await t.writeBlob(
          blob,
          users.filter((a) => t.accepts(a.kind)),
          ch,
        );
        await this.journal.complete(key);
        this.written.add(key);
        this.confirmed.add(key);
        this.present.set(key, Promise.resolve(true));
        this.commitReady(t, users);
        this.stats.pushed++;
        this.stats.pushedBytes += blob.size;
      } catch (err) {
        await this.journal.fail(key, (err as Error).message).catch(() => undefined);
        this.failure ??=
          err instanceof KubechatError
            ? err
            : targetError(
                `${t.label}: writing ${blob.digest} (${artifact}) failed: ${(err as Error).message}`,
                'run install again: it resumes',
                err,
              );
        throw err;
      } finally {
        ch.abandon(); // a write that failed before reading everything must not hold up the reader
        release();
      }
    })();
    const tracked = work.catch(() => undefined);
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return work;
  }

  async writeFile(listed: ContentEntry, data: AsyncIterable<Buffer>): Promise<void> {
    const files = this.options.files;
    if (!files) return;
    const key = JobKey.file(files, listed.path);
    const relative = listed.path.slice(FILES_PREFIX.length);
    if (this.done(key) || (await files.hasFile(relative, listed.size, listed.sha256))) {
      this.stats.filesSkipped++;
      this.progress?.add(listed.size);
      return;
    }
    await this.journal.start(key, 'file', listed.path);
    const hash = createHash('sha256');
    const name = this.name;
    const progress = this.progress;
    const verified = (async function* () {
      for await (const c of data) {
        hash.update(c);
        progress?.add(c.length);
        yield c;
      }
      if (hash.digest('hex') !== listed.sha256)
        throw integrityError(
          `${name}: ${listed.path} does not match its sha256 in the manifest`,
          'copy the bundle again from its source',
        );
    })();
    try {
      await files.writeFile(relative, modeOfEntry(listed), verified);
    } catch (err) {
      await this.journal.fail(key, (err as Error).message);
      throw err;
    }
    await this.journal.complete(key);
    this.stats.files++;
    this.stats.fileBytes += listed.size;
  }

  /** Commits the artifacts whose every blob is now confirmed on `t`, without waiting for the pass to end. */
  commitReady(t: BlobTarget, artifacts: InstallArtifact[]): void {
    const incomplete = new Set(this.graph!.incomplete);
    for (const a of artifacts) {
      const key = JobKey.artifact(t, a.ref);
      if (!t.accepts(a.kind) || incomplete.has(a) || this.done(key) || this.committing.has(key)) continue;
      if (!a.blobs.every((b) => this.confirmed.has(JobKey.blob(t, b.digest)))) continue;
      const work = this.commitOne(t, a).catch((err: unknown) => {
        this.failure ??= err as Error;
      });
      this.committing.set(key, work);
      this.inFlight.add(work);
      void work.then(() => this.inFlight.delete(work));
    }
  }

  async commitOne(t: BlobTarget, a: InstallArtifact): Promise<void> {
    const key = JobKey.artifact(t, a.ref);
    await this.journal.start(key, 'artifact', a.ref);
    let commit: TargetCommit;
    try {
      commit = await t.commit(a);
    } catch (err) {
      await this.journal.fail(key, (err as Error).message);
      throw err;
    }
    await this.journal.complete(key);
    await this.record(t, a, commit, 'installed');
  }

  /** Manifests and tags, last, for every artifact on every target. */
  async commitAll(): Promise<void> {
    const graph = this.graph!;
    const incomplete = new Set(graph.incomplete);
    this.reporter.emit({
      task: 'commit',
      title: `Writing manifests and tags of ${graph.artifacts.length} artifact(s)`,
    });
    for (const t of this.options.targets) {
      for (const a of graph.artifacts.filter((x) => t.accepts(x.kind))) {
        const key = JobKey.artifact(t, a.ref);
        const early = this.committing.get(key);
        if (early) {
          await early;
          if (this.failure) throw this.failure;
          continue;
        }
        if (incomplete.has(a)) {
          // A delta's unchanged artifact: its base's install must have put it there.
          if (!(await t.hasArtifact(a)))
            throw baseMissingError(
              `${t.label}: ${a.ref} is not in this delta bundle and not on the target`,
              `install the base bundle ${this.manifest.delta?.base.name ?? ''} ${this.manifest.delta?.base.version ?? ''} first, or a full bundle`,
            );
          await this.record(t, a, { location: a.ref, digest: a.root.digest, aliases: [] }, 'unchanged');
          continue;
        }
        if (this.done(key)) {
          await this.record(
            t,
            a,
            { location: a.ref, digest: a.root.digest, aliases: [] },
            'unchanged',
            false,
          );
          continue;
        }
        for (const b of a.blobs) {
          const blobKey = JobKey.blob(t, b.digest);
          // Known only from an earlier run's journal: confirm before tagging (the target may have been
          // wiped since). A missing one is marked failed so the next run sends it again.
          if (this.done(blobKey) && !this.written.has(blobKey)) {
            const users = graph.usersOf(b.digest).filter((x) => t.accepts(x.kind));
            if (!(await t.hasBlob(b, users))) {
              await this.journal.fail(blobKey, 'missing from the target');
              throw targetError(
                `${t.label}: ${b.digest} of ${a.ref}, installed by an earlier run, is no longer on the target`,
                'run install again: it sends the missing content',
              );
            }
          }
          if (!(await this.holds(t, b)))
            throw (this.digests.has(b.digest) ? baseMissingError : integrityError)(
              `${t.label}: ${a.ref} needs ${b.digest}, which neither the bundle nor the target holds`,
              'install the base bundle first, or use a full bundle',
            );
        }
        await this.commitOne(t, a);
      }
    }
  }

  async record(
    t: BlobTarget,
    a: InstallArtifact,
    c: TargetCommit,
    status: InstalledArtifact['status'],
    notify = true,
  ) {
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
    this.installed.push(item);
    if (c.digest !== a.root.digest)
      this.warn(
        `${t.label}: ${a.ref} is stored as ${c.digest}, the bundle has ${a.root.digest} (the target rewrote it)`,
      );
    if (notify) await this.options.onInstalled?.(item, this.bundle);
  }

  async close(): Promise<void> {
    await this.settleRanged();
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.options.targets.map((t) => t.close()), this.options.files?.close()]);
    await this.journal.close();
  }

  result(warnings: string[], seconds: number): InstallResult {
    const graph = this.graph!;
    const taken = new Set(this.installed.map((i) => i.ref));
    return {
      bundle: this.options.bundlePath,
      name: this.manifest.name,
      version: this.manifest.version,
      manifestDigest: this.bundle.manifestDigest,
      signature: this.bundle.signature ? 'present-unchecked' : 'absent-allowed',
      targets: [...this.options.targets, ...(this.options.files ? [this.options.files] : [])].map((t) => ({
        id: t.id,
        label: t.label,
      })),
      artifacts: this.installed,
      notInstalled: graph.artifacts
        .filter((a) => !taken.has(a.ref))
        .map((a) => ({ kind: a.kind, ref: a.ref })),
      files: { written: this.stats.files, skipped: this.stats.filesSkipped, bytes: this.stats.fileBytes },
      blobs: { pushed: this.stats.pushed, skipped: this.stats.skipped },
      bytes: { pushed: this.stats.pushedBytes, skipped: this.stats.skippedBytes },
      resumedJobs: this.resumed,
      upToDate: this.upToDate,
      journal: this.journalLocation,
      warnings,
      seconds,
    };
  }
}
