/**
 * `--ollama URL`: imports models into a running Ollama server over its HTTP API (ollama/ollama
 * docs/api.md): HEAD /api/blobs/:digest to skip weights the node has, POST /api/blobs/:digest to upload
 * them (Ollama checks the digest and answers 400 on a mismatch), POST /api/create with `files` (and the
 * template, system prompt, parameters, licenses and messages read from the bundle's layers) under the
 * immutable version tag, POST /api/copy to point the serving tag at it, GET /api/tags to confirm.
 * Ollama builds its own manifest, so its digest can differ from the bundle's: the result reports it.
 */
import { Readable } from 'node:stream';
import { request, type Dispatcher } from '../lib/http.js';
import { targetError } from '../lib/errors.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import { OllamaClient } from './ollama-client.js';
import { parseOllamaRef, shortName, versionTag } from './ollama-store.js';
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

interface TagsResponse {
  models?: Array<{ name?: string; model?: string; digest?: string }>;
}

export class OllamaApiTarget implements BlobTarget {
  readonly id: string;
  readonly label: string;
  readonly #client: OllamaClient;
  readonly #base: URL;
  readonly #agent: Dispatcher;
  /** Text layers seen this run, by digest: /api/create takes them as strings. */
  readonly #text = new Map<string, string>();

  constructor(url: string) {
    this.#client = new OllamaClient(url, 'run install again');
    this.#base = this.#client.base;
    this.#agent = this.#client.agent;
    this.id = `ollama:${this.#base.origin}`;
    this.label = this.#client.label;
  }

  accepts(kind: ArtifactKind): boolean {
    return kind === 'model';
  }

  #call(method: Dispatcher.HttpMethod, path: string, body?: unknown) {
    return this.#client.call(method, path, body);
  }

  #unreachable(err: unknown) {
    return this.#client.unreachable(err);
  }

  #refused(what: string, status: number, text: string) {
    return this.#client.refused(what, status, text);
  }

  async prepare(): Promise<void> {
    const r = await this.#call('GET', '/api/version');
    if (r.status !== 200) throw this.#refused('GET /api/version', r.status, r.text);
  }

  mustReceive(blob: Descriptor): boolean {
    return TEXT_LAYERS.has(blob.mediaType);
  }

  async hasBlob(blob: Descriptor): Promise<boolean> {
    // Ollama makes its own config; text layers travel inside /api/create.
    if (!FILE_LAYERS.has(blob.mediaType)) return true;
    const r = await this.#call('HEAD', `/api/blobs/${blob.digest}`);
    return r.status === 200;
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
    let res: Dispatcher.ResponseData;
    try {
      res = await request(new URL(`/api/blobs/${blob.digest}`, this.#base), {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { 'content-length': String(blob.size), 'content-type': 'application/octet-stream' },
        body: Readable.from(data, { objectMode: false }),
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'KubechatError') throw err;
      throw this.#unreachable(err);
    }
    const text = await res.body.text();
    if (res.statusCode !== 201 && res.statusCode !== 200)
      throw this.#refused(`POST /api/blobs/${blob.digest}`, res.statusCode, text);
  }

  async #tags(): Promise<Map<string, string>> {
    const r = await this.#call('GET', '/api/tags');
    if (r.status !== 200) throw this.#refused('GET /api/tags', r.status, r.text);
    const body = JSON.parse(r.text) as TagsResponse;
    return new Map((body.models ?? []).map((m) => [m.name ?? m.model ?? '', m.digest ?? '']));
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
    const req: Record<string, unknown> = { model: version, stream: false };
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
          if (text !== undefined) req.parameters = JSON.parse(text) as unknown;
          break;
        case MediaType.ollamaMessages:
          if (text !== undefined) req.messages = JSON.parse(text) as unknown;
          break;
      }
    }
    req.files = files;
    if (Object.keys(adapters).length) req.adapters = adapters;
    if (licenses.length) req.license = licenses.length === 1 ? licenses[0] : licenses;
    const created = await this.#call('POST', '/api/create', req);
    if (created.status !== 200)
      throw this.#refused(`POST /api/create ${version}`, created.status, created.text);
    const copied = await this.#call('POST', '/api/copy', { source: version, destination: serving });
    if (copied.status !== 200)
      throw this.#refused(`POST /api/copy ${version} → ${serving}`, copied.status, copied.text);
    const tags = await this.#tags();
    const digest = tags.get(serving);
    if (digest === undefined || !tags.has(version))
      throw targetError(
        `${this.label}: ${serving} is missing from /api/tags after it was created`,
        'check the Ollama server log',
      );
    return {
      location: `${this.#base.origin} ${serving}`,
      digest: `sha256:${digest.replace(/^sha256:/, '')}`,
      aliases: [version],
    };
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
