/**
 * The bundle header: manifest, oci-layout, index.json and the in-memory (metadata) blobs. Built
 * twice by create: with placeholder digests to size the reserved room, then with the real ones.
 * Pure: the same input gives the same bytes.
 */
import { hexOf, sha256Digest } from '../lib/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { HeaderEntry } from './archive-writer.js';
import { baseHolds, deltaField, type DeltaBase } from './delta.js';
import { blobPath, Entry, OCI_LAYOUT_CONTENT } from './layout.js';
import { encodeManifest, type BundleManifest, type ContentEntry } from './manifest.js';
import {
  isFileBlob,
  rootDescriptor,
  type BundlePlan,
  type FileBlob,
  type MemoryBlob,
  type PlannedArtifact,
} from './plan.js';

export interface HeaderInput {
  plan: Omit<BundlePlan, 'chartImages'>;
  created: string;
  expires: string | null;
  /** The base of a delta: entries it holds are listed, not stored. */
  base: DeltaBase | undefined;
  digestOf: (b: FileBlob) => string;
  /** sha256 (hex) of a files/ entry, by its path in the bundle. */
  fileHex: (path: string) => string;
  /**
   * Artifacts whose root embeds a digest learned only while the body is written. Their in-memory
   * blobs (and index.json) are stored even when the base has them: the header built with
   * placeholders must hold the same entries as the real one, whose room it reserves.
   */
  pendingArtifacts: ReadonlySet<PlannedArtifact>;
}

export interface Header {
  /** Manifest first, then oci-layout, index.json and metadata blobs: those the archive stores. */
  entries: HeaderEntry[];
  manifest: BundleManifest;
}

/** Builds the header entries (manifest, oci-layout, index.json, metadata blobs) and the manifest. */
export function assembleHeader(input: HeaderInput): Header {
  const { plan, base, digestOf, pendingArtifacts } = input;
  const inBase = (digest: string) => baseHolds(base, digest);
  const memory = new Map<string, { blob: MemoryBlob; stored: boolean }>();
  const addMemory = (blob: MemoryBlob, pending: boolean) => {
    if (!memory.has(blob.digest)) memory.set(blob.digest, { blob, stored: pending || !inBase(blob.digest) });
  };
  const manifests = [];
  const infos = [];
  for (const artifact of plan.artifacts) {
    const finished = artifact.finish(digestOf);
    const pending = pendingArtifacts.has(artifact);
    addMemory(finished.root, pending);
    for (const b of artifact.blobs) if (!isFileBlob(b)) addMemory(b, false);
    for (const b of finished.extra) addMemory(b, pending);
    manifests.push(rootDescriptor(artifact, finished));
    // Everything the artifact occupies in a registry: root, configs, layers (each blob once).
    const blobs = new Map<string, number>([[finished.root.digest, finished.root.size]]);
    for (const b of [...artifact.blobs, ...finished.extra])
      blobs.set(isFileBlob(b) ? digestOf(b) : b.digest, b.size);
    infos.push({ info: finished.info, size: [...blobs.values()].reduce((n, s) => n + s, 0) });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  const layout = Buffer.from(OCI_LAYOUT_CONTENT);
  const indexStored = pendingArtifacts.size > 0 || !inBase(sha256Digest(index));

  const seenBlobs = new Set<string>();
  const fileBlobContents: ContentEntry[] = [];
  for (const a of plan.artifacts) {
    for (const b of a.blobs) {
      if (!isFileBlob(b)) continue;
      const d = digestOf(b);
      if (seenBlobs.has(d) || memory.has(d)) continue;
      seenBlobs.add(d);
      fileBlobContents.push({ path: blobPath(d), sha256: hexOf(d), size: b.size });
    }
  }
  const contents: ContentEntry[] = [
    { path: Entry.ociLayout, sha256: hexOf(sha256Digest(layout)), size: layout.length },
    { path: Entry.index, sha256: hexOf(sha256Digest(index)), size: index.length },
    ...[...memory.values()].map(({ blob }) => ({
      path: blobPath(blob.digest),
      sha256: hexOf(blob.digest),
      size: blob.size,
    })),
    ...fileBlobContents,
    ...plan.fileSets.flatMap((s) =>
      s.files.map((f) => ({
        path: f.path,
        sha256: input.fileHex(f.path),
        size: f.size,
        ...(f.mode === 0o644 ? {} : { mode: f.mode.toString(8).padStart(4, '0') }),
      })),
    ),
  ];
  const strip = <T extends { kind: string }>({ kind: _kind, ...rest }: T) => rest;
  const manifest: BundleManifest = {
    schemaVersion: 1,
    name: plan.name,
    version: plan.version,
    created: input.created,
    expires: input.expires,
    platforms: plan.platforms,
    delta: deltaField(base),
    artifacts: {
      images: infos.flatMap(({ info, size }) => (info.kind === 'image' ? [{ ...strip(info), size }] : [])),
      charts: infos.flatMap(({ info, size }) => (info.kind === 'chart' ? [{ ...strip(info), size }] : [])),
      models: infos.flatMap(({ info }) => (info.kind === 'model' ? [strip(info)] : [])),
      files: plan.fileSets.map((s) => ({
        source: s.source,
        target: s.target,
        files: s.files.length,
        size: s.files.reduce((k, f) => k + f.size, 0),
      })),
    },
    contents,
  };
  const entries: HeaderEntry[] = [{ path: Entry.manifest, data: encodeManifest(manifest) }];
  if (!inBase(sha256Digest(layout))) entries.push({ path: Entry.ociLayout, data: layout });
  if (indexStored) entries.push({ path: Entry.index, data: index });
  for (const { blob, stored } of memory.values())
    if (stored) entries.push({ path: blobPath(blob.digest), data: blob.data });
  return { entries, manifest };
}

/** The header with the signature entry second, right after the manifest (bundle format v1). */
export function withSignature(entries: HeaderEntry[], signature: Buffer): HeaderEntry[] {
  if (entries[0]?.path !== Entry.manifest) throw new Error('internal: the manifest must be the first entry');
  return [entries[0], { path: Entry.signature, data: signature }, ...entries.slice(1)];
}
