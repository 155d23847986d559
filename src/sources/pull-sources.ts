/**
 * Remote sources: images and Helm OCI charts from registries, Ollama models from registry.ollama.ai
 * (or `ollama://HOST`). Planning is two steps:
 *
 * 1. resolve: manifests and the small blobs they point at (child manifests, configs, chart archives,
 *    Ollama text layers) are fetched, verified and cached; the large blobs (layers, weights) are
 *    only listed. A dry run stops here: it knows every digest and size and what the cache holds.
 * 2. `fetchAll`: the large blobs the cache lacks download, `concurrency` at a time, into the cache.
 *
 * The planned artifacts point at the cache (`blobs/sha256/<hex>`) with declared digests, so the bundle
 * writer verifies each blob again as it compresses it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { FileBlob, ImageInfo, MemoryBlob, PlannedArtifact, PlannedBlob } from '../bundle/plan.js';
import type { BlobCache } from '../cache/blob-cache.js';
import { BufferRing } from '../lib/buffer-ring.js';
import { forEachLimit } from '../lib/concurrency.js';
import { KubechatError, notFoundError, platformError, protocolError, sourceError } from '../lib/errors.js';
import { formatBytes, type Reporter } from '../lib/progress.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType } from '../oci/media-types.js';
import type { Puller, Repo } from '../oci/pull.js';
import { normalizeReference, parseReference } from '../oci/reference.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../oci/types.js';
import { readChartArchive } from './chart-archive.js';
import { chartArtifactFromManifest, readChartYaml } from './chart.js';
import { shortName, type OllamaName } from '../ollama/names.js';
import { parseModelName } from './model.js';
import { isSmallOllamaLayer, ollamaArtifact, parseOllamaManifest } from './ollama-model.js';
import {
  choosePlatforms,
  configPlatform,
  formatPlatform,
  isRealPlatform,
  satisfies,
} from '../oci/platform.js';

export interface RemoteOptions {
  puller: Puller;
  cache: BlobCache;
  platforms: Platform[];
  allPlatforms: boolean;
  /** Large blobs downloading at once (default 6). */
  concurrency?: number;
  reporter: Reporter;
}

/** One line of the plan: what an artifact needs and how much of it the cache already holds. */
export interface PlanLine {
  kind: 'image' | 'chart' | 'model';
  ref: string;
  source: string;
  digest: string | null;
  /** Bytes of every blob of the artifact (root, manifests, configs, layers). */
  size: number;
  cachedBytes: number;
  /** True when nothing needs downloading. */
  cached: boolean;
}

interface Pending {
  repo: Repo;
  desc: Descriptor;
  what: string;
  artifact: string;
}

const OLLAMA_ACCEPT = MediaType.dockerManifest;

/** Runs `work`, prefixing errors that do not name the artifact with it (network failures name only the host). */
async function naming<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof KubechatError && !err.message.includes(what)) {
      throw new KubechatError(err.kind, `${what}: ${err.message}`, err.fixTemplate, { cause: err });
    }
    throw err;
  }
}

