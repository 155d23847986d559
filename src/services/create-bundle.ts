/**
 * `kubechat bundle create`: spec → plan of artifacts → hash what may be in the base → write plan
 * (pure: bundle/write-plan.ts decides the entries, the delta filter and the header) → one pass over
 * the body into the archive → real header → commit. See ArchiveWriter for why the header can be
 * first in the file although it is written last.
 */
import { resolve } from 'node:path';
import { PLACEHOLDER_DIGEST } from '../lib/digest.js';
import { sourceError } from '../lib/errors.js';
import { hashFile } from '../lib/hash.js';
import { readHashed } from '../lib/hashing-reader.js';
import { parsePlatform } from '../oci/platform.js';
import { ByteProgress, silentReporter, type Reporter } from '../lib/progress.js';
import { ArchiveWriter, tarMtime } from '../bundle/archive-writer.js';
import { deltaBase, type DeltaBase } from '../bundle/delta.js';
import { withSignature, type Header } from '../bundle/header.js';
import { blobPath, partsFileName } from '../bundle/layout.js';
import { manifestDigest, type BundleManifest } from '../bundle/manifest.js';
import { isFileBlob, type BundlePlan, type ChartImage } from '../bundle/plan.js';
import { openBundle } from '../bundle/reader.js';
import { createSink } from '../bundle/sink.js';
import { loadSpec } from '../bundle/spec.js';
import {
  archiveSizeBound,
  hashFirst,
  planWrite,
  storedSummary,
  type KnownDigests,
  type WritePlan,
} from '../bundle/write-plan.js';
import { defaultCompressOptions, type CompressOptions } from '../bundle/zstd.js';
import { BlobCache, defaultCacheDir } from '../cache/blob-cache.js';
import { Puller, type PullerOptions } from '../oci/pull.js';
import { parseExpires } from '../signing/policy.js';
import { signManifest } from '../signing/signature.js';
import type { SigningKey } from '../signing/keys.js';
import type { SourceClients } from '../sources/clients.js';
import { RemoteSources, type Fetch, type PlanLine } from '../sources/pull-sources.js';
import { DEFAULT_PLATFORMS, planBundle } from './plan-bundle.js';

export interface CreateBundleOptions {
  specPath: string;
  outDir: string;
  basePath?: string;
  splitSize?: number;
  allPlatforms?: boolean;
  /** Plan and size the bundle without writing it. */
  dryRun?: boolean;
  /** Sign the bundle with this key (unlocked by the caller before any work starts). */
  signingKey?: SigningKey;
  /** `--expires`: a duration from the creation time (365d) or a date; recorded in the manifest and the signature. */
  expires?: string;
  compress?: CompressOptions;
  now?: Date;
  reporter?: Reporter;
  /** Content cache directory (default: $KUBECHAT_CACHE_DIR, ~/.cache/kubechat). */
  cacheDir?: string;
  /** Clients for remote sources (see openSourceClients); the caller closes them. */
  clients: SourceClients;
  /** Large blobs downloading at once (default 6). */
  concurrency?: number;
  /** Add the images charts declare (helm.sh/images, values.yaml) as image artifacts. */
  addChartImages?: boolean;
  /** Tuning for ranged downloads (tests). */
  pull?: PullerOptions;
}

/** What the connected side transferred, and what it did not need to. */
export interface PullSummary {
  /** Blob bytes received from registries in this run (layers, weights, configs, chart archives). */
  downloadedBytes: number;
  /** Bytes of large blobs the cache already held. */
  cachedBytes: number;
  blobRequests: number;
  manifestRequests: number;
  /** Times a dropped download resumed with a Range request. */
  resumed: number;
  /** Bytes fetched from chart repositories (index.yaml, archives). */
  chartRepoBytes: number;
  cacheDir: string;
}

export interface CreateBundleResult {
  /** True when nothing was written (--dry-run): sizes and parts are then upper bounds. */
  dryRun: boolean;
  /** The bundle file, or its parts file when split. */
  bundle: string;
  files: string[];
  name: string;
  version: string;
  /** null in a dry run (digests of content not yet read are unknown). */
  manifestDigest: string | null;
  delta: BundleManifest['delta'];
  /** The signing key's id (sha256 of its SPKI DER), or null for an unsigned bundle. */
  signedBy: string | null;
  expires: string | null;
  artifacts: { images: number; charts: number; models: number; files: number };
  entries: { total: number; stored: number; fromBase: number };
  /** Bytes of content the manifest lists, and of the part this file stores. */
  content: { all: number; stored: number };
  /** Size of the bundle on disk (all parts together). */
  bundleBytes: number;
  parts: number;
  seconds: number;
  /** Every artifact with its digest (null when only known after reading), size and cache state. */
  plan: PlanLine[];
  /** Images the charts declare, and whether the bundle holds them (--add-chart-images adds them). */
  chartImages: ChartImage[];
  pull: PullSummary;
  /** Bytes not stored twice because artifacts share blobs. */
  dedupSavedBytes: number;
}

