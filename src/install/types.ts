/**
 * What install hands to its targets. The install service reads the bundle once and routes each
 * verified blob to every target that needs it; targets only know how to store.
 */
import type { Descriptor } from '../oci/types.js';

export type ArtifactKind = 'image' | 'chart' | 'model';

/** A JSON document of an artifact (manifest or index), kept as its exact bytes. */
export interface Doc {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** One image, chart or model of the bundle, resolved from index.json and its manifests. */
export interface InstallArtifact {
  kind: ArtifactKind;
  /** The bundle's org.opencontainers.image.ref.name: docker.io/demo/hello:1.0, charts/kubechat:0.1.0, registry.ollama.ai/library/assist:1.0 */
  ref: string;
  root: Descriptor;
  /** Every manifest and index of the artifact, children before parents (the root last). */
  docs: Doc[];
  /** Configs and layers (each once), everything the docs reference that is not itself a doc. */
  blobs: Descriptor[];
}

export interface TargetCommit {
  /** Where the artifact now lives, e.g. 127.0.0.1:5000/demo/hello:1.0 */
  location: string;
  /** Digest the target reports for it (Ollama's own manifest digest may differ from the bundle's). */
  digest: string;
  /** Extra names written (an Ollama version tag). */
  aliases: string[];
}

export interface BlobTarget {
  /** Stable identity (kind + address): part of the journal's key. */
  readonly id: string;
  /** What to call it in messages. */
  readonly label: string;
  accepts(kind: ArtifactKind): boolean;
  /** Called once before any write (connect, create directories). */
  prepare(): Promise<void>;
  /** A blob the target must see on every run, even when it holds it (Ollama's text layers for /api/create). */
  mustReceive?(blob: Descriptor): boolean;
  /** Whether the target already holds the blob (for the given artifacts: a registry repository). */
  hasBlob(blob: Descriptor, artifacts: InstallArtifact[]): Promise<boolean>;
  /**
   * Stores a blob. `data` yields the bytes and throws if they turn out not to match the digest: the
   * target must then leave nothing under the blob's final name.
   */
  writeBlob(blob: Descriptor, artifacts: InstallArtifact[], data: AsyncIterable<Buffer>): Promise<void>;
  /** Whether the artifact is fully installed (manifests and tags), to trust a journal cheaply. */
  hasArtifact(artifact: InstallArtifact): Promise<boolean>;
  /** Writes the manifests/tags last, once every blob the artifact needs is there. */
  commit(artifact: InstallArtifact): Promise<TargetCommit>;
  close(): Promise<void>;
}

export interface FileTarget {
  readonly id: string;
  readonly label: string;
  prepare(): Promise<void>;
  /** Whether `relative` exists with this size (and sha256 when cheap). */
  hasFile(relative: string, size: number, sha256: string): Promise<boolean>;
  writeFile(relative: string, mode: number, data: AsyncIterable<Buffer>): Promise<void>;
  close(): Promise<void>;
}
