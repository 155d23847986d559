/**
 * What the bundle installs, learnt from its own entries as they stream past: index.json names the
 * artifacts, their manifests and indexes (small, stored before the large blobs) name every config and
 * layer. Once every document that is in the archive has been seen, each blob's destinations are known.
 */
import { sha256Digest } from '../lib/digest.js';
import { formatError } from '../lib/errors.js';
import { Annotation, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from '../oci/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/types.js';
import type { ArtifactKind, Doc, InstallArtifact } from './types.js';

const isDoc = (d: Descriptor) => INDEX_MEDIA_TYPES.has(d.mediaType) || MANIFEST_MEDIA_TYPES.has(d.mediaType);

interface Pending {
  artifact: InstallArtifact;
  /** Docs of the artifact by digest (bytes once seen). */
  docs: Map<string, Doc | undefined>;
  /** Document descriptors in the order found, to emit children first. */
  order: string[];
}

export class ArtifactGraph {
  readonly artifacts: InstallArtifact[] = [];
  readonly #pending: Pending[] = [];
  /** Digest → the artifacts whose blobs include it. */
  readonly #users = new Map<string, InstallArtifact[]>();
  /** Documents we still wait for (digest → artifacts), only those the archive holds. */
  readonly #waiting = new Map<string, Pending[]>();
  /** Media type of each document from the descriptor that named it (OCI manifests may omit their own). */
  readonly #mediaTypes = new Map<string, string>();
  #indexSeen = false;

  /**
   * @param listed digests the bundle manifest lists (a document not listed is an unselected platform)
   * @param inArchive whether the archive itself holds a digest (false for a delta's base content)
   */
  constructor(
    private readonly listed: (digest: string) => boolean,
    private readonly inArchive: (digest: string) => boolean,
    private readonly what: string,
    /** Artifacts outside the selection are left out of the graph altogether. */
    private readonly select?: (artifact: { kind: ArtifactKind; ref: string }) => boolean,
  ) {}

  get complete(): boolean {
    return this.#indexSeen && this.#waiting.size === 0;
  }

  /** Artifacts whose documents were not all in the archive (a delta's unchanged artifacts). */
  get incomplete(): InstallArtifact[] {
    return this.#pending
      .filter((p) => [...p.docs.values()].some((d) => d === undefined))
      .map((p) => p.artifact);
  }

  addIndex(bytes: Buffer): void {
    let index: ImageIndex;
    try {
      index = JSON.parse(bytes.toString('utf8')) as ImageIndex;
    } catch (err) {
      throw formatError(`${this.what}: index.json is not valid JSON`, 'copy the bundle again', err);
    }
    for (const root of index.manifests ?? []) {
      const kind = (root.annotations?.[Annotation.kind] ?? 'image') as ArtifactKind;
      const ref = root.annotations?.[Annotation.refName];
      if (!ref || (this.select && !this.select({ kind, ref }))) continue;
      const artifact: InstallArtifact = { kind, ref, root, docs: [], blobs: [] };
      const p: Pending = { artifact, docs: new Map(), order: [] };
      this.artifacts.push(artifact);
      this.#pending.push(p);
      this.#expect(p, root);
    }
    this.#indexSeen = true;
  }

  #expect(p: Pending, d: Descriptor): void {
    if (p.docs.has(d.digest)) return;
    this.#mediaTypes.set(d.digest, d.mediaType);
    p.docs.set(d.digest, undefined);
    p.order.push(d.digest);
    if (!this.inArchive(d.digest)) return;
    const list = this.#waiting.get(d.digest) ?? [];
    list.push(p);
    this.#waiting.set(d.digest, list);
  }

  /** Whether the blob is a document some artifact waits for. */
  wantsDoc(digest: string): boolean {
    return this.#waiting.has(digest);
  }

  /** Adds a verified document; its references become known. */
  addDoc(digest: string, mediaTypeHint: string | undefined, bytes: Buffer): void {
    const ps = this.#waiting.get(digest) ?? [];
    this.#waiting.delete(digest);
    let parsed: Partial<ImageIndex & ImageManifest>;
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as Partial<ImageIndex & ImageManifest>;
    } catch (err) {
      throw formatError(`${this.what}: manifest ${digest} is not valid JSON`, 'copy the bundle again', err);
    }
    if (sha256Digest(bytes) !== digest) throw new Error(`internal: document ${digest} not verified`);
    const mediaType = parsed.mediaType ?? mediaTypeHint ?? this.#mediaTypes.get(digest) ?? '';
    for (const p of ps) {
      p.docs.set(digest, { digest, mediaType, bytes });
      const refs: Descriptor[] = [...(parsed.manifests ?? [])];
      if (parsed.config) refs.push(parsed.config);
      refs.push(...(parsed.layers ?? []));
      for (const d of refs) {
        if (!d || typeof d.digest !== 'string') continue;
        if (isDoc(d)) {
          if (this.listed(d.digest)) this.#expect(p, d);
          continue;
        }
        if (p.artifact.blobs.some((b) => b.digest === d.digest)) continue;
        p.artifact.blobs.push({ mediaType: d.mediaType, digest: d.digest, size: d.size });
        const users = this.#users.get(d.digest) ?? [];
        users.push(p.artifact);
        this.#users.set(d.digest, users);
      }
      // Children before parents: the order documents were found in, reversed.
      p.artifact.docs = [...p.order]
        .reverse()
        .map((dg) => p.docs.get(dg))
        .filter((x): x is Doc => x !== undefined);
    }
  }

  /** Artifacts that need the blob as a config or layer. */
  usersOf(digest: string): InstallArtifact[] {
    return this.#users.get(digest) ?? [];
  }
}
