/**
 * `--ollama URL`: imports models into a running Ollama server over its HTTP API (ollama/ollama
 * docs/api.md): HEAD /api/blobs/:digest to skip weights the node has, POST /api/blobs/:digest to upload
 * them (Ollama checks the digest and answers 400 on a mismatch), POST /api/create with `files` (and the
 * template, system prompt, parameters, licenses and messages read from the bundle's layers) under the
 * immutable version tag, POST /api/copy to point the serving tag at it, GET /api/tags to confirm.
 * Ollama builds its own manifest, so its digest can differ from the bundle's: the result reports it.
 */
import { targetError } from '../lib/errors.js';
import { OllamaClient, type CreateModelRequest, type OllamaClientOptions } from '../ollama/client.js';
import { parseOllamaRef, shortName, versionTag } from '../ollama/names.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import type { ArtifactKind, BlobTarget, InstallArtifact, TargetCommit } from '../install/types.js';

const TEXT_LAYERS: ReadonlySet<string> = new Set([
  MediaType.ollamaTemplate,
  MediaType.ollamaSystem,
  MediaType.ollamaParams,
  MediaType.ollamaMessages,
  MediaType.ollamaLicense,
]);
const FILE_LAYERS: ReadonlySet<string> = new Set([
  MediaType.ollamaModel,
  MediaType.ollamaAdapter,
  MediaType.ollamaProjector,
]);

export class OllamaApiTarget implements BlobTarget {
  readonly id: string;
  readonly label: string;
  readonly #client: OllamaClient;
  /** Text layers seen this run, by digest: /api/create takes them as strings. */
  readonly #text = new Map<string, string>();

  /** `options.ca`: the CAs a server behind TLS is trusted with. */
  constructor(url: string, options: Pick<OllamaClientOptions, 'ca'> = {}) {
    this.#client = new OllamaClient(url, { ...options, rerun: 'run install again' });
    this.id = `ollama:${this.#client.base.origin}`;
    this.label = this.#client.label;
  }

  accepts(kind: ArtifactKind): boolean {
    return kind === 'model';
  }

  async prepare(): Promise<void> {
    await this.#client.version();
  }

  mustReceive(blob: Descriptor): boolean {
    return TEXT_LAYERS.has(blob.mediaType);
  }

  async hasBlob(blob: Descriptor): Promise<boolean> {
    // Ollama makes its own config; text layers travel inside /api/create.
    if (!FILE_LAYERS.has(blob.mediaType)) return true;
    return this.#client.hasBlob(blob.digest);
  }

  async writeBlob(blob: Descriptor, _a: InstallArtifact[], data: AsyncIterable<Buffer>): Promise<void> {
    if (TEXT_LAYERS.has(blob.mediaType)) {
      const parts: Buffer[] = [];
      for await (const c of data) parts.push(Buffer.from(c));
      this.#text.set(blob.digest, Buffer.concat(parts).toString('utf8'));
      return;
    }
    if (!FILE_LAYERS.has(blob.mediaType)) {
      for await (const _ of data); // nothing to send: drain
      return;
    }
    await this.#client.pushBlob(blob.digest, blob.size, data);
  }

  async #tags(): Promise<Map<string, string>> {
    return new Map((await this.#client.list()).map((m) => [m.name, m.digest]));
  }

  async hasArtifact(artifact: InstallArtifact): Promise<boolean> {
    const n = parseOllamaRef(artifact.ref);
    const tags = await this.#tags();
    return tags.has(shortName(n)) && tags.has(shortName(n, versionTag(n.tag, artifact.root.digest)));
  }

  async commit(artifact: InstallArtifact): Promise<TargetCommit> {
    const n = parseOllamaRef(artifact.ref);
    const serving = shortName(n);
    const version = shortName(n, versionTag(n.tag, artifact.root.digest));
    const manifest = JSON.parse(artifact.docs.at(-1)!.bytes.toString('utf8')) as ImageManifest;
    const req: CreateModelRequest = { model: version };
    const files: Record<string, string> = {};
    const adapters: Record<string, string> = {};
    const licenses: string[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      const text = this.#text.get(l.digest);
      switch (l.mediaType) {
        case MediaType.ollamaModel:
          files[i === 0 ? 'model.gguf' : `model-${i}.gguf`] = l.digest;
          break;
        case MediaType.ollamaProjector:
          files[`projector-${i}.gguf`] = l.digest;
          break;
        case MediaType.ollamaAdapter:
          adapters[`adapter-${i}.gguf`] = l.digest;
          break;
        case MediaType.ollamaTemplate:
          req.template = text;
          break;
        case MediaType.ollamaSystem:
          req.system = text;
          break;
        case MediaType.ollamaLicense:
          if (text !== undefined) licenses.push(text);
          break;
        case MediaType.ollamaParams:
          if (text !== undefined) req.parameters = JSON.parse(text) as Record<string, unknown>;
          break;
        case MediaType.ollamaMessages:
          if (text !== undefined) req.messages = JSON.parse(text) as NonNullable<typeof req.messages>;
          break;
      }
    }
    req.files = files;
    if (Object.keys(adapters).length) req.adapters = adapters;
    if (licenses.length) req.license = licenses.length === 1 ? licenses[0] : licenses;
    await this.#client.create(req);
    await this.#client.copy(version, serving);
    const tags = await this.#tags();
    const digest = tags.get(serving);
    if (digest === undefined || !tags.has(version))
      throw targetError(
        `${this.label}: ${serving} is missing from /api/tags after it was created`,
        'check the Ollama server log',
      );
    return {
      location: `${this.#client.base.origin} ${serving}`,
      digest: `sha256:${digest.replace(/^sha256:/, '')}`,
      aliases: [version],
    };
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
