/**
 * `--registry HOST[:PORT]`: pushes images and charts to an OCI distribution registry (distribution-spec
 * v1.1 "push"), on the shared RegistryClient (auth, TLS, retries). Per blob: HEAD in each repository
 * that needs it; a blob present in one repository is mounted into the others (`?mount=&from=`) without
 * sending a byte; otherwise one upload — monolithic POST + PUT ?digest= for blobs up to 16 MiB, chunked
 * PATCHes with Content-Range and a final PUT ?digest= for larger ones — then mounts for the other
 * repositories. Manifests and indexes go last with their exact bytes and media type, children by
 * digest, the root by its original tag: docker.io/demo/app:1.0 → HOST/[PREFIX/]demo/app:1.0; charts
 * as OCI artifacts under charts/<name>:<version>.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { targetError } from '../lib/errors.js';
import { parseReference } from '../oci/reference.js';
import { RegistryClient, type RegistryRequest, type RegistryResponse } from '../oci/registry-client.js';
import { parseRegistryAuthFlag, type Credentials } from '../oci/registry-credentials.js';
import type { Descriptor } from '../oci/types.js';
import type { ArtifactKind, BlobTarget, InstallArtifact, TargetCommit } from '../install/types.js';

/** The part of RegistryClient the push needs: tests may hand in a double. */
export interface RegistryApi {
  request(host: string, req: RegistryRequest): Promise<RegistryResponse>;
  close(): Promise<void>;
}

/** Blobs up to this size go up in one PUT; larger ones in PATCH chunks of CHUNK bytes. */
export const MONOLITHIC_MAX = 16 * 1024 * 1024;
export const CHUNK = 64 * 1024 * 1024;

export interface Destination {
  repository: string;
  tag: string | undefined;
}

/** Where an artifact of the bundle lands in the registry: its repository path and tag, under `prefix`. */
export function destinationOf(ref: string, prefix?: string): Destination {
  const parsed = parseReference(ref);
  const repository = prefix ? `${prefix.replace(/^\/+|\/+$/g, '')}/${parsed.repository}` : parsed.repository;
  return { repository, tag: parsed.tag };
}

export class RegistryTarget implements BlobTarget {
  readonly id: string;
  readonly label: string;

  constructor(
    private readonly client: RegistryApi,
    private readonly host: string,
    private readonly prefix?: string,
  ) {
    this.id = `registry:${host}${prefix ? `/${prefix}` : ''}`;
    this.label = `registry ${host}`;
  }

  accepts(kind: ArtifactKind): boolean {
    return kind === 'image' || kind === 'chart';
  }

