/**
 * `kubechat bundle create`: spec → plan → (delta filter) → one pass over the content into the
 * archive → header (manifest, index, metadata blobs) → commit. See ArchiveWriter for why the
 * header can be first in the file although it is written last.
 */
import { resolve } from 'node:path';
import { hexOf, PLACEHOLDER_DIGEST, sha256Digest } from '../lib/digest.js';
import { sourceError, specError } from '../lib/errors.js';
import { hashFile } from '../lib/hash.js';
import { readHashed } from '../lib/hashing-reader.js';
import { parsePlatform } from '../oci/platform.js';
import { ByteProgress, silentReporter, type Reporter } from '../lib/progress.js';
import { ArchiveWriter, tarMtime } from '../bundle/archive-writer.js';
import { blobPath, bundleFileName, partsFileName } from '../bundle/layout.js';
import { manifestDigest, type BundleManifest } from '../bundle/manifest.js';
import { isFileBlob, type FileBlob } from '../bundle/plan.js';
import { openBundle } from '../bundle/reader.js';
import { createSink } from '../bundle/sink.js';
import { loadSpec } from '../bundle/spec.js';
import { defaultCompressOptions, type CompressOptions } from '../bundle/zstd.js';
import { parseExpires } from '../signing/policy.js';
import { signManifest } from '../signing/signature.js';
import type { SigningKey } from '../signing/keys.js';
import { assembleHeader, withSignature } from './bundle-header.js';
import { DEFAULT_PLATFORMS, planBundle, type BundlePlan, type ChartImage } from './plan-bundle.js';
import { BlobCache, defaultCacheDir } from '../cache/blob-cache.js';
import { Puller, type PullerOptions } from '../oci/pull.js';
import { RegistryClient, type RegistryClientOptions } from '../oci/registry-client.js';
import { loadHelmRepositories, type HelmRepository } from '../sources/helm-repositories.js';
import { HttpClient } from '../sources/http-get.js';
import { RemoteSources, type Fetch, type PlanLine } from '../sources/pull-sources.js';

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
  /** Registry client settings: insecure hosts, explicit credentials, CA. */
  registry?: RegistryClientOptions;
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

export interface BaseIndex {
  name: string;
  version: string;
  manifestDigest: string;
  digests: Set<string>;
  sizes: Set<number>;
}

/** A body entry: content read from disk, whose digest may be learned only while it is written. */
interface BodyItem {
  path: string | undefined; // undefined for blobs until their digest is known
  source: string;
  size: number;
  expected: string | undefined;
  blob?: FileBlob;
  mode?: number;
}