export class RemoteSources {
  readonly #pending = new Map<string, Pending>();
  /** Large blobs per artifact, and bytes of its metadata (always fetched). */
  readonly #artifacts: Array<{
    line: Omit<PlanLine, 'cachedBytes' | 'cached'>;
    large: Descriptor[];
    meta: number;
  }> = [];
  #cachedDigests = new Set<string>();
  downloadedBytes = 0;
  cachedBytes = 0;

  constructor(readonly options: RemoteOptions) {}

  #fileBlob(repo: Repo, d: Descriptor, what: string, artifact: string): FileBlob {
    if (!this.#pending.has(d.digest)) this.#pending.set(d.digest, { repo, desc: d, what, artifact });
    return {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      path: this.options.cache.blobPath(d.digest),
    };
  }

  async #memory(repo: Repo, d: Descriptor, what: string): Promise<MemoryBlob> {
    const data = await this.options.puller.blobBytes(repo, d, what);
    return { mediaType: d.mediaType, digest: d.digest, size: d.size, data };
  }

  #record(line: Omit<PlanLine, 'cachedBytes' | 'cached' | 'size'>, blobs: PlannedBlob[], root: MemoryBlob) {
    const large = blobs
      .filter((b): b is FileBlob => 'path' in b)
      .map((b) => this.#pending.get(b.digest!)!.desc);
    const meta = root.size + blobs.filter((b) => !('path' in b)).reduce((s, b) => s + b.size, 0);
    this.#artifacts.push({
      line: { ...line, size: meta + large.reduce((s, d) => s + d.size, 0) },
      large,
      meta,
    });
  }

  /** An image pulled from `from` (docker://REF) or from its own `ref`. */
  image(refText: string, from: string | undefined): Promise<PlannedArtifact> {
    return naming(normalizeReference(from ? from.slice('docker://'.length) : refText), () =>
      this.#image(refText, from),
    );
  }

  async #image(refText: string, from: string | undefined): Promise<PlannedArtifact> {
    const ref = normalizeReference(refText);
    const pullRef = from ? normalizeReference(from.slice('docker://'.length)) : ref;
    const parsed = parseReference(pullRef);
    const repo: Repo = { registry: parsed.registry, repository: parsed.repository };
    const what = pullRef;
    const { puller, platforms, allPlatforms } = this.options;
    const top = await puller.manifest(repo, parsed.digest ?? parsed.tag ?? 'latest', what);
    const blobs = new Map<string, PlannedBlob>();
    const add = (b: PlannedBlob) => {
      if (!blobs.has(b.digest!)) blobs.set(b.digest!, b);
    };
    const filter = !allPlatforms && platforms.length > 0;
    let root: MemoryBlob = {
      mediaType: top.mediaType,
      digest: top.digest,
      size: top.data.length,
      data: top.data,
    };
    let platform: Platform | undefined;
    let chosenPlatforms: string[];

    const loadManifest = async (data: Buffer, digest: string) => {
      const m = JSON.parse(data.toString('utf8')) as ImageManifest;
      if (m.schemaVersion !== 2 || !m.config || !Array.isArray(m.layers)) {
        throw protocolError(`${what}: manifest ${digest} is not an image manifest`, 'check the reference');
      }
      const config = await this.#memory(repo, m.config, what);
      add(config);
      for (const l of m.layers) add(this.#fileBlob(repo, l, what, ref));
      return JSON.parse(config.data.toString('utf8')) as {
        os?: string;
        architecture?: string;
        variant?: string;
      };
    };

    if (INDEX_MEDIA_TYPES.has(top.mediaType)) {
      const index = JSON.parse(top.data.toString('utf8')) as ImageIndex;
      if (!Array.isArray(index.manifests))
        throw protocolError(`${what}: index has no manifests`, 'check the reference');
      const real = index.manifests.filter(isRealPlatform);
      let chosen: Descriptor[] = index.manifests.filter((d) => MANIFEST_MEDIA_TYPES.has(d.mediaType));
      if (filter) {
        chosen = choosePlatforms(real, platforms, (want, available) =>
          platformError(
            `${what}: has no ${formatPlatform(want)} image (available: ${available.join(', ') || 'none'})`,
            `drop ${formatPlatform(want)} from spec.platforms, or use an image built for it`,
          ),
        );
      }
      const only = chosen[0];
      if (filter && real.length === 1 && only) {
        // Same rule as OCI layouts: a single-platform index (image + attestation) is unwrapped.
        const child = await puller.manifest(repo, only.digest, what);
        root = {
          mediaType: child.mediaType,
          digest: child.digest,
          size: child.data.length,
          data: child.data,
        };
        await loadManifest(child.data, child.digest);
        platform = only.platform;
      } else {
        for (const d of chosen) {
          const child = await puller.manifest(repo, d.digest, what);
          add({ mediaType: d.mediaType, digest: d.digest, size: child.data.length, data: child.data });
          await loadManifest(child.data, d.digest);
        }
      }
      chosenPlatforms = chosen.filter(isRealPlatform).map((d) => formatPlatform(d.platform as Platform));
    } else if (MANIFEST_MEDIA_TYPES.has(top.mediaType)) {
      const config = await loadManifest(top.data, top.digest);
      const have = configPlatform(config);
      if (!have) {
        throw protocolError(
          `${what}: its config has no os/architecture`,
          'check that the reference is an image',
        );
      }
      const missing = filter ? platforms.filter((w) => !satisfies(have, w)) : [];
      if (missing.length > 0) {
        throw platformError(
          `${what}: is a single-platform ${formatPlatform(have)} image, not ${missing.map(formatPlatform).join(', ')}`,
          `set spec.platforms to ${formatPlatform(have)} for this bundle, or use a multi-platform image`,
        );
      }
      platform = have;
      chosenPlatforms = [formatPlatform(have)];
    } else {
      throw protocolError(
        `${what}: ${top.mediaType} is not an image manifest or index`,
        'list Helm charts under charts and Ollama models under models',
      );
    }
    blobs.delete(root.digest);
    const info: ImageInfo = {
      kind: 'image',
      ref,
      source: from ?? `docker://${ref}`,
      digest: root.digest,
      mediaType: root.mediaType,
      platforms: chosenPlatforms,
    };
    const list = [...blobs.values()];
    this.#record({ kind: 'image', ref, source: info.source, digest: root.digest }, list, root);
    const artifact: PlannedArtifact = {
      kind: 'image',
      refName: ref,
      blobs: list,
      finish: () => ({ root, extra: [], info }),
    };
    if (platform !== undefined) artifact.platform = platform;
    return artifact;
  }

  /** A model from registry.ollama.ai (name alone) or another Ollama-protocol registry (ollama://). */
  model(nameText: string | undefined, from: string | undefined): Promise<PlannedArtifact> {
    return naming(`model ${from ?? nameText ?? ''}`, () => this.#model(nameText, from));
  }

  async #model(nameText: string | undefined, from: string | undefined): Promise<PlannedArtifact> {
    let pullName: OllamaName;
    if (from !== undefined) {
      const rest = from.slice('ollama://'.length);
      const slash = rest.indexOf('/');
      const host = rest.slice(0, slash);
      const path = rest.slice(slash + 1);
      const n = parseModelName(path.includes('/') ? path : `library/${path}`);
      pullName = { ...n, host };
    } else {
      pullName = parseModelName(nameText!);
    }
    const name = nameText !== undefined ? parseModelName(nameText) : pullName;
    const repo: Repo = { registry: pullName.host, repository: `${pullName.namespace}/${pullName.model}` };
    const what = `model ${shortName(pullName)}`;
    const { puller } = this.options;
    const top = await puller.manifest(repo, pullName.tag, what, OLLAMA_ACCEPT).catch((err: unknown) => {
      if (err instanceof Error && 'kind' in err && err.kind === 'notFound') {
        throw notFoundError(
          `${what}: not found on ${pullName.host}`,
          'check the model name and tag (ollama.com/library lists them)',
          err,
        );
      }
      throw err;
    });
    const m = parseOllamaManifest(top.data, what);
    const manifest: MemoryBlob = {
      mediaType: top.mediaType,
      digest: top.digest,
      size: top.data.length,
      data: top.data,
    };
    const config = await this.#memory(repo, m.config, what);
    const layers: PlannedBlob[] = [];
    let licenseText: string | undefined;
    for (const l of m.layers) {
      if (isSmallOllamaLayer(l.mediaType, l.size)) {
        const blob = await this.#memory(repo, l, what);
        if (l.mediaType === MediaType.ollamaLicense) licenseText ??= blob.data.toString('utf8');
        layers.push(blob);
      } else layers.push(this.#fileBlob(repo, l, what, shortName(name)));
    }
    const source =
      from ?? `ollama://${pullName.host}/${pullName.namespace}/${pullName.model}:${pullName.tag}`;
    const artifact = ollamaArtifact({ name, source, manifest, config, layers, licenseText });
    this.#record(
      { kind: 'model', ref: artifact.refName, source, digest: manifest.digest },
      artifact.blobs,
      manifest,
    );
    return artifact;
  }

  /** The chart archive (content layer) of a Helm OCI chart, for dependency vendoring. */
  /** The versions an OCI chart repository holds (oci://host/path/name): its tags, `_` read as `+` as Helm writes them. */
  async ociChartVersions(base: string): Promise<string[]> {
    const path = base.slice('oci://'.length);
    const slash = path.indexOf('/');
    const repo: Repo = { registry: path.slice(0, slash), repository: path.slice(slash + 1) };
    const tags = await this.options.puller.tags(repo, `chart ${base}`);
    return tags.map((t) => t.replace(/_/g, '+'));
  }

  async ociChartArchive(refText: string): Promise<Buffer> {
    const { tgz } = await this.#pullChart(refText);
    return tgz;
  }

  /** A Helm chart stored in an OCI registry (`helm push`): oci://host/path/name:version. */
  ociChart(refText: string): Promise<PlannedArtifact> {
    return naming(`chart ${refText}`, () => this.#ociChart(refText));
  }

  async #ociChart(refText: string): Promise<PlannedArtifact> {
    const { what, top, blobs, tgz } = await this.#pullChart(refText);
    const files = readChartArchive(tgz, what);
    const meta = readChartYaml(files.get('Chart.yaml')!.toString('utf8'), `${what}: Chart.yaml`);
    const root: MemoryBlob = {
      mediaType: top.mediaType,
      digest: top.digest,
      size: top.data.length,
      data: top.data,
    };
    const artifact = chartArtifactFromManifest({ meta, files, where: what, source: refText, root, blobs });
    this.#record({ kind: 'chart', ref: artifact.refName, source: refText, digest: root.digest }, blobs, root);
    return artifact;
  }

  async #pullChart(refText: string) {
    const rest = refText.slice('oci://'.length);
    const colon = rest.lastIndexOf(':');
    const [path, version] = [rest.slice(0, colon), rest.slice(colon + 1)];
    const slash = path.indexOf('/');
    const repo: Repo = { registry: path.slice(0, slash), repository: path.slice(slash + 1) };
    const what = `chart ${refText}`;
    const { puller } = this.options;
    const top = await puller.manifest(repo, version.replace(/\+/g, '_'), what, `${MediaType.ociManifest}`);
    const m = JSON.parse(top.data.toString('utf8')) as ImageManifest;
    if (m.config?.mediaType !== MediaType.helmConfig) {
      throw sourceError(
        `${what}: is not a Helm chart (config media type ${String(m.config?.mediaType)})`,
        'list container images under images',
      );
    }
    const content = m.layers.find((l) => l.mediaType === MediaType.helmChart);
    if (!content)
      throw protocolError(`${what}: has no chart content layer`, 'push the chart again with helm push');
    const config = await this.#memory(repo, m.config, what);
    const blobs: MemoryBlob[] = [config];
    for (const l of m.layers) blobs.push(await this.#memory(repo, l, what));
    const tgz = blobs.find((b) => b.digest === content.digest)!.data;
    return { what, top, blobs, tgz };
  }

  /** Every artifact's plan line; call after all are resolved and before or after fetchAll. */
  async planLines(): Promise<PlanLine[]> {
    const out: PlanLine[] = [];
    for (const a of this.#artifacts) {
      let cachedBytes = a.meta;
      for (const d of a.large)
        if (this.#cachedDigests.has(d.digest) || (await this.options.cache.has(d.digest, d.size))) {
          this.#cachedDigests.add(d.digest);
          cachedBytes += d.size;
        }
      out.push({ ...a.line, cachedBytes, cached: cachedBytes === a.line.size });
    }
    return out;
  }

  /** Downloads every large blob the cache lacks, `concurrency` at a time, with progress per artifact. */
  async fetchAll(): Promise<void> {
    const fetch = await this.startFetch();
    await fetch.done;
  }

  /**
   * Starts the downloads and returns at once. `follow(digest)` reads a blob while it downloads (its
   * complete prefix, as it grows), so the bundle writer compresses a layer while the rest of it is still
   * arriving; `done` settles when every download is verified and in the cache. `stop()` starts no more.
   */
  async startFetch(): Promise<Fetch> {
    const { cache, puller, reporter } = this.options;
    const missing: Pending[] = [];
    for (const p of this.#pending.values()) {
      if (await cache.has(p.desc.digest, p.desc.size)) {
        this.#cachedDigests.add(p.desc.digest);
        this.cachedBytes += p.desc.size;
      } else missing.push(p);
    }
    const byArtifact = new Map<string, { total: number; done: number; left: number; last: number }>();
    for (const p of missing) {
      const s = byArtifact.get(p.artifact) ?? { total: 0, done: 0, left: 0, last: 0 };
      s.total += p.desc.size;
      s.left++;
      byArtifact.set(p.artifact, s);
    }
    const emit = (artifact: string, done = false) => {
      const s = byArtifact.get(artifact)!;
      reporter.emit({
        task: `pull ${artifact}`,
        title: `Pulling ${artifact}`,
        bytesDone: s.done,
        bytesTotal: s.total,
        done,
      });
    };
    const trackers = new Map(
      missing.map((p) => [
        p.desc.digest,
        new Tracker(
          cache.partialPath(p.desc.digest),
          cache.blobPath(p.desc.digest),
          p.desc.size,
          p.desc.digest,
        ),
      ]),
    );
    let stopped = false;
    const fetchOne = async (i: number) => {
      const p = missing[i]!;
      const s = byArtifact.get(p.artifact)!;
      const t = trackers.get(p.desc.digest)!;
      try {
        await naming(p.what, () =>
          puller.blob(
            p.repo,
            p.desc,
            p.what,
            (n) => {
              s.done += n;
              const now = Date.now();
              if (now - s.last >= 200) {
                s.last = now;
                emit(p.artifact);
              }
            },
            (n) => t.advance(n),
          ),
        );
      } catch (err) {
        t.fail(err);
        throw err;
      }
      t.finish();
      this.downloadedBytes += p.desc.size;
      if (--s.left === 0) emit(p.artifact, true);
    };
    const concurrency = Math.max(1, this.options.concurrency ?? 6);
    const done = forEachLimit(missing.length, concurrency, fetchOne, { stop: () => stopped }).then(
      () => {
        if (stopped) for (const t of trackers.values()) t.fail(new Error('downloads stopped'));
        if (missing.length > 0) {
          reporter.emit({
            task: 'pull',
            title: `Pulled ${missing.length} blobs (${formatBytes(this.downloadedBytes)}), ${formatBytes(this.cachedBytes)} from the cache`,
            done: true,
          });
        }
      },
      (failure: unknown) => {
        for (const t of trackers.values()) t.fail(failure);
        throw failure;
      },
    );
    done.catch(() => undefined); // observed by the caller; never an unhandled rejection
    return {
      done,
      follow: (digest) => trackers.get(digest)?.follow(),
      stop: () => {
        stopped = true;
      },
    };
  }
}

