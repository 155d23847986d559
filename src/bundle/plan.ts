/**
 * What a bundle will contain, before any byte is written. Sources (src/sources/*) turn spec entries
 * into PlannedArtifacts; the writer turns those into tar entries.
 *
 * A blob is either in memory (manifests, configs, small layers: digest known) or file-backed (layers,
 * GGUF weights). A file-backed blob may not know its digest yet: the writer learns it while it
 * compresses the file, so the content is read once. Whatever embeds such a digest (an Ollama model
 * manifest) is built later by `PlannedArtifact.finish`.
 */
import type { Descriptor, Platform } from '../oci/types.js';

export interface MemoryBlob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface FileBlob {
  mediaType: string;
  /** Expected digest when the source declares it (OCI layouts): verified while written. */
  digest: string | undefined;
  size: number;
  path: string;
}

export type PlannedBlob = MemoryBlob | FileBlob;

export const isFileBlob = (b: PlannedBlob): b is FileBlob => 'path' in b;

export type ArtifactKind = 'image' | 'chart' | 'model';

export interface ImageInfo {
  kind: 'image';
  /** Fully qualified reference, e.g. docker.io/demo/hello:1.0 */
  ref: string;
  /** Where it came from, as written in the spec, e.g. oci:./fixtures/hello:1.0 */
  source: string;
  digest: string;
  mediaType: string;
  platforms: string[];
}

export interface ChartInfo {
  kind: 'chart';
  name: string;
  version: string;
  appVersion?: string;
  ref: string;
  source: string;
  digest: string;
  /** Images the chart declares (helm.sh/images annotation, values.yaml image fields). */
  images: string[];
}

export interface ModelInfo {
  kind: 'model';
  /** Ollama name:tag as the user writes it, e.g. assist:1.0 */
  name: string;
  ref: string;
  source: string;
  digest: string;
  /** Sum of config and layer sizes: what the model occupies in an Ollama store. */
  size: number;
  family: string;
  parameterSize: string;
  quantization: string;
  license: string | null;
}

export type ArtifactInfo = ImageInfo | ChartInfo | ModelInfo;

export interface FinishedArtifact {
  /** Root manifest or index, listed in the bundle's index.json. */
  root: MemoryBlob;
  /** In-memory blobs that could only be built once file digests were known. */
  extra: MemoryBlob[];
  info: ArtifactInfo;
}

export interface PlannedArtifact {
  kind: ArtifactKind;
  /** org.opencontainers.image.ref.name in the bundle's index.json */
  refName: string;
  /** Every blob the artifact needs except the root (and except `finish`'s extras). */
  blobs: PlannedBlob[];
  /** Platform of the root when it is a single-platform manifest. */
  platform?: Platform;
  /**
   * Builds the root (and extras) once every blob's digest is known. `digestOf` returns the digest
   * of a FileBlob of `blobs`. Called once with placeholder digests to size the bundle header
   * (the result must have the same byte length for any digest), then with the real ones.
   */
  finish(digestOf: (blob: FileBlob) => string): FinishedArtifact;
}

/** A file or directory tree copied under files/<target>/ in the bundle. */
export interface PlannedFile {
  /** Path inside the bundle, always starting with files/ */
  path: string;
  /** Absolute path on disk */
  source: string;
  size: number;
  /** 0o755 for a file with any executable bit, else 0o644. */
  mode: number;
}

export interface PlannedFileSet {
  source: string;
  target: string;
  files: PlannedFile[];
}

/** An image a chart declares, and whether the bundle holds it. */
export interface ChartImage {
  chart: string;
  image: string;
  inBundle: boolean;
}

/** Every artifact and file set a bundle will hold: what a spec resolves to. */
export interface BundlePlan {
  name: string;
  version: string;
  platforms: string[];
  artifacts: PlannedArtifact[];
  fileSets: PlannedFileSet[];
  /** Images the charts declare (helm.sh/images, values.yaml), deduplicated. */
  chartImages: ChartImage[];
}

/** Root descriptor for index.json. */
export function rootDescriptor(artifact: PlannedArtifact, finished: FinishedArtifact): Descriptor {
  const d: Descriptor = {
    mediaType: finished.root.mediaType,
    digest: finished.root.digest,
    size: finished.root.size,
    annotations: { 'org.opencontainers.image.ref.name': artifact.refName, 'io.kubechat.kind': artifact.kind },
  };
  if (artifact.platform) d.platform = artifact.platform;
  return d;
}
