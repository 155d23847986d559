/**
 * The pass of `kubechat install`: one read of the bundle's entries, front to back, each verified
 * blob routed to its targets (dispatch.ts), large ones by ranged readers of their own (ranged.ts),
 * files to the files target, every job journalled (jobs.ts), and each artifact's manifests and tags
 * committed once its blobs are confirmed on the target (commit.ts).
 */
import { createHash } from 'node:crypto';
import { blobPath, digestOfBlobPath, Entry, FILES_PREFIX } from '../bundle/layout.js';
import { modeOfEntry, type BundleManifest, type ContentEntry } from '../bundle/manifest.js';
import { EntryIndex, streamEntries, type OpenedBundle } from '../bundle/reader.js';
import { integrityError, type KubechatError } from '../lib/errors.js';
import { ByteProgress, type Reporter } from '../lib/progress.js';
import type { Descriptor } from '../oci/types.js';
import { Limiter } from './channel.js';
import { Committer } from './commit.js';
import { BlobDispatch } from './dispatch.js';
import { ArtifactGraph } from './graph.js';
import { JobBook, JobKey } from './jobs.js';
import type { InstallJournal } from './journal.js';
import { BlobPresence } from './presence.js';
import { DEFAULT_READ_STREAMS, largeBlobsFirst, RangedReaders } from './ranged.js';
import type { InstalledArtifact, InstallResult } from './result.js';
import { Tally } from './tally.js';
import type { BlobTarget, FileTarget, InstallArtifact } from './types.js';
import { Work } from './work.js';

export { RANGED_READ_FROM } from './ranged.js';

/** Blobs read before the manifests that reference them are kept in memory up to this much. */
const HOLD_LIMIT = 64 * 1024 * 1024;

export interface PassOptions {
  bundlePath: string;
  /** Registry or OCI layout, Ollama store and Ollama servers: every target that takes blobs. */
  targets: BlobTarget[];
  files?: FileTarget;
  journal: InstallJournal;
  /** Where the journal lives, for the report (null: nowhere a user can look). */
  journalLocation: string | null;
  /** Only the artifacts this accepts are installed; the others are not read past their index entry. */
  select?: (artifact: { kind: InstallArtifact['kind']; ref: string }) => boolean;
  concurrency?: number;
  /** Large blobs read from the bundle at once (see ranged.ts). */
  readStreams?: number;
  reporter: Reporter;
  warn: (message: string) => void;
  /** Each artifact installed on a target (the database records them). */
  onInstalled?: (artifact: InstalledArtifact) => Promise<void>;
}

/** What the pass reports; the caller adds the warnings, the time and the trust verdict. */
export type PassResult = Omit<InstallResult, 'warnings' | 'seconds' | 'trust'>;

/** Runs the pass over an opened (and already trusted) bundle; the journal and targets are closed after. */
export async function runPass(bundle: OpenedBundle, options: PassOptions): Promise<PassResult> {
  const pass = new InstallPass(bundle, options);
  try {
    await pass.prepare();
    await pass.stream();
    await pass.commitAll();
  } finally {
    await pass.close();
  }
  return pass.result();
}

/** Set up by `prepare`: everything that needs the journal and the table of contents. */
interface Prepared {
  jobs: JobBook;
  index: EntryIndex;
  graph: ArtifactGraph;
  presence: BlobPresence;
  committer: Committer;
}

class InstallPass {
  readonly #bundle: OpenedBundle;
  readonly #o: PassOptions;
  readonly #manifest: BundleManifest;
  readonly #contents: Map<string, ContentEntry>;
  /** Every blob digest the bundle lists. */
  readonly #digests: Set<string>;
  readonly #limiter: Limiter;
  readonly #checks = new Limiter(8);
  readonly #readStreams: number;
  readonly #work = new Work();
  readonly #ranged = new RangedReaders(this.#work);
  readonly #tally = new Tally();
  #p: Prepared | undefined;
  /** Both set once the graph is complete. */
  #dispatch: BlobDispatch | undefined;
  #progress: ByteProgress | undefined;
  /** Blobs read before the graph was complete, kept to dispatch once it is. */
  readonly #held = new Map<string, { desc: Descriptor; data: Buffer }>();
  #heldBytes = 0;
  /** Large blobs the ranged readers take: the main pass jumps past them. */
  readonly #pooled = new Set<string>();
  /** The bundle has a seek table and a table of contents: entries can be read and skipped by range. */
  #seekable = false;
  #upToDate = false;