  #repos(artifacts: InstallArtifact[]): string[] {
    return [...new Set(artifacts.map((a) => destinationOf(a.ref, this.prefix).repository))];
  }

  #req(repo: string, req: Omit<RegistryRequest, 'scope'>): Promise<RegistryResponse> {
    return this.client.request(this.host, { ...req, scope: `repository:${repo}:pull,push` });
  }

  async prepare(): Promise<void> {
    // Reach the registry (and learn its scheme) before reading the bundle: a wrong address fails fast.
    const res = await this.client.request(this.host, { method: 'GET', path: '/v2/', accept: [401] });
    await res.body.dump();
  }

  async #exists(repo: string, digest: string): Promise<boolean> {
    const res = await this.#req(repo, {
      method: 'HEAD',
      path: `/v2/${repo}/blobs/${digest}`,
      accept: [404],
      what: `${this.host}/${repo}@${digest}`,
    });
    await res.body.dump();
    return res.status === 200;
  }

  /** Mounts a blob from `from` into `repo`; false when the registry would rather have an upload. */
  async #mount(repo: string, from: string, digest: string): Promise<boolean> {
    const res = await this.#req(repo, {
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      what: `mount of ${digest} into ${repo}`,
    });
    await res.body.dump();
    if (res.status === 201) return true;
    if (res.headers.location) await this.#cancel(repo, res.headers.location);
    return false;
  }

  async #cancel(repo: string, location: string): Promise<void> {
    try {
      const res = await this.#req(repo, { method: 'DELETE', path: location, accept: [404, 405] });
      await res.body.dump();
    } catch {
      // best effort: the registry expires abandoned uploads itself
    }
  }

  async hasBlob(blob: Descriptor, artifacts: InstallArtifact[]): Promise<boolean> {
    const repos = this.#repos(artifacts);
    const present = await Promise.all(repos.map((r) => this.#exists(r, blob.digest)));
    const from = repos.find((_, i) => present[i]);
    if (!from) return false;
    for (const [i, repo] of repos.entries()) {
      if (!present[i] && !(await this.#mount(repo, from, blob.digest))) return false;
    }
    return true;
  }

  #location(res: RegistryResponse, what: string): string {
    const location = res.headers.location;
    if (!location) throw targetError(`${this.host}: ${what}: the registry answered without a Location`);
    return location;
  }

  static withQuery(location: string, query: string): string {
    return location + (location.includes('?') ? '&' : '?') + query;
  }

  async writeBlob(
    blob: Descriptor,
    artifacts: InstallArtifact[],
    data: AsyncIterable<Buffer>,
  ): Promise<void> {
    const [repo, ...others] = this.#repos(artifacts);
    if (!repo) throw new Error('internal: a blob without a repository');
    const what = `${this.host}/${repo}@${blob.digest}`;
    const started = await this.#req(repo, { method: 'POST', path: `/v2/${repo}/blobs/uploads/`, what });
    await started.body.dump();
    let location = this.#location(started, what);
    const put = (body: Buffer | Readable | undefined, length: number) =>
      this.#req(repo, {
        method: 'PUT',
        path: RegistryTarget.withQuery(location, `digest=${encodeURIComponent(blob.digest)}`),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
        body,
        what,
      });
    try {
      if (blob.size <= MONOLITHIC_MAX) {
        // Small blobs are buffered (copied: a chunk may be a view of a read buffer the reader reuses,
        // see Channel): a Buffer body can be retried by the client.
        const body = Buffer.allocUnsafe(blob.size);
        let filled = 0;
        for await (const c of data) {
          if (filled + c.length > blob.size) throw targetError(`internal: ${what} is longer than its size`);
          filled += c.copy(body, filled);
        }
        const res = await put(body.subarray(0, filled), filled);
        await res.body.dump();
      } else {
        const it = data[Symbol.asyncIterator]();
        let offset = 0;
        let carry: Buffer | undefined;
        while (offset < blob.size) {
          const length = Math.min(CHUNK, blob.size - offset);
          const chunkStream = Readable.from(
            takeBytes(it, length, carry, (rest) => (carry = rest)),
            { objectMode: false },
          );
          const res = await this.#req(repo, {
            method: 'PATCH',
            path: location,
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': String(length),
              'content-range': `${offset}-${offset + length - 1}`,
            },
            body: chunkStream,
            what,
          });
          await res.body.dump();
          location = this.#location(res, what);
          offset += length;
        }
        // Drain: the channel reports a digest mismatch only once every byte has been read.
        for (let r = await it.next(); !r.done; r = await it.next());
        const res = await put(undefined, 0);
        await res.body.dump();
      }
    } catch (err) {
      await this.#cancel(repo, location);
      throw err;
    }
    for (const other of others) {
      if (!(await this.#mount(other, repo, blob.digest)))
        throw targetError(
          `${this.host}: cannot mount ${blob.digest} from ${repo} into ${other}`,
          'enable cross-repository mounts on the registry, or run install again',
        );
    }
  }

  async hasArtifact(artifact: InstallArtifact): Promise<boolean> {
    const { repository, tag } = destinationOf(artifact.ref, this.prefix);
    const res = await this.#req(repository, {
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${tag ?? artifact.root.digest}`,
      headers: { accept: artifact.root.mediaType },
      accept: [404],
    });
    await res.body.dump();
    return res.status === 200 && res.headers['docker-content-digest'] === artifact.root.digest;
  }

  async commit(artifact: InstallArtifact): Promise<TargetCommit> {
    const { repository, tag } = destinationOf(artifact.ref, this.prefix);
    for (const [i, doc] of artifact.docs.entries()) {
      const isRoot = i === artifact.docs.length - 1;
      const reference = isRoot && tag ? tag : doc.digest;
      const res = await this.#req(repository, {
        method: 'PUT',
        path: `/v2/${repository}/manifests/${reference}`,
        headers: { 'content-type': doc.mediaType },
        body: doc.bytes,
        what: `${this.host}/${repository}:${reference}`,
      });
      await res.body.dump();
      const stored = res.headers['docker-content-digest'];
      if (stored && stored !== doc.digest)
        throw targetError(
          `${this.host}/${repository}:${reference}: the registry stored the manifest as ${stored}, not ${doc.digest}`,
          'use a registry that keeps manifests byte for byte (CNCF distribution, Harbor, Zot)',
        );
    }
    const location = `${this.host}/${repository}${tag ? `:${tag}` : `@${artifact.root.digest}`}`;
    return { location, digest: artifact.root.digest, aliases: [] };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Yields exactly `length` bytes from `it`, keeping any excess of the last chunk for the next call. */
async function* takeBytes(
  it: AsyncIterator<Buffer>,
  length: number,
  carry: Buffer | undefined,
  keep: (rest: Buffer | undefined) => void,
): AsyncGenerator<Buffer> {
  let left = length;
  let pending = carry;
  keep(undefined);
  while (left > 0) {
    let chunk = pending;
    pending = undefined;
    if (!chunk) {
      const r = await it.next();
      if (r.done) throw targetError('internal: blob ended before its size');
      chunk = r.value;
    }
    if (chunk.length > left) {
      keep(chunk.subarray(left));
      chunk = chunk.subarray(0, left);
    }
    left -= chunk.length;
    yield chunk;
  }
}

export interface RegistryTargetOptions {
  registry: string;
  prefix?: string;
  caFile?: string;
  /** `--registry-auth HOST=USER:PASSWORD_ENV` values. */
  auth?: string[];
  /** Hosts allowed over plain HTTP or with an unverified certificate (`--insecure-registry HOST`). */
  insecure?: string[];
}

/** Builds the registry target with a RegistryClient for `--registry`, `--registry-ca`, `--registry-auth`. */
export async function registryTarget(options: RegistryTargetOptions): Promise<RegistryTarget> {
  let ca: Buffer | undefined;
  if (options.caFile) {
    try {
      ca = await readFile(options.caFile);
    } catch (err) {
      throw targetError(
        `--registry-ca ${options.caFile}: cannot read (${(err as Error).message})`,
        'pass the CA certificate PEM file',
        err,
      );
    }
  }
  const credentials = new Map<string, Credentials>((options.auth ?? []).map((a) => parseRegistryAuthFlag(a)));
  const client = new RegistryClient({
    ca,
    credentials,
    insecure: options.insecure ?? [],
    connections: 16,
  });
  return new RegistryTarget(client, options.registry, options.prefix);
}
