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
import { parseOllamaRef, shortName, versionTag } from '../ollama/names.js';
import type { Descriptor } from '../oci/types.js';
import { removePartials } from '../lib/fs.js';
import { fileSize, writeTargetFile } from './fs.js';
import type { ArtifactKind, BlobTarget, InstallArtifact, TargetCommit } from '../install/types.js';

async function sha256File(path: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256');
    for await (const c of createReadStream(path) as AsyncIterable<Buffer>) hash.update(c);
    return `sha256:${hash.digest('hex')}`;
  } catch {
    return undefined;
  }
}

/** An Ollama models directory's file for blob `digest`: `blobs/sha256-<hex>` (Ollama's own layout). */
export const storeBlobPath = (storeDir: string, digest: string) =>
  join(storeDir, 'blobs', `sha256-${hexOf(digest)}`);

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
    return storeBlobPath(this.dir, digest);
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
    await writeTargetFile(this.blobPath(blob.digest), data);
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
    await writeTargetFile(this.manifestPath(artifact.ref, tag), root.bytes);
    await writeTargetFile(this.manifestPath(artifact.ref), root.bytes);
    return { location: `${this.dir}:${shortName(n)}`, digest: root.digest, aliases: [shortName(n, tag)] };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
