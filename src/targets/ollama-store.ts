/**
 * `--ollama-store DIR`: writes Ollama's own models directory (OLLAMA_MODELS) directly, so digests stay
 * those of the bundle (Ollama's /api/create would rewrite GGUF files). Layout as Ollama's server keeps
 * it: blobs/sha256-<hex>, manifests/<host>/<namespace>/<model>/<tag>. Blobs go first (temp + rename),
 * manifests last; each version also gets an immutable tag <tag>-<first 12 hex of the manifest digest>
 * so a rollback can move the serving tag back. Ollama prunes unreferenced blobs older than an hour at
 * start-up, so the manifest is written as soon as the model's blobs are in.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { hexOf } from '../lib/digest.js';
import { targetError } from '../lib/errors.js';
import type { Descriptor } from '../oci/types.js';
import { fileSize, removePartials, writeBytesAtomic, writeFileAtomic } from './fs.js';
import type { ArtifactKind, BlobTarget, InstallArtifact, TargetCommit } from '../install/types.js';

export interface OllamaName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

/** Splits the bundle's model ref (registry.ollama.ai/library/assist:1.0). */
export function parseOllamaRef(ref: string): OllamaName {
  // Each part becomes a path component of the store: no empty, dot-leading or separator-bearing parts.
  const m = /^([A-Za-z0-9][\w.:-]*)\/([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*):([A-Za-z0-9_][\w.-]*)$/.exec(
    ref,
  );
  if (!m)
    throw targetError(`model reference "${ref}" is not host/namespace/model:tag`, 'recreate the bundle');
  return { host: m[1]!, namespace: m[2]!, model: m[3]!, tag: m[4]! };
}

/** The immutable per-version tag: <tag>-<first 12 hex of the manifest digest>. */
export const versionTag = (tag: string, manifestDigest: string) =>
  `${tag}-${hexOf(manifestDigest).slice(0, 12)}`;

/** The name a user types: library models drop host and namespace (assist:1.0). */
export function shortName(n: OllamaName, tag = n.tag): string {
  if (n.host === 'registry.ollama.ai' && n.namespace === 'library') return `${n.model}:${tag}`;
  if (n.host === 'registry.ollama.ai') return `${n.namespace}/${n.model}:${tag}`;
  return `${n.host}/${n.namespace}/${n.model}:${tag}`;
}

async function sha256File(path: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256');
    for await (const c of createReadStream(path) as AsyncIterable<Buffer>) hash.update(c);
    return `sha256:${hash.digest('hex')}`;
  } catch {
    return undefined;
  }
}

export class OllamaStoreTarget implements BlobTarget {
  readonly id: string;
  readonly label: string;

  constructor(private readonly dir: string) {
    this.id = `ollama-store:${dir}`;
    this.label = `Ollama store ${dir}`;
  }

  accepts(kind: ArtifactKind): boolean {
    return kind === 'model';
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', `sha256-${hexOf(digest)}`);
  }

  manifestPath(ref: string, tag?: string): string {
    const n = parseOllamaRef(ref);
    return join(this.dir, 'manifests', n.host, n.namespace, n.model, tag ?? n.tag);
  }

  async prepare(): Promise<void> {
    await removePartials(join(this.dir, 'blobs'));
  }

  async hasBlob(blob: Descriptor): Promise<boolean> {
    return (await fileSize(this.blobPath(blob.digest))) === blob.size;
  }

  async writeBlob(blob: Descriptor, _a: InstallArtifact[], data: AsyncIterable<Buffer>): Promise<void> {
    await writeFileAtomic(this.blobPath(blob.digest), data);
  }

  async hasArtifact(artifact: InstallArtifact): Promise<boolean> {
    const tag = versionTag(parseOllamaRef(artifact.ref).tag, artifact.root.digest);
    const [serving, version] = await Promise.all([
      sha256File(this.manifestPath(artifact.ref)),
      sha256File(this.manifestPath(artifact.ref, tag)),
    ]);
    return serving === artifact.root.digest && version === artifact.root.digest;
  }

  async commit(artifact: InstallArtifact): Promise<TargetCommit> {
    const root = artifact.docs.at(-1)!;
    const n = parseOllamaRef(artifact.ref);
    const tag = versionTag(n.tag, root.digest);
    // The version tag first: the serving tag then always points at a version that can be rolled back to.
    await writeBytesAtomic(this.manifestPath(artifact.ref, tag), root.bytes);
    await writeBytesAtomic(this.manifestPath(artifact.ref), root.bytes);
    return { location: `${this.dir}:${shortName(n)}`, digest: root.digest, aliases: [shortName(n, tag)] };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