export async function createBundle(options: CreateBundleOptions): Promise<CreateBundleResult> {
  const started = Date.now();
  const reporter = options.reporter ?? silentReporter;
  reporter.emit({ task: 'plan', title: `Reading ${options.specPath}` });
  const loaded = await loadSpec(options.specPath);
  const cache = new BlobCache(options.cacheDir ?? defaultCacheDir());
  const { registry, http, helmRepositories } = options.clients;
  const puller = new Puller(registry, cache, options.pull);
  const sources = new RemoteSources({
    puller,
    cache,
    platforms: (loaded.spec.spec.platforms ?? DEFAULT_PLATFORMS).map((p) => parsePlatform(p)),
    allPlatforms: options.allPlatforms ?? false,
    concurrency: options.concurrency,
    reporter,
  });
  const plan = await planBundle(loaded, {
    allPlatforms: options.allPlatforms ?? false,
    remote: { sources, chartRepo: { http, cache }, helmRepositories },
    addChartImages: options.addChartImages,
  });
  reporter.emit({ task: 'plan', title: `Planned ${plan.artifacts.length} artifacts`, done: true });
  const remoteLines = await sources.planLines();
  // Downloads run while the bundle is written: the writer follows each blob as it arrives.
  const fetch = options.dryRun ? undefined : await sources.startFetch();
  const lines = planLines(plan, remoteLines);
  const extra = {
    plan: lines,
    chartImages: plan.chartImages,
    pull: {
      downloadedBytes: puller.counters.blobBytes,
      cachedBytes: options.dryRun ? remoteLines.reduce((n, l) => n + l.cachedBytes, 0) : sources.cachedBytes,
      blobRequests: puller.counters.blobRequests,
      manifestRequests: puller.counters.manifestRequests,
      resumed: puller.counters.resumed,
      chartRepoBytes: http.bytes,
      cacheDir: cache.dir,
    },
    dedupSavedBytes: dedupSaved(plan),
  };
  let result: WrittenResult;
  try {
    result = await writeBundle(options, plan, started, reporter, fetch);
  } catch (err) {
    // A download failure (digest mismatch, broken connection) explains a failed write better.
    fetch?.stop();
    const fetchError = await fetch?.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw fetchError ?? err;
  }
  extra.pull.downloadedBytes = puller.counters.blobBytes;
  extra.pull.cachedBytes = options.dryRun ? extra.pull.cachedBytes : sources.cachedBytes;
  extra.pull.blobRequests = puller.counters.blobRequests;
  extra.pull.resumed = puller.counters.resumed;
  return { ...result, ...extra };
}

type WrittenResult = Omit<CreateBundleResult, 'plan' | 'chartImages' | 'pull' | 'dedupSavedBytes'>;

/** The plan lines of every artifact: remote ones with what the cache held, local ones as read in place. */
function planLines(plan: BundlePlan, remote: PlanLine[]): PlanLine[] {
  const byRef = new Map(remote.map((l) => [`${l.kind} ${l.ref}`, l]));
  return plan.artifacts.map((a) => {
    const known = byRef.get(`${a.kind} ${a.refName}`);
    if (known) return known;
    const unknownDigest = a.blobs.some((b) => isFileBlob(b) && b.digest === undefined);
    const finished = a.finish((b) => b.digest ?? PLACEHOLDER_DIGEST);
    const size = finished.root.size + [...a.blobs, ...finished.extra].reduce((n, b) => n + b.size, 0);
    return {
      kind: a.kind,
      ref: a.refName,
      source: finished.info.source,
      digest: unknownDigest ? null : finished.root.digest,
      size,
      cachedBytes: 0,
      cached: false,
    };
  });
}

/** Sum of the sizes of blobs listed by more than one artifact, beyond their first use. */
function dedupSaved(plan: BundlePlan): number {
  const seen = new Set<string>();
  let saved = 0;
  for (const a of plan.artifacts) {
    for (const b of a.blobs) {
      const key = b.digest ?? (isFileBlob(b) ? `path:${b.path}` : '');
      if (seen.has(key)) saved += b.size;
      else seen.add(key);
    }
  }
  return saved;
}

