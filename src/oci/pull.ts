/**
 * Pull operations on top of RegistryClient (distribution-spec "pull"): manifests of the four media
 * types, and blobs streamed into the content cache with their sha256 checked on the way.
 *
 * - A manifest asked for by digest is verified against it and served from the cache next time
 *   (no request); one asked for by tag is fetched (the tag may have moved) and verified against the
 *   `Docker-Content-Digest` header when the registry sends one.
 * - A blob already in the cache is never transferred again.
 * - A blob download writes `partial/<hex>` and resumes it with `Range: bytes=N-` after a dropped
 *   connection, in this run (retries) or the next one. Blobs of `rangeThreshold` bytes or more are
 *   fetched as parallel byte ranges (when the server honours Range), each range resumable.
 * - Only content whose sha256 matched is renamed into `blobs/`: a mismatch deletes the partial file.
 */
import { open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { forEachLimit } from '../lib/concurrency.js';
import { sha256Digest } from '../lib/digest.js';
import { KubechatError, protocolError, transferError, upstreamDigestError } from '../lib/errors.js';
import { MediaType } from './media-types.js';
import type { RegistryClient } from './registry-client.js';
import type { Descriptor } from './types.js';
import { PrefixHasher } from './prefix-hasher.js';

/** Every manifest media type we accept, preferred first (what docker and skopeo send). */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ');

const MAX_MANIFEST = 4 * 1024 * 1024;
const WRITE_BATCH = 1024 * 1024;
const MAX_MEMORY_BLOB = 16 * 1024 * 1024;

export interface Repo {
  /** Registry host[:port] as written in the reference (docker.io, not registry-1.docker.io). */
  registry: string;
  repository: string;
}

export interface PulledManifest {
  mediaType: string;
  digest: string;
  data: Buffer;
}

export interface PullerOptions {
  /** Blobs at least this large download as parallel ranges (default 64 MiB). */
  rangeThreshold?: number;
  /** Size of one range (default 8 MiB: the complete prefix a follower reads grows in small steps). */
  rangeSize?: number;
  /** Ranges of one blob in flight at once (default 4). */
  rangeConcurrency?: number;
  /** Times a download may lose its connection and resume (default 8). */
  resumes?: number;
}

/** Byte and request counters: what a create actually transferred. */
export interface PullCounters {
  blobBytes: number;
  blobRequests: number;
  manifestRequests: number;
  resumed: number;
}

const RESUMABLE = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

function isResumable(err: unknown): boolean {
  if (err instanceof KubechatError) return err.kind === 'network';
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RESUMABLE.has(code)) return true;
    if (e instanceof Error && /terminated|other side closed|aborted/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const scopeOf = (r: Repo) => `repository:${r.repository}:pull`;

/** The server answered a Range request with the whole blob. */
class RangeIgnored extends Error {
  constructor() {
    super('the server ignored the Range header');
  }
}

/**
 * Where the puller keeps verified blobs: a content-addressed store it writes through a partial file
 * and a commit. cache/'s BlobCache is the one kubechat uses; the puller knows only this port, so
 * caching stays a layer around pulling (ggcr's cache wraps a layer source the same way).
 */
export interface PullStore {
  blobPath(digest: string): string;
  partialPath(digest: string): string;
  ensureDirs(): Promise<void>;
  /** Takes the blob's lock, or returns undefined when `done()` says another holder finished it. */
  lock(digest: string, done: () => Promise<boolean>): Promise<(() => Promise<void>) | undefined>;
  has(digest: string, size?: number): Promise<boolean>;
  putBuffer(digest: string, data: Buffer): Promise<string>;
  /** Moves a verified partial file under the blob's final name and returns that path. */
  commit(digest: string, file: string, verifiedHex?: string): Promise<string>;
}

export class Puller {
  readonly counters: PullCounters = { blobBytes: 0, blobRequests: 0, manifestRequests: 0, resumed: 0 };
  readonly #rangeThreshold: number;
  readonly #rangeSize: number;
  readonly #rangeConcurrency: number;
  readonly #resumes: number;
  readonly #inFlight = new Map<string, Promise<string>>();

  constructor(
    readonly client: RegistryClient,
    readonly cache: PullStore,
    options: PullerOptions = {},
  ) {
    this.#rangeThreshold = options.rangeThreshold ?? 64 * 1024 * 1024;
    this.#rangeSize = options.rangeSize ?? 8 * 1024 * 1024;
    this.#rangeConcurrency = options.rangeConcurrency ?? 4;
    this.#resumes = options.resumes ?? 8;
  }

  /** GET a manifest by tag or digest. `what` names the artifact in errors. */
  /**
   * Every tag of a repository (`GET /v2/<name>/tags/list`), following the `Link: <…>; rel="next"`
   * pagination of the distribution spec. For resolving a version range against an OCI repository.
   */
  async tags(repo: Repo, what: string): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = `/v2/${repo.repository}/tags/list?n=1000`;
    for (let pages = 0; path && pages < 1000; pages++) {
      const res = await this.client.request(repo.registry, {
        method: 'GET',
        path,
        headers: { accept: 'application/json' },
        scope: scopeOf(repo),
        what,
      });
      const body = (await res.body.json().catch(() => undefined)) as { tags?: unknown } | undefined;
      if (!body || (body.tags !== null && body.tags !== undefined && !Array.isArray(body.tags))) {
        throw protocolError(
          `${what}: the tag list is not JSON with a "tags" array`,
          'check the registry address',
        );
      }
      for (const t of (body.tags as unknown[] | null | undefined) ?? [])
        if (typeof t === 'string') out.push(t);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.link ?? '');
      path = next ? next[1] : undefined;
    }
    return out;
  }

  async manifest(
    repo: Repo,
    reference: string,
    what: string,
    accept = MANIFEST_ACCEPT,
  ): Promise<PulledManifest> {
    const byDigest = reference.startsWith('sha256:');
    if (byDigest && (await this.cache.has(reference))) {
      const data = await readFile(this.cache.blobPath(reference));
      return { mediaType: mediaTypeOf(data, what), digest: reference, data };
    }
    this.counters.manifestRequests++;
    const res = await this.client.request(repo.registry, {
      method: 'GET',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { accept },
      scope: scopeOf(repo),
      what,
    });
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MAX_MANIFEST) {
      await res.body.dump();
      throw protocolError(`${what}: manifest of ${length} bytes is too large`, 'check the reference');
    }
    const data = await buffer(res.body);
    const digest = sha256Digest(data);
    const declared = res.headers['docker-content-digest'];
    if ((byDigest && digest !== reference) || (declared?.startsWith('sha256:') && declared !== digest)) {
      throw upstreamDigestError(
        `${what}: the manifest served hashes to ${digest}, not ${byDigest ? reference : declared}`,
        'the registry or a proxy altered the manifest: retry, or pull from another mirror',
      );
    }
    const headerType = res.headers['content-type']?.split(';')[0]?.trim();
    const mediaType = mediaTypeOf(data, what, headerType);
    await this.cache.putBuffer(digest, data);
    return { mediaType, digest, data };
  }

  /** A small blob (config, chart archive, Ollama text layer) in memory, from the cache when there. */
  async blobBytes(repo: Repo, d: Descriptor, what: string): Promise<Buffer> {
    if (d.size > MAX_MEMORY_BLOB) {
      throw protocolError(
        `${what}: blob ${d.digest} of ${d.size} bytes is too large for metadata`,
        'check the reference',
      );
    }
    const path = await this.blob(repo, d, what);
    return readFile(path);
  }

  /** Ensures blob `d` is in the cache (downloading it if not) and returns its path there. */
  async blob(
    repo: Repo,
    d: Descriptor,
    what: string,
    onBytes?: (n: number) => void,
    /** Called with the length of the prefix of `partialPath(d.digest)` that is complete, as it grows. */
    onContiguous?: (n: number) => void,
  ): Promise<string> {
    // One download per digest at a time (images share configs and layers); later callers wait for it.
    const running = this.#inFlight.get(d.digest);
    if (running) {
      const path = await running;
      onBytes?.(d.size);
      onContiguous?.(d.size);
      return path;
    }
    const p = this.#download(repo, d, what, onBytes, onContiguous);
    this.#inFlight.set(d.digest, p);
    try {
      return await p;
    } finally {
      this.#inFlight.delete(d.digest);
    }
  }

  async #download(
    repo: Repo,
    d: Descriptor,
    what: string,
    onBytes?: (n: number) => void,
    onContiguous?: (n: number) => void,
  ): Promise<string> {
    if (await this.cache.has(d.digest, d.size)) return this.cache.blobPath(d.digest);
    await this.cache.ensureDirs();
    // Another kubechat process downloading the same blob into this cache: wait for it.
    const release = await this.cache.lock(d.digest, () => this.cache.has(d.digest, d.size));
    if (release === undefined) return this.cache.blobPath(d.digest);
    try {
      return await this.#locked(repo, d, what, onBytes, onContiguous);
    } finally {
      await release();
    }
  }

  async #locked(
    repo: Repo,
    d: Descriptor,
    what: string,
    onBytes?: (n: number) => void,
    onContiguous?: (n: number) => void,
  ): Promise<string> {
    const partial = this.cache.partialPath(d.digest);
    const sidecar = `${partial}.ranges`;
    const ranged = d.size >= this.#rangeThreshold;
    let verifiedHex: string | undefined;
    if (ranged) verifiedHex = await this.#ranged(repo, d, what, partial, sidecar, onBytes, onContiguous);
    else verifiedHex = await this.#single(repo, d, what, partial, onBytes, onContiguous);
    const st = await stat(partial);
    if (st.size !== d.size) {
      await rm(partial, { force: true });
      throw upstreamDigestError(
        `${what}: blob ${d.digest} is ${st.size} bytes, its descriptor says ${d.size}`,
        'the registry served different content than the manifest lists: retry, or report it',
      );
    }
    try {
      const path = await this.cache.commit(d.digest, partial, verifiedHex);
      await rm(sidecar, { force: true });
      return path;
    } catch (err) {
      await rm(sidecar, { force: true });
      if (err instanceof KubechatError && err.kind === 'upstreamDigest') {
        throw upstreamDigestError(`${what}: ${err.message}`, err.fixTemplate);
      }
      throw err;
    }
  }

  /** One stream, resumed from the partial file's length after a drop. Returns the verified hex. */
  async #single(
    repo: Repo,
    d: Descriptor,
    what: string,
    partial: string,
    onBytes?: (n: number) => void,
    onContiguous?: (n: number) => void,
  ): Promise<string | undefined> {
    let offset = (await stat(partial).catch(() => undefined))?.size ?? 0;
    if (offset > d.size) {
      await truncate(partial, 0);
      offset = 0;
    }
    // The hash follows the file, so bytes kept from an earlier run count as they should.
    let hasher = new PrefixHasher(partial);
    try {
      let position = offset;
      if (offset > 0) {
        onContiguous?.(offset);
        hasher.advance(offset);
      }
      const progress = (n: number) => {
        position += n;
        onBytes?.(n);
        onContiguous?.(position);
        hasher.advance(position);
      };
      for (let resumes = 0; ; resumes++) {
        if (offset === d.size) return await hasher.finish(d.size);
        try {
          offset = await this.#stream(repo, d, what, partial, offset, d.size, progress);
          if (offset === d.size) return await hasher.finish(d.size);
          throw Object.assign(new Error('the connection closed before the end of the blob'), {
            code: 'ECONNRESET',
          });
        } catch (err) {
          if (err instanceof RangeIgnored) {
            // No resuming from this server: start over from byte 0 (the file is truncated in place).
            await hasher.close();
            hasher = new PrefixHasher(partial);
            offset = 0;
            position = 0;
            continue;
          }
          if (!isResumable(err) || resumes >= this.#resumes)
            throw this.#transferFailure(what, d, offset, err);
          this.counters.resumed++;
          offset = (await stat(partial).catch(() => undefined))?.size ?? 0;
          position = offset;
        }
      }
    } finally {
      await hasher.close();
    }
  }

  /** Streams bytes [start, end) of the blob into `file` at `start`; returns the new end of what was written. */
  async #stream(
    repo: Repo,
    d: Descriptor,
    what: string,
    file: string,
    start: number,
    end: number,
    onBytes?: (n: number) => void,
  ): Promise<number> {
    const ranged = start > 0 || end < d.size;
    this.counters.blobRequests++;
    const res = await this.client.request(repo.registry, {
      method: 'GET',
      path: `/v2/${repo.repository}/blobs/${d.digest}`,
      headers: ranged ? { range: `bytes=${start}-${end - 1}` } : {},
      scope: scopeOf(repo),
      what: `${what} blob ${d.digest}`,
    });
    let position = start;
    if (ranged && res.status !== 206) {
      // The server ignored Range (HTTP 200, the whole blob): the caller starts over in one stream.
      res.body.destroy();
      throw new RangeIgnored();
    }
    const fh = await open(file, start === 0 && !ranged ? 'w' : (await exists(file)) ? 'r+' : 'w');
    // Chunks are gathered into ~1 MiB writes (one syscall instead of sixteen); progress only ever
    // counts bytes that reached the file, so a resume after a drop starts at the right byte.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const bufs = pending;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      await fh.writev(bufs, position);
      position += n;
      this.counters.blobBytes += n;
      onBytes?.(n);
    };
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        let take = chunk;
        const at = position + pendingBytes;
        if (at + chunk.length > end) take = chunk.subarray(0, Math.max(0, end - at));
        if (take.length > 0) {
          pending.push(take);
          pendingBytes += take.length;
          if (pendingBytes >= WRITE_BATCH) await flush();
        }
        if (at + take.length >= end) break;
      }
    } finally {
      try {
        await flush();
      } finally {
        await fh.close();
        if (position >= end) await res.body.dump().catch(() => undefined);
      }
    }
    return position;
  }

  /** Parallel byte ranges written in place; progress per range in a sidecar so a later run resumes each. */
  async #ranged(
    repo: Repo,
    d: Descriptor,
    what: string,
    partial: string,
    sidecar: string,
    onBytes?: (n: number) => void,
    onContiguous?: (n: number) => void,
  ): Promise<string | undefined> {
    const size = this.#rangeSize;
    const count = Math.ceil(d.size / size);
    let done: number[] = Array.from({ length: count }, () => 0);
    const saved = await readFile(sidecar, 'utf8').catch(() => undefined);
    const partialSize = (await stat(partial).catch(() => undefined))?.size;
    if (saved !== undefined && partialSize !== undefined) {
      try {
        const s = JSON.parse(saved) as { size: number; rangeSize: number; done: number[] };
        if (s.size === d.size && s.rangeSize === size && s.done.length === count) done = s.done;
      } catch {
        // An unreadable sidecar: start over.
      }
    } else {
      await rm(partial, { force: true });
    }
    if (!(await exists(partial))) await writeFile(partial, '');
    const already = done.reduce((a, b) => a + b, 0);
    if (already > 0) onBytes?.(already);
    // The complete prefix: whole ranges from the start, then what the first incomplete one has. It is
    // hashed as it grows, so the digest is known when the last range lands.
    const hasher = new PrefixHasher(partial);
    let firstOpen = 0;
    const contiguous = () => {
      while (firstOpen < count && done[firstOpen]! >= Math.min(size, d.size - firstOpen * size)) firstOpen++;
      const reach = Math.min(d.size, firstOpen * size + (firstOpen < count ? done[firstOpen]! : 0));
      onContiguous?.(reach);
      hasher.advance(reach);
    };
    contiguous();
    const failure = await forEachLimit(count, this.#rangeConcurrency, async (i) => {
      const start = i * size;
      const end = Math.min(d.size, start + size);
      for (let resumes = 0; start + done[i]! < end; resumes++) {
        try {
          const reached = await this.#stream(repo, d, what, partial, start + done[i]!, end, (n) => {
            done[i]! += n;
            onBytes?.(n);
            if (i === firstOpen) contiguous();
          });
          if (reached < end)
            throw Object.assign(new Error('connection closed early'), { code: 'ECONNRESET' });
        } catch (err) {
          if (err instanceof RangeIgnored || !isResumable(err) || resumes >= this.#resumes) throw err;
          this.counters.resumed++;
        }
      }
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    contiguous();
    if (failure !== undefined) await hasher.close();
    if (failure instanceof RangeIgnored) {
      // The server does not serve byte ranges: one stream from byte 0 (same file, truncated in place).
      await rm(sidecar, { force: true });
      await truncate(partial, 0);
      return this.#single(repo, d, what, partial, onBytes, onContiguous);
    }
    if (failure !== undefined) {
      await writeFile(sidecar, JSON.stringify({ size: d.size, rangeSize: size, done })).catch(
        () => undefined,
      );
      throw this.#transferFailure(
        what,
        d,
        done.reduce((a, b) => a + b, 0),
        failure,
      );
    }
    return hasher.finish(d.size);
  }

  #transferFailure(what: string, d: Descriptor, have: number, err: unknown): Error {
    if (err instanceof KubechatError && err.kind !== 'network') return err;
    return transferError(
      `${what}: download of blob ${d.digest} broke off at ${have} of ${d.size} bytes (${(err as Error).message})`,
      'run the command again: it resumes from the partial download in the cache',
      err,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The manifest's media type: its own `mediaType` field, else the Content-Type, else by shape. */
function mediaTypeOf(data: Buffer, what: string, headerType?: string): string {
  let value: { mediaType?: unknown; manifests?: unknown; layers?: unknown; schemaVersion?: unknown };
  try {
    value = JSON.parse(data.toString('utf8')) as typeof value;
  } catch {
    throw protocolError(`${what}: the manifest is not JSON`, 'check that the reference names an image');
  }
  if (value.schemaVersion === 1) {
    throw protocolError(
      `${what}: Docker schema 1 manifests are not supported (deprecated since 2017)`,
      'pull a newer image, or re-push it with a current tool (skopeo copy --format v2s2)',
    );
  }
  if (typeof value.mediaType === 'string') return value.mediaType;
  if (headerType && headerType !== 'application/json' && headerType !== 'text/plain') return headerType;
  return Array.isArray(value.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
}