export interface Fetch {
  done: Promise<void>;
  /** The blob's bytes as they arrive, or undefined when it was cached before (read the cache file). */
  follow(digest: string): (AsyncIterable<Buffer> & { digest(): Promise<string> }) | undefined;
  stop(): void;
}

/** The complete prefix of one download, for a reader that follows it (exported for its unit test). */
export class Tracker {
  #contiguous = 0;
  #finished = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  /** Settles when the download is verified and in the cache (or failed). */
  readonly verified: Promise<void>;
  #verified!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(
    readonly partial: string,
    readonly final: string,
    readonly size: number,
    readonly digest: string,
  ) {
    this.verified = new Promise<void>((resolve, reject) => (this.#verified = { resolve, reject }));
    this.verified.catch(() => undefined);
  }

  advance(n: number) {
    if (n > this.#contiguous) this.#contiguous = n;
    this.#notify();
  }

  finish() {
    this.#contiguous = this.size;
    this.#finished = true;
    this.#verified.resolve();
    this.#notify();
  }

  fail(err: unknown) {
    if (this.#finished) return;
    this.#error ??= err;
    this.#verified.reject(err);
    this.#notify();
  }

  /**
   * The bytes as they arrive, with `digest()`: the puller checks the sha256 of exactly these bytes
   * before the blob enters the cache, so the reader need not hash them again.
   */
  follow(): AsyncIterable<Buffer> & { digest(): Promise<string> } {
    return {
      [Symbol.asyncIterator]: () => this.#read(),
      digest: async () => {
        await this.verified;
        return this.digest.slice('sha256:'.length);
      },
    };
  }

  #notify() {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #changed() {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  async *#read(): AsyncGenerator<Buffer> {
    let fh: FileHandle | undefined;
    let pos = 0;
    // A fixed ring of leasable buffers (leases.ts): the writer stores raw frames straight from them
    // while the next chunks are read, and nothing is allocated per chunk (no GC churn at 256 MiB).
    const ring = spareRings.pop() ?? new BufferRing(FOLLOW_SLOTS, FOLLOW_CHUNK, { shared: true });
    try {
      while (pos < this.size) {
        if (this.#error !== undefined) throw this.#error;
        const end = this.#contiguous;
        if (end <= pos) {
          await this.#changed();
          continue;
        }
        // The partial file is renamed into the cache when complete; an open handle reads on regardless.
        fh ??= await open(this.partial, 'r').catch(() => open(this.final, 'r'));
        const want = Math.min(end - pos, FOLLOW_CHUNK);
        const buf = await ring.next();
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) {
          await this.#changed();
          continue;
        }
        pos += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh?.close();
      // Back to the spares only once no write holds a view of them.
      void ring.idle().then(() => spareRings.push(ring));
    }
  }
}

const FOLLOW_CHUNK = 4 * 1024 * 1024;
const FOLLOW_SLOTS = 6;

/** Rings of followers that finished, reused by the next (blobs are written one after another). */
const spareRings: BufferRing[] = [];
