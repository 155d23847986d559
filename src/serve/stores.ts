/**
 * The two things `registry serve` reads blobs from, in place: a bundle (one file or split parts),
 * through its seek table and table of contents, so a range of a blob costs at most one 32 MiB frame
 * of decompression and nothing is extracted; or an OCI image layout directory.
 */
import { constants } from 'node:fs';
import { lstat, open, readFile, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describeFsError, serveContentError } from '../lib/errors.js';
import { BLOB_DIR } from '../lib/digest.js';
import { readAll } from '../lib/streams.js';
import { blobPath, Entry } from '../bundle/layout.js';
import { EntryIndex, openBundle, type OpenedBundle } from '../bundle/reader.js';
import { repositoryFromDirName } from '../oci/repository-names.js';
import type { BlobStore } from './catalog.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export interface OpenedStore {
  store: BlobStore;
  /** What is served, for the start-up line and --json. */
  source: { kind: 'bundle'; name: string; version: string; parts: number } | { kind: 'oci-layout' };
  /** Repository for roots named by a bare tag (plain OCI layouts). */
  fallbackRepository: string | undefined;
}

export async function openBundleStore(path: string): Promise<OpenedStore> {
  const bundle = await openBundle(path);
  if (bundle.manifest.delta) {
    const base = bundle.manifest.delta.base;
    throw serveContentError(
      `${path}: a delta bundle holds only what changed since ${base.name} ${base.version}; its other blobs are in the base`,
      `merge it first (kubechat bundle merge --base ${base.name}-${base.version}.kcb.tar.zst ${basename(path)} -o DIR) and serve the result`,
    );
  }
  // Without a seek table every blob read would decompress the bundle from its first byte (minutes
  // per layer on a large bundle), and indexing it into a temporary copy is the extraction this
  // command exists to avoid: say so, and offer the extraction as an explicit choice.
  const index = bundle.frames ? await EntryIndex.open(bundle) : undefined;
  if (!index?.seekable) {
    throw serveContentError(
      `${path}: has no zstd seek table (it was recompressed by another tool), so its blobs cannot be read in place`,
      `extract it once and serve the OCI layout: mkdir DIR && zstd -dc ${basename(path)} | tar -x -C DIR && kubechat registry serve oci:DIR`,
    );
  }
  return {
    store: new BundleStore(bundle, index),
    source: {
      kind: 'bundle',
      name: bundle.manifest.name,
      version: bundle.manifest.version,
      parts: bundle.source.parts?.parts.length ?? 0,
    },
    fallbackRepository: undefined,
  };
}

class BundleStore implements BlobStore {
  readonly name: string;
  constructor(
    bundle: OpenedBundle,
    private readonly index: EntryIndex,
  ) {
    this.name = bundle.source.name;
  }

  indexJson(): Promise<Buffer> {
    return readAll(this.index.read(Entry.index));
  }

  size(digest: string): Promise<number | undefined> {
    return Promise.resolve(DIGEST_RE.test(digest) ? this.index.size(blobPath(digest)) : undefined);
  }

  read(digest: string, start: number, end: number): AsyncIterable<Buffer> {
    // Reused buffers: the handler leases each chunk to its socket write until the kernel has it
    // (lib/leases.ts), so four buffers keep the socket busy, 4 MiB per blob request.
    return this.index.readRange(blobPath(digest), start, end, { reuse: true, ringBuffers: 4 });
  }
}

export async function openLayoutStore(dir: string): Promise<OpenedStore> {
  const notLayout = (what: string, cause?: unknown) =>
    serveContentError(
      `${dir}: ${what}: not an OCI image layout`,
      'pass a directory written by skopeo copy … oci:DIR, kubechat install --registry oci:DIR, or an extracted bundle',
      cause,
    );
  let layout: unknown;
  try {
    layout = JSON.parse(await readFile(join(dir, Entry.ociLayout), 'utf8'));
  } catch (err) {
    const fsError = describeFsError(err, join(dir, Entry.ociLayout), 'read');
    throw (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? notLayout(`no ${Entry.ociLayout} file`, err)
      : (fsError ?? notLayout(`${Entry.ociLayout} is not JSON`, err));
  }
  if (typeof (layout as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion !== 'string')
    throw notLayout(`${Entry.ociLayout} has no imageLayoutVersion`);
  // Blobs are served to whoever connects: a symlink (a hostile archive extracted by tar can hold
  // one) must not turn the layout into a window on the rest of the file system.
  const blobsDir = join(dir, BLOB_DIR);
  const real = await realpath(blobsDir).catch(() => undefined);
  if (real !== undefined && real !== join(await realpath(dir), BLOB_DIR))
    throw notLayout(`${BLOB_DIR} is a symlink out of the layout`);
  const store = new LayoutStore(dir);
  try {
    await store.indexJson();
  } catch (err) {
    throw (
      describeFsError(err, join(dir, Entry.index), 'read') ?? notLayout(`cannot read ${Entry.index}`, err)
    );
  }
  return {
    store,
    source: { kind: 'oci-layout' },
    fallbackRepository: repositoryFromDirName(basename(dir)),
  };
}

class LayoutStore implements BlobStore {
  readonly name: string;
  readonly #sizes = new Map<string, number | undefined>();

  constructor(private readonly dir: string) {
    this.name = dir;
  }

  indexJson(): Promise<Buffer> {
    return readFile(join(this.dir, Entry.index));
  }

  #path(digest: string): string {
    return join(this.dir, blobPath(digest));
  }

  async size(digest: string): Promise<number | undefined> {
    if (!DIGEST_RE.test(digest)) return undefined;
    if (this.#sizes.has(digest)) return this.#sizes.get(digest);
    const size = await lstat(this.#path(digest)).then(
      (st) => (st.isFile() ? st.size : undefined), // lstat: a symlinked blob is not served
      () => undefined,
    );
    // Only presence is cached: a blob copied in later is found on the next request.
    if (size !== undefined) this.#sizes.set(digest, size);
    return size;
  }

  async *read(digest: string, start: number, end: number): AsyncGenerator<Buffer> {
    if (start === end) return;
    // O_NOFOLLOW: a blob swapped for a symlink after start-up is still not followed.
    const fh = await open(this.#path(digest), constants.O_RDONLY | constants.O_NOFOLLOW);
    const rs = fh.createReadStream({ start, end: end - 1, highWaterMark: 1024 * 1024 });
    try {
      yield* rs as AsyncIterable<Buffer>;
    } finally {
      rs.destroy();
    }
  }
}
