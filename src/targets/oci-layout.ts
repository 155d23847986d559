/**
 * `--registry oci:DIR`: an OCI image layout (image-spec v1.1) for hosts without a registry, readable
 * by skopeo (`oci:DIR:REF`), oras and containerd. Blobs land under blobs/sha256/<hex> via temp +
 * rename; index.json is rewritten atomically, last, naming each artifact by the bundle's ref.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOB_DIR, blobPath } from '../lib/digest.js';
import { targetError } from '../lib/errors.js';
import { Annotation, MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageIndex } from '../oci/types.js';
import { removePartials } from '../lib/fs.js';
import { fileSize, writeTargetFile } from './fs.js';
import type { ArtifactKind, BlobTarget, InstallArtifact, TargetCommit } from '../install/types.js';

const LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

export class OciLayoutTarget implements BlobTarget {
  readonly id: string;
  readonly label: string;

  constructor(private readonly dir: string) {
    this.id = `oci:${dir}`;
    this.label = `oci:${dir}`;
  }

  accepts(kind: ArtifactKind): boolean {
    return kind === 'image' || kind === 'chart';
  }

  #blob(digest: string): string {
    return join(this.dir, blobPath(digest));
  }

  async prepare(): Promise<void> {
    await removePartials(join(this.dir, BLOB_DIR));
    await removePartials(this.dir);
    if ((await fileSize(join(this.dir, 'oci-layout'))) === undefined)
      await writeTargetFile(join(this.dir, 'oci-layout'), Buffer.from(LAYOUT));
  }

  async hasBlob(blob: Descriptor): Promise<boolean> {
    return (await fileSize(this.#blob(blob.digest))) === blob.size;
  }

  async writeBlob(blob: Descriptor, _a: InstallArtifact[], data: AsyncIterable<Buffer>): Promise<void> {
    await writeTargetFile(this.#blob(blob.digest), data);
  }

  async #index(): Promise<ImageIndex> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch {
      return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
    }
    try {
      return JSON.parse(text) as ImageIndex;
    } catch (err) {
      throw targetError(
        `${join(this.dir, 'index.json')}: is not valid JSON`,
        'repair or remove the OCI layout directory',
        err,
      );
    }
  }

  async hasArtifact(artifact: InstallArtifact): Promise<boolean> {
    const index = await this.#index();
    const d = index.manifests.find((m) => m.annotations?.[Annotation.refName] === artifact.ref);
    return d?.digest === artifact.root.digest && (await this.hasBlob(artifact.root));
  }

  #queue: Promise<unknown> = Promise.resolve();

  async commit(artifact: InstallArtifact): Promise<TargetCommit> {
    for (const doc of artifact.docs) {
      const d = { digest: doc.digest, size: doc.bytes.length, mediaType: doc.mediaType };
      if (!(await this.hasBlob(d))) await writeTargetFile(this.#blob(doc.digest), doc.bytes);
    }
    // index.json updates are serialised: each reads, edits and atomically replaces the file.
    const update = this.#queue.then(async () => {
      const index = await this.#index();
      const descriptor: Descriptor = {
        ...artifact.root,
        annotations: { ...artifact.root.annotations, [Annotation.refName]: artifact.ref },
      };
      index.manifests = [
        ...index.manifests.filter((m) => m.annotations?.[Annotation.refName] !== artifact.ref),
        descriptor,
      ];
      await writeTargetFile(join(this.dir, 'index.json'), Buffer.from(JSON.stringify(index)));
    });
    this.#queue = update.catch(() => undefined);
    await update;
    return { location: `oci:${this.dir}:${artifact.ref}`, digest: artifact.root.digest, aliases: [] };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