async function writeBundle(
  options: CreateBundleOptions,
  plan: BundlePlan,
  started: number,
  reporter: Reporter,
  fetch?: Fetch,
): Promise<WrittenResult> {
  const base = options.basePath ? await loadBase(options.basePath, plan) : undefined;
  const known = await hashContent(hashFirst(plan, base), reporter);
  const createdAt = options.now ?? new Date();
  const created = createdAt.toISOString();
  const expires = options.expires === undefined ? null : parseExpires(options.expires, createdAt);
  const write = planWrite({ content: plan, base, known, created, expires });

  // The signature covers the manifest; it has the same size for the placeholder and the real one.
  const key = options.signingKey;
  const sign = async (h: Header) =>
    key
      ? withSignature(h.entries, await signManifest(h.entries[0]!.data, h.manifest, key, expires))
      : h.entries;
  const signed = { signedBy: key?.keyId ?? null, expires };
  const provisionalEntries = await sign(write.provisionalHeader);
  const finalPath = resolve(options.outDir, write.fileName);
  if (options.dryRun) {
    // Nothing is written. Sizes are upper bounds: stored content as if it did not compress.
    const stored = new Set([...provisionalEntries.map((e) => e.path), ...write.body.map((b) => b.path)]);
    const summary = storedSummary(write.provisionalHeader.manifest, stored, write.fileCount);
    const headerBytes = provisionalEntries[0]!.data.length + (provisionalEntries[1]?.data.length ?? 0);
    const upper = archiveSizeBound(summary.content.stored, headerBytes, stored.size);
    return {
      ...summary,
      ...signed,
      dryRun: true,
      bundle: options.splitSize === undefined ? finalPath : partsFileName(finalPath),
      files: [],
      manifestDigest: null,
      bundleBytes: upper,
      parts: options.splitSize === undefined ? 0 : Math.ceil(upper / options.splitSize),
      seconds: (Date.now() - started) / 1000,
    };
  }

  const sink = await createSink(finalPath, options.splitSize);
  const writer = new ArchiveWriter(
    sink,
    options.compress ?? defaultCompressOptions(),
    tarMtime(created),
    provisionalEntries.map((e) => ({ path: e.path, size: e.data.length })),
  );
  try {
    const learned = await writeBody(writer, write, known, reporter, fetch);
    // Every download verified and in the cache before the bundle is committed.
    await fetch?.done;
    const real = write.header(learned);
    reporter.emit({ task: 'finish', title: 'Writing manifest and index' });
    const realEntries = await sign(real);
    const written = await writer.finish(realEntries);
    const committed = await sink.commit();
    reporter.emit({ task: 'finish', title: 'Bundle written', done: true });
    const stored = new Set([
      ...realEntries.map((e) => e.path),
      ...write.body.map((b) => (b.provisional ? blobPath(learned.blobs.get(b.source)!) : b.path)),
    ]);
    return {
      ...storedSummary(real.manifest, stored, write.fileCount),
      ...signed,
      dryRun: false,
      bundle: committed.parts ? committed.files[committed.files.length - 1]! : finalPath,
      files: committed.files,
      manifestDigest: manifestDigest(real.entries[0]!.data),
      bundleBytes: written.size,
      parts: committed.parts?.parts.length ?? 0,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (err) {
    await writer.settle();
    await sink.abort();
    throw err;
  }
}

/** Hashes what must be known before the write is planned (see hashFirst). */
async function hashContent(first: ReturnType<typeof hashFirst>, reporter: Reporter): Promise<KnownDigests> {
  const blobs = new Map<string, string>();
  const files = new Map<string, string>();
  if (first.blobs.length + first.files.length > 0) {
    const total = [...first.blobs, ...first.files].reduce((n, x) => n + x.size, 0);
    const progress = new ByteProgress(reporter, 'hash', 'Hashing content that may be in the base', total);
    for (const b of first.blobs)
      blobs.set(b.path, `sha256:${await hashFile(b.path, (n) => progress.add(n))}`);
    for (const f of first.files) files.set(f.path, await hashFile(f.source, (n) => progress.add(n)));
    progress.finish();
  }
  return { blobs, files };
}

/**
 * Writes the body entries in plan order, each verified against its expected digest or hashed while
 * compressed. Returns every digest known once the body is written: those known before, and those
 * learned here.
 */
async function writeBody(
  writer: ArchiveWriter,
  write: WritePlan,
  known: KnownDigests,
  reporter: Reporter,
  fetch: Fetch | undefined,
): Promise<KnownDigests> {
  const blobs = new Map(known.blobs);
  const files = new Map(known.files);
  const total = write.body.reduce((s, b) => s + b.size, 0);
  const progress = new ByteProgress(reporter, 'write', `Writing ${write.fileName}`, total);
  for (const item of write.body) {
    const arriving = item.expected === undefined ? undefined : fetch?.follow(item.expected);
    const hex = await writer.addEntry(item.path, item.size, arriving ?? readHashed(item.source), {
      onBytes: (k) => progress.add(k),
      provisional: item.provisional,
      mode: item.mode,
    });
    // A blob whose digest is learned here had a placeholder path (all blob paths have one length).
    if (item.provisional) await writer.rename(item.path, blobPath(`sha256:${hex}`));
    if (item.expected !== undefined && `sha256:${hex}` !== item.expected) {
      throw sourceError(
        `${item.source}: content does not match its digest ${item.expected} (got sha256:${hex})`,
        'the source is corrupt: rebuild or re-export it',
      );
    }
    if (item.kind === 'file') files.set(item.path, hex);
    else if (item.expected === undefined) blobs.set(item.source, `sha256:${hex}`);
  }
  progress.finish();
  return { blobs, files };
}

async function loadBase(path: string, plan: BundlePlan): Promise<DeltaBase> {
  return deltaBase(path, await openBundle(path), plan.name, plan.version);
}
