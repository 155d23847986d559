/**
 * Planning the write of a bundle, with no I/O: from what the bundle holds, the digests known so far
 * and the delta base, which entries the archive stores and in which order, which it leaves to the
 * base, and the header. create-bundle hashes what `hashFirst` names, calls `planWrite`, and
 * executes the plan with an ArchiveWriter.
 */
import { hexOf, PLACEHOLDER_DIGEST, sha256Digest } from '../lib/digest.js';
import { baseHolds, type DeltaBase } from './delta.js';
import { assembleHeader, type Header } from './header.js';
import { blobPath, bundleFileName } from './layout.js';
import type { BundleManifest } from './manifest.js';
import { isFileBlob, type BundlePlan, type FileBlob, type PlannedFile } from './plan.js';

/** What the bundle holds (the chart images a spec resolved to do not change what is written). */
export type BundleContent = Omit<BundlePlan, 'chartImages'>;

/** Digests known before the body is written, besides those the sources declare. */
export interface KnownDigests {
  /** sha256:… of file blobs with no declared digest, by host path. */
  blobs: ReadonlyMap<string, string>;
  /** sha256 (hex) of files/ entries, by path in the bundle. */
  files: ReadonlyMap<string, string>;
}

/** One entry of the body, read from a host file. */
export interface BodyEntry {
  kind: 'blob' | 'file';
  /** Tar path. A blob whose digest is learned while it is written has a placeholder digest here. */
  path: string;
  /** `path` holds a placeholder digest: rename the entry once its content is hashed. */
  provisional: boolean;
  /** Host file with the content. */
  source: string;
  size: number;
  /** sha256:… the content must have (verified while written), or undefined when learned then. */
  expected: string | undefined;
  /** Tar mode of a files/ entry (the writer's default for blobs). */
  mode?: number;
}

export interface WritePlan {
  /** `<name>-<version>[.delta-<base>].kcb.tar.zst` */
  fileName: string;
  /** Body entries in archive order: blobs first, then files/. Content the base holds is left out. */
  body: BodyEntry[];
  /** Placeholder digest (of the real length) of each blob learned while written, by host path. */
  placeholders: ReadonlyMap<string, string>;
  /** The header made with placeholder digests: as large as the real one, so it sizes the reserved room. */
  provisionalHeader: Header;
  /** The real header, once `learned` holds every digest (known before the write and learned during it). */
  header(learned: KnownDigests): Header;
  /** files/ entries the bundle lists. */
  fileCount: number;
}

export interface WriteInput {
  content: BundleContent;
  base: DeltaBase | undefined;
  known: KnownDigests;
  created: string;
  expires: string | null;
}

/** The first item for each key, in order. */
function distinct<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/** Distinct file blobs: by digest when declared, by path when it is learned while writing. */
const fileBlobsOf = (content: BundleContent): FileBlob[] =>
  distinct(
    content.artifacts.flatMap((a) => a.blobs.filter(isFileBlob)),
    (b) => b.digest ?? `path:${b.path}`,
  );

const filesOf = (content: BundleContent): PlannedFile[] => content.fileSets.flatMap((s) => s.files);

/**
 * Content to hash before planning: blobs that may be in the base (a base entry has their size) or
 * may equal another blob (same size: equal blobs are stored once), and files the base may hold.
 * Everything else is hashed while it is compressed, so it is read once.
 */
export function hashFirst(
  content: BundleContent,
  base: DeltaBase | undefined,
): { blobs: FileBlob[]; files: PlannedFile[] } {
  const fileBlobs = fileBlobsOf(content);
  const sizeCount = new Map<number, number>();
  for (const b of fileBlobs) sizeCount.set(b.size, (sizeCount.get(b.size) ?? 0) + 1);
  return {
    blobs: fileBlobs.filter(
      (b) =>
        b.digest === undefined && ((sizeCount.get(b.size) ?? 0) > 1 || (base?.sizes.has(b.size) ?? false)),
    ),
    files: base ? filesOf(content).filter((f) => base.sizes.has(f.size)) : [],
  };
}

export function planWrite(input: WriteInput): WritePlan {
  const { content, base, known, created, expires } = input;
  const digestOf = (b: FileBlob): string | undefined => b.digest ?? known.blobs.get(b.path);
  // Keyed by digest where known, so equal content is stored once.
  const blobs = distinct(fileBlobsOf(content), (b) => digestOf(b) ?? `path:${b.path}`);
  const pendingArtifacts = new Set(
    content.artifacts.filter((a) => a.blobs.some((b) => isFileBlob(b) && digestOf(b) === undefined)),
  );

  const body: BodyEntry[] = [];
  const placeholders = new Map<string, string>();
  for (const b of blobs) {
    const digest = digestOf(b);
    if (digest === undefined) {
      const placeholder = sha256Digest(`kubechat-placeholder-${placeholders.size}`);
      placeholders.set(b.path, placeholder);
      body.push({
        kind: 'blob',
        path: blobPath(placeholder),
        provisional: true,
        source: b.path,
        size: b.size,
        expected: undefined,
      });
    } else if (!baseHolds(base, digest)) {
      body.push({
        kind: 'blob',
        path: blobPath(digest),
        provisional: false,
        source: b.path,
        size: b.size,
        expected: digest,
      });
    }
  }
  const files = filesOf(content);
  for (const f of files) {
    const hex = known.files.get(f.path);
    if (hex !== undefined && base?.digests.has(hex)) continue;
    body.push({
      kind: 'file',
      path: f.path,
      provisional: false,
      source: f.source,
      size: f.size,
      expected: undefined,
      mode: f.mode,
    });
  }

  const assemble = (blobDigest: (b: FileBlob) => string, fileHex: (path: string) => string) =>
    assembleHeader({
      plan: content,
      created,
      expires,
      base,
      digestOf: blobDigest,
      fileHex,
      pendingArtifacts,
    });
  return {
    fileName: bundleFileName(content.name, content.version, base?.version),
    body,
    placeholders,
    // Placeholder digests have the real length, so this header has the real size.
    provisionalHeader: assemble(
      (b) => digestOf(b) ?? placeholders.get(b.path)!,
      (p) => known.files.get(p) ?? hexOf(PLACEHOLDER_DIGEST),
    ),
    header: (learned) =>
      assemble(
        (b) => b.digest ?? learned.blobs.get(b.path) ?? unhashed(b.path),
        (p) => learned.files.get(p) ?? unhashed(p),
      ),
    fileCount: files.length,
  };
}

function unhashed(path: string): never {
  throw new Error(`internal: ${path} was not hashed`);
}

/** Counts and sizes of what the manifest lists and of what the archive stores (the rest is in the base). */
export function storedSummary(manifest: BundleManifest, stored: ReadonlySet<string>, fileCount: number) {
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

/**
 * An upper bound of the archive's size, before anything is compressed: `content` bytes stored as
 * if they did not compress, plus the manifest and signature (`headerBytes`), in `entries` entries.
 */
export function archiveSizeBound(content: number, headerBytes: number, entries: number): number {
  // zstd output is at most 1/256 larger than its input; each entry adds at most a tar header and
  // padding, frame headers, a seek-table and a table-of-contents entry (well under 4 KiB).
  const raw = content + headerBytes;
  return raw + Math.ceil(raw / 256) + 4096 * (entries + 4);
}