  constructor(bundle: OpenedBundle, options: PassOptions) {
    this.#bundle = bundle;
    this.#o = options;
    this.#manifest = bundle.manifest;
    this.#contents = new Map(bundle.manifest.contents.map((c) => [c.path, c]));
    this.#digests = new Set(
      bundle.manifest.contents.flatMap((c) => (digestOfBlobPath(c.path) ? [`sha256:${c.sha256}`] : [])),
    );
    this.#limiter = new Limiter(options.concurrency ?? 6);
    this.#readStreams = Math.max(1, options.readStreams ?? DEFAULT_READ_STREAMS);
  }

  get #name() {
    return this.#bundle.source.name;
  }

  get #prepared(): Prepared {
    if (!this.#p) throw new Error('internal: install pass used before prepare()');
    return this.#p;
  }

  #targetsFor(artifacts: InstallArtifact[]): BlobTarget[] {
    return this.#o.targets.filter((t) => artifacts.some((a) => t.accepts(a.kind)));
  }

  async prepare(): Promise<void> {
    this.#o.reporter.emit({
      task: 'prepare',
      title: `Checking ${this.#o.targets.map((t) => t.label).join(', ') || 'targets'}`,
    });
    const jobs = await JobBook.load(this.#o.journal);
    for (const t of this.#o.targets) await t.prepare();
    await this.#o.files?.prepare();
    const index = await EntryIndex.open(this.#bundle);
    const graph = new ArtifactGraph(
      (d) => this.#digests.has(d),
      (d) => index.has(blobPath(d)) ?? true,
      this.#name,
      this.#o.select,
    );
    const presence = new BlobPresence(jobs, this.#checks, (d) => graph.usersOf(d));
    const committer = new Committer({
      targets: this.#o.targets,
      manifest: this.#manifest,
      graph,
      jobs,
      presence,
      work: this.#work,
      listed: (d) => this.#digests.has(d),
      reporter: this.#o.reporter,
      warn: this.#o.warn,
      onInstalled: this.#o.onInstalled,
    });
    this.#p = { jobs, index, graph, presence, committer };
  }

  /**
   * Once the graph is complete: start the existence checks and decide whether anything is left to
   * do. True when the install is already finished.
   */
  async #onGraphComplete(): Promise<boolean> {
    const { jobs, graph, presence, committer } = this.#prepared;
    const targets = this.#o.targets;
    // Journal says an artifact is installed: confirm cheaply (a registry wiped since must not be trusted).
    // One HEAD per artifact, all at once (a re-run of a finished install is these requests and start-up).
    const wiped = await Promise.all(
      targets.map(async (t) => {
        const checks = graph.artifacts
          .filter((x) => t.accepts(x.kind) && jobs.done(JobKey.artifact(t, x.ref)))
          .map((a) => this.#checks.run(() => t.hasArtifact(a)));
        return (await Promise.all(checks)).some((there) => !there);
      }),
    );
    for (const [i, t] of targets.entries()) if (wiped[i]) jobs.forgetTarget(t.id);
    const taken = graph.artifacts.filter((a) => targets.some((t) => t.accepts(a.kind)));
    const unique = new Map(taken.flatMap((a) => a.blobs).map((b) => [b.digest, b.size]));
    const files = this.#o.files;
    const bundleFiles = this.#manifest.contents.filter((c) => c.path.startsWith(FILES_PREFIX));
    // files/ entries count too: in a docs-heavy bundle they are most of what is written.
    const fileBytes = files ? bundleFiles.reduce((n, c) => n + c.size, 0) : 0;
    const total = [...unique.values()].reduce((n, s) => n + s, 0) + fileBytes;
    const allArtifactsDone = targets.every((t) =>
      graph.artifacts.filter((a) => t.accepts(a.kind)).every((a) => jobs.done(JobKey.artifact(t, a.ref))),
    );
    const filesDone = !files || bundleFiles.every((c) => jobs.done(JobKey.file(files, c.path)));
    if (allArtifactsDone && filesDone) {
      if (files) this.#tally.allFilesSkipped(bundleFiles.length);
      // One line, not a bar drawn from 0% to 100% over nothing written.
      this.#o.reporter.emit({
        task: 'install',
        title: `${this.#manifest.name} ${this.#manifest.version} is already installed: nothing to write`,
        done: true,
      });
      for (const t of targets)
        for (const a of taken.filter((x) => t.accepts(x.kind)))
          for (const b of a.blobs) this.#tally.skipped(b.size);
      return true;
    }
    const progress = (this.#progress = new ByteProgress(
      this.#o.reporter,
      'install',
      `Installing ${this.#manifest.name} ${this.#manifest.version}`,
      total,
    ));
    this.#dispatch = new BlobDispatch({
      graph,
      targetsFor: (a) => this.#targetsFor(a),
      jobs,
      presence,
      committer,
      tally: this.#tally,
      work: this.#work,
      limiter: this.#limiter,
      progress,
      corrupt: (path, artifacts) => this.#corrupt(path, artifacts),
    });
    if (this.#seekable && this.#readStreams > 1) this.#startRangedReaders();
    for (const [, { desc, data }] of this.#held)
      await this.#dispatch.dispatch(
        desc,
        (async function* () {
          yield data;
        })(),
        true,
      );
    this.#held.clear();
    return false;
  }

  async stream(): Promise<void> {
    const { graph, index } = this.#prepared;
    let finished = false;
    // With a seek table the pass jumps over what it does not read (blobs the targets hold, blobs a
    // ranged reader takes) instead of decompressing its way past them.
    this.#seekable = index.seekable && this.#bundle.frames !== undefined;
    for await (const entry of streamEntries(this.#bundle, { seek: this.#seekable })) {
      if (this.#work.failure) break;
      if (entry.path === Entry.manifest || entry.path === Entry.signature || entry.path === Entry.toc)
        continue;
      const listed = this.#contents.get(entry.path);
      if (!listed)
        throw integrityError(
          `${this.#name}: ${entry.path} is in the archive but not in the manifest`,
          'copy the bundle again from its source',
        );
      if (entry.size !== listed.size)
        throw integrityError(
          `${this.#name}: ${entry.path} has ${entry.size} bytes, the manifest says ${listed.size}`,
          'copy the bundle again from its source',
        );
      if (entry.path === Entry.index) {
        graph.addIndex(await this.#readVerified(entry.data, listed, entry.path));
      } else if (entry.path.startsWith(FILES_PREFIX)) {
        await this.#writeFile(listed, entry.data);
      } else {
        const digest = digestOfBlobPath(entry.path);
        if (!digest) continue; // oci-layout
        const desc: Descriptor = { mediaType: '', digest, size: entry.size };
        if (graph.wantsDoc(digest)) {
          const bytes = await this.#readVerified(entry.data, listed, entry.path);
          graph.addDoc(digest, undefined, bytes);
        } else if (!graph.complete) {
          if (this.#heldBytes + entry.size > HOLD_LIMIT)
            throw integrityError(
              `${this.#name}: ${entry.path} comes before the manifests that reference it`,
              'recreate the bundle with kubechat bundle create',
            );
          this.#held.set(digest, { desc, data: await this.#readVerified(entry.data, listed, entry.path) });
          this.#heldBytes += entry.size;
        } else if (this.#pooled.has(digest)) {
          // taken by a ranged reader: the pass jumps past it
        } else {
          await this.#dispatch!.dispatch(desc, entry.data, false);
        }
      }
      if (!finished && graph.complete && this.#progress === undefined) {
        if (await this.#onGraphComplete()) {
          this.#upToDate = true;
          finished = true;
          break; // a finished install: nothing past the header is needed
        }
      }
    }
    await this.#ranged.settle();
    await this.#work.settle();
    if (this.#work.failure) throw this.#work.failure;
    if (!graph.complete && !finished) await this.#onGraphComplete();
    this.#progress?.finish();
  }

  #startRangedReaders(): void {
    const { graph, index, presence } = this.#prepared;
    const queue = largeBlobsFirst(
      graph,
      index,
      (a) => this.#targetsFor([a]).length > 0,
      (d) => this.#held.has(d),
    );
    for (const blob of queue) {
      this.#pooled.add(blob.digest);
      for (const t of this.#targetsFor(graph.usersOf(blob.digest)))
        if (!t.mustReceive?.(blob)) void presence.holds(t, blob).catch(() => undefined);
    }
    const dispatch = this.#dispatch!;
    this.#ranged.start(queue, this.#readStreams, (blob) =>
      dispatch.dispatch(
        blob,
        // Views of a few reused read buffers (no allocation per chunk): the channels lease them.
        index.readRange(blobPath(blob.digest), 0, blob.size, { reuse: true }),
        false,
      ),
    );
  }

  async #readVerified(data: AsyncIterable<Buffer>, listed: ContentEntry, path: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of data) parts.push(Buffer.from(c));
    const bytes = Buffer.concat(parts);
    const hex = createHash('sha256').update(bytes).digest('hex');
    if (hex !== listed.sha256) throw this.#corrupt(path, []);
    return bytes;
  }

  #corrupt(path: string, artifacts: InstallArtifact[]): KubechatError {
    const names = artifacts.map((a) => a.ref).join(', ');
    return integrityError(
      `${this.#name}: ${path}${names ? ` (${names})` : ''} does not match its sha256 in the manifest: stopped, nothing that references it was tagged`,
      'copy the bundle again from its source, then run install again (it resumes)',
    );
  }

  async #writeFile(listed: ContentEntry, data: AsyncIterable<Buffer>): Promise<void> {
    const files = this.#o.files;
    if (!files) return;
    const { jobs } = this.#prepared;
    const key = JobKey.file(files, listed.path);
    const relative = listed.path.slice(FILES_PREFIX.length);
    if (jobs.done(key) || (await files.hasFile(relative, listed.size, listed.sha256))) {
      this.#tally.fileSkipped();
      this.#progress?.add(listed.size);
      return;
    }
    await jobs.start(key, 'file', listed.path);
    const hash = createHash('sha256');
    const name = this.#name;
    const progress = this.#progress;
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
      await jobs.fail(key, (err as Error).message);
      throw err;
    }
    await jobs.complete(key);
    this.#tally.fileWritten(listed.size);
  }

  /** Manifests and tags, last, for every artifact on every target. */
  commitAll(): Promise<void> {
    return this.#prepared.committer.commitAll();
  }

  async close(): Promise<void> {
    await this.#ranged.settle();
    await this.#work.settle();
    await Promise.allSettled([...this.#o.targets.map((t) => t.close()), this.#o.files?.close()]);
    await this.#o.journal.close();
  }

  result(): PassResult {
    const { jobs, graph, committer } = this.#prepared;
    const installed = committer.installed;
    const taken = new Set(installed.map((i) => i.ref));
    return {
      bundle: this.#o.bundlePath,
      name: this.#manifest.name,
      version: this.#manifest.version,
      manifestDigest: this.#bundle.manifestDigest,
      signature: this.#bundle.signature ? 'present-unchecked' : 'absent-allowed',
      targets: [...this.#o.targets, ...(this.#o.files ? [this.#o.files] : [])].map((t) => ({
        id: t.id,
        label: t.label,
      })),
      artifacts: installed,
      notInstalled: graph.artifacts
        .filter((a) => !taken.has(a.ref))
        .map((a) => ({ kind: a.kind, ref: a.ref })),
      ...this.#tally.totals(),
      resumedJobs: jobs.resumed,
      upToDate: this.#upToDate,
      journal: this.#o.journalLocation,
    };
  }
}