export async function createBundle(options: CreateBundleOptions): Promise<CreateBundleResult> {
  const started = Date.now();
  const reporter = options.reporter ?? silentReporter;
  reporter.emit({ task: 'plan', title: `Reading ${options.specPath}` });
  const loaded = await loadSpec(options.specPath);
  const cache = new BlobCache(options.cacheDir ?? defaultCacheDir());
  const client = new RegistryClient(options.registry);
  let helmRepos: HelmRepository[] | undefined;
  const helmRepositories = () => (helmRepos ??= loadHelmRepositories(options.registry?.env));
  const http = new HttpClient({
    insecure: options.registry?.insecure,
    ca: options.registry?.ca,
    credentials: options.registry?.credentials,
    helmRepositories,
  });
  try {
    const puller = new Puller(client, cache, options.pull);
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
        cachedBytes: options.dryRun
          ? remoteLines.reduce((n, l) => n + l.cachedBytes, 0)
          : sources.cachedBytes,
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
  } finally {
    await client.close();
    await http.close();
  }
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

  // Distinct file blobs: by digest when declared, by path when it will be learned while writing.
  const fileBlobs = distinct(
    plan.artifacts.flatMap((a) => a.blobs.filter(isFileBlob)),
    (b) => b.digest ?? `path:${b.path}`,
  );
  const learned = new Map<string, string>(); // path -> digest, for blobs without a declared digest
  const files = plan.fileSets.flatMap((s) => s.files);
  const fileDigests = new Map<string, string>(); // bundle path -> hex

  // Hash up front only what must be known before writing: content that may already be in the base
  // (same size as a base entry) and blobs whose size collides with another blob (they may be equal,
  // and equal blobs are stored once). Everything else is hashed while it is compressed.
  const sizeCount = new Map<number, number>();
  for (const b of fileBlobs) sizeCount.set(b.size, (sizeCount.get(b.size) ?? 0) + 1);
  const early = fileBlobs.filter(
    (b) => b.digest === undefined && ((sizeCount.get(b.size) ?? 0) > 1 || (base?.sizes.has(b.size) ?? false)),
  );
  const earlyFiles = base ? files.filter((f) => base.sizes.has(f.size)) : [];
  if (early.length + earlyFiles.length > 0) {
    const total = [...early, ...earlyFiles].reduce((n, x) => n + x.size, 0);
    const progress = new ByteProgress(reporter, 'hash', 'Hashing content that may be in the base', total);
    for (const b of early) learned.set(b.path, `sha256:${await hashFile(b.path, (n) => progress.add(n))}`);
    for (const f of earlyFiles) fileDigests.set(f.path, await hashFile(f.source, (n) => progress.add(n)));
    progress.finish();
  }
  // Re-key blobs whose digest is now known, so equal content is stored once.
  const digestOfBlob = (b: FileBlob): string | undefined => b.digest ?? learned.get(b.path);
  const blobs = distinct(fileBlobs, (b) => digestOfBlob(b) ?? `path:${b.path}`);
  const pendingArtifacts = new Set(
    plan.artifacts.filter((a) => a.blobs.some((b) => isFileBlob(b) && digestOfBlob(b) === undefined)),
  );
  const inBase = (digest: string | undefined) =>
    digest !== undefined && (base?.digests.has(hexOf(digest)) ?? false);

  const body: BodyItem[] = [];
  for (const b of blobs) {
    const digest = digestOfBlob(b);
    if (inBase(digest)) continue;
    body.push({
      path: digest ? blobPath(digest) : undefined,
      source: b.path,
      size: b.size,
      expected: digest,
      blob: b,
    });
  }
  for (const f of files) {
    const known = fileDigests.get(f.path);
    if (known !== undefined && base?.digests.has(known)) continue;
    body.push({ path: f.path, source: f.source, size: f.size, expected: undefined, mode: f.mode });
  }

  // Placeholder digests have the real length, so the header built with them has the real size.
  const placeholders = new Map<string, string>();
  let n = 0;
  for (const b of blobs) {
    if (digestOfBlob(b) === undefined) placeholders.set(b.path, sha256Digest(`kubechat-placeholder-${n++}`));
  }
  const createdAt = options.now ?? new Date();
  const created = createdAt.toISOString();
  const expires = options.expires === undefined ? null : parseExpires(options.expires, createdAt);
  const assemble = (digestOf: (b: FileBlob) => string, fileHex: (path: string) => string) =>
    assembleHeader({ plan, created, expires, base, digestOf, fileHex, pendingArtifacts, inBase });
  // The signature covers the manifest; it has the same size for the placeholder and the real one.
  const key = options.signingKey;
  const sign = async (h: ReturnType<typeof assemble>) =>
    key
      ? withSignature(h.entries, await signManifest(h.entries[0]!.data, h.manifest, key, expires))
      : h.entries;
  const signed = { signedBy: key?.keyId ?? null, expires };
  const placeholderHeader = assemble(
    (b) => digestOfBlob(b) ?? placeholders.get(b.path)!,
    (p) => fileDigests.get(p) ?? hexOf(PLACEHOLDER_DIGEST),
  );
  const placeholderEntries = await sign(placeholderHeader);

  const fileName = bundleFileName(plan.name, plan.version, base?.version);
  const finalPath = resolve(options.outDir, fileName);
  if (options.dryRun) {
    // Nothing is written. Sizes are upper bounds: stored content as if it did not compress.
    const stored = new Set([
      ...placeholderEntries.map((e) => e.path),
      ...body.map((b) => b.path ?? blobPath(placeholders.get(b.source)!)),
    ]);
    const summary = summarize(placeholderHeader.manifest, stored, files.length);
    // zstd output is at most 1/256 larger than its input; each entry adds at most a tar header and
    // padding, frame headers, a seek-table and a table-of-contents entry (well under 4 KiB).
    const raw =
      summary.content.stored + placeholderEntries[0]!.data.length + (placeholderEntries[1]?.data.length ?? 0);
    const upper = raw + Math.ceil(raw / 256) + 4096 * (stored.size + 4);
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
  const mtime = tarMtime(created);
  const writer = new ArchiveWriter(
    sink,
    options.compress ?? defaultCompressOptions(),
    mtime,
    placeholderEntries.map((e) => ({ path: e.path, size: e.data.length })),
  );
  try {
    const total = body.reduce((s, b) => s + b.size, 0);
    const progress = new ByteProgress(reporter, 'write', `Writing ${fileName}`, total);
    for (const item of body) {
      // A blob whose digest is learned here gets a temporary path; tar paths of blobs all have one length.
      const path = item.path ?? blobPath(placeholders.get(item.source)!);
      const provisional = item.path === undefined;
      const arriving = item.expected === undefined ? undefined : fetch?.follow(item.expected);
      const hex = await writer.addEntry(path, item.size, arriving ?? readHashed(item.source), {
        onBytes: (k) => progress.add(k),
        provisional,
        mode: item.mode,
      });
      if (provisional) await writer.rename(path, blobPath(`sha256:${hex}`));
      if (item.expected !== undefined && `sha256:${hex}` !== item.expected) {
        throw sourceError(
          `${item.source}: content does not match its digest ${item.expected} (got sha256:${hex})`,
          'the source is corrupt: rebuild or re-export it',
        );
      }
      if (item.blob && item.expected === undefined) learned.set(item.source, `sha256:${hex}`);
      else if (!item.blob) fileDigests.set(item.path!, hex);
    }
    progress.finish();
    // Every download verified and in the cache before the bundle is committed.
    await fetch?.done;
    if (learned.size < placeholders.size) throw new Error('internal: a blob was not hashed');
    const real = assemble(
      (b) => digestOfBlob(b)!,
      (p) => fileDigests.get(p)!,
    );
    reporter.emit({ task: 'finish', title: 'Writing manifest and index' });
    const realEntries = await sign(real);
    const written = await writer.finish(realEntries);
    const committed = await sink.commit();
    reporter.emit({ task: 'finish', title: 'Bundle written', done: true });
    const stored = new Set([
      ...realEntries.map((e) => e.path),
      ...body.map((b) => b.path ?? blobPath(learned.get(b.source)!)),
    ]);
    return {
      ...summarize(real.manifest, stored, files.length),
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

/** The first item for each key, in order. */
function distinct<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/** Counts and sizes of what the manifest lists and what this file stores (the rest is in the base). */
function summarize(manifest: BundleManifest, stored: Set<string>, fileCount: number) {
  const kept = manifest.contents.filter((c) => stored.has(c.path));
  return {
    name: manifest.name,
    version: manifest.version,
    delta: manifest.delta,
    artifacts: {
      images: manifest.artifacts.images.length,
      charts: manifest.artifacts.charts.length,
      models: manifest.artifacts.models.length,
      files: fileCount,
    },
    entries: {
      total: manifest.contents.length,
      stored: kept.length,
      fromBase: manifest.contents.length - kept.length,
    },
    content: {
      all: manifest.contents.reduce((s, c) => s + c.size, 0),
      stored: kept.reduce((s, c) => s + c.size, 0),
    },
  };
}

async function loadBase(path: string, plan: BundlePlan): Promise<BaseIndex> {
  const opened = await openBundle(path);
  const m = opened.manifest;
  if (m.name !== plan.name) {
    throw specError(
      `--base ${path} is bundle "${m.name}", not "${plan.name}"`,
      'pass an earlier bundle of the same name',
    );
  }
  if (m.version === plan.version) {
    throw specError(`--base ${path} has the same version ${m.version}`, 'bump metadata.version in the spec');
  }
  return {
    name: m.name,
    version: m.version,
    manifestDigest: opened.manifestDigest,
    digests: new Set(m.contents.map((c) => c.sha256)),
    sizes: new Set(m.contents.map((c) => c.size)),
  };
}
