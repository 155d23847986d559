/**
 * A GPU node's models, reached one of two ways: its models directory (`--ollama-store DIR`, Ollama's
 * OLLAMA_MODELS layout, read and written directly, atomically) or its Ollama server (`--ollama URL`,
 * the HTTP API of ollama/ollama docs/api.md: /api/tags, /api/show, /api/ps, /api/copy,
 * /api/delete, /api/generate). Both answer the same questions, so the commands run alike on either.
 */
import { createHash } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeFsError, targetError } from '../lib/errors.js';
import { MediaType } from '../oci/media-types.js';
import { OllamaClient } from '../ollama/client.js';
import { fullName, parseModelName, shortName, type OllamaName } from '../ollama/names.js';
import { writeTargetFile } from '../targets/fs.js';
import { readGgufHeader, type GgufValue } from './gguf.js';
import { listStoreManifests, manifestBlobs, storeBlobPath } from './verify.js';
import { modelShape, numCtxOf, type ModelShape } from './vram.js';

export interface NodeModel {
  /** host/namespace/model:tag */
  name: string;
  /** As Ollama shows it: assist:1.0 for library models. */
  display: string;
  parts: OllamaName;
  /** sha256 of the manifest's bytes (Ollama's /api/tags digest). */
  digest: string;
  size: number;
  /** When this name was written (import, copy). */
  modifiedAt: string;
}

export interface ModelDetails {
  family: string;
  parameterSize: string;
  quantization: string;
  shape: ModelShape;
  /** Counted from the tensor infos (general.parameter_count from /api/show). */
  parameterCount?: number;
  /** Bytes of the weights (model, projector and adapter files). */
  weightsBytes: number;
  /** num_ctx the model's parameters set, if any. */
  numCtx?: number;
}

export interface LoadedModel {
  name: string;
  expiresAt: string | null;
  size: number;
  sizeVram: number | null;
}

export interface GenerateStats {
  evalCount: number;
  evalDurationNs: number;
  promptEvalCount: number;
}

export interface ModelNode {
  readonly id: string;
  /** What to call the node: its URL or its directory. */
  readonly label: string;
  readonly kind: 'store' | 'api';
  /** Where it is: the models directory, or the Ollama server's URL (services build install targets from it). */
  readonly address: string;
  list(): Promise<NodeModel[]>;
  details(m: NodeModel): Promise<ModelDetails>;
  /** Loaded models (/api/ps); null for a models directory, which cannot know. */
  loaded(): Promise<LoadedModel[] | null>;
  /** Points `to` at the manifest of `from`, byte for byte. */
  copy(from: NodeModel, to: OllamaName): Promise<void>;
  /** Removes the name; blobs only when no remaining manifest references them. Returns the blobs removed (null: the server decides). */
  remove(m: NodeModel): Promise<string[] | null>;
  /** /api/generate with no prompt: loads for `keepAlive`, or unloads with 0. */
  keepAlive(m: NodeModel, keepAlive: string | number): Promise<void>;
  /** A completion (stream false); `keepAlive` when given, else the server's default. */
  generate(
    m: NodeModel,
    prompt: string,
    options?: Record<string, unknown>,
    keepAlive?: string | number,
  ): Promise<GenerateStats>;
  close(): Promise<void>;
}

const WEIGHT_LAYERS: ReadonlySet<string> = new Set([
  MediaType.ollamaModel,
  MediaType.ollamaProjector,
  MediaType.ollamaAdapter,
]);

interface OllamaManifest {
  config?: { digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
}

/** `--ollama-store DIR`. */
export class StoreNode implements ModelNode {
  readonly id: string;
  readonly kind = 'store' as const;

  constructor(readonly dir: string) {
    this.id = `ollama-store:${dir}`;
    this.label = dir;
    this.address = dir;
  }

  readonly address: string;

  readonly label: string;

  async list(): Promise<NodeModel[]> {
    const manifests = await listStoreManifests(this.dir);
    return Promise.all(
      manifests.map(async (m) => {
        const [bytes, st] = await Promise.all([readFile(m.path), stat(m.path)]).catch((err: unknown) => {
          throw describeFsError(err, m.path, 'read') ?? err;
        });
        let size = 0;
        try {
          size = manifestBlobs(bytes).reduce((n, b) => n + b.size, 0);
        } catch {
          // an unreadable manifest still has a name and a digest; verify reports it
        }
        return {
          name: m.name,
          display: shortName(m.parts),
          parts: m.parts,
          digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
          size,
          modifiedAt: st.mtime.toISOString(),
        };
      }),
    );
  }

  manifestPath(n: OllamaName): string {
    return join(this.dir, 'manifests', n.host, n.namespace, n.model, n.tag);
  }

  async #manifest(m: NodeModel): Promise<OllamaManifest> {
    const path = this.manifestPath(m.parts);
    const bytes = await readFile(path).catch((err: unknown) => {
      throw describeFsError(err, path, 'read') ?? err;
    });
    try {
      return JSON.parse(bytes.toString('utf8')) as OllamaManifest;
    } catch (err) {
      throw targetError(
        `${path}: manifest is not JSON`,
        `run kubechat models verify --ollama-store ${this.dir}`,
        err,
      );
    }
  }

  async details(m: NodeModel): Promise<ModelDetails> {
    const manifest = await this.#manifest(m);
    const model = manifest.layers.find((l) => l.mediaType === MediaType.ollamaModel);
    const params = manifest.layers.find((l) => l.mediaType === MediaType.ollamaParams);
    const weightsBytes = manifest.layers
      .filter((l) => WEIGHT_LAYERS.has(l.mediaType))
      .reduce((n, l) => n + l.size, 0);
    if (!model)
      throw targetError(
        `${m.display} on ${this.label}: the manifest has no model layer`,
        'import the model again',
      );
    const gguf = await readGgufHeader(
      storeBlobPath(this.dir, model.digest),
      `${m.display} (${model.digest})`,
    );
    const numCtx = params
      ? numCtxOf(await readFile(storeBlobPath(this.dir, params.digest), 'utf8').catch(() => undefined))
      : undefined;
    return {
      family: gguf.architecture,
      parameterSize: gguf.parameterSize,
      quantization: gguf.fileType,
      shape: modelShape(gguf.kv),
      parameterCount: gguf.parameterCount,
      weightsBytes,
      ...(numCtx === undefined ? {} : { numCtx }),
    };
  }

  loaded(): Promise<LoadedModel[] | null> {
    return Promise.resolve(null);
  }

  async copy(from: NodeModel, to: OllamaName): Promise<void> {
    const bytes = await readFile(this.manifestPath(from.parts));
    // Temp file + rename: Ollama never sees a half-written serving manifest.
    await writeTargetFile(this.manifestPath(to), bytes);
  }

  async remove(m: NodeModel): Promise<string[]> {
    const mine = manifestBlobs(await readFile(this.manifestPath(m.parts))).map((b) => b.digest);
    await rm(this.manifestPath(m.parts));
    // As Ollama's DeleteModel: of this manifest's blobs, those no remaining manifest references.
    const referenced = new Set<string>();
    for (const other of await listStoreManifests(this.dir)) {
      try {
        for (const b of manifestBlobs(await readFile(other.path))) referenced.add(b.digest);
      } catch {
        // A manifest we cannot parse might reference anything: keep every blob.
        return [];
      }
    }
    const removed: string[] = [];
    for (const d of mine)
      if (!referenced.has(d)) {
        await rm(storeBlobPath(this.dir, d), { force: true });
        removed.push(d);
      }
    return removed;
  }

  keepAlive(): Promise<void> {
    return Promise.reject(
      targetError(
        `${this.label}: a models directory cannot load or unload models`,
        'name the node’s Ollama server with {flag:ollama} URL',
      ),
    );
  }

  generate(): Promise<GenerateStats> {
    return this.keepAlive() as unknown as Promise<GenerateStats>;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** `--ollama URL`. */
export class ApiNode implements ModelNode {
  readonly id: string;
  readonly label: string;
  readonly address: string;
  readonly kind = 'api' as const;
  readonly #client: OllamaClient;
  /** The CAs the server's TLS certificate is trusted with: install targets on this node use them too. */
  readonly ca: ReadonlyArray<string | Buffer>;

  /** `ca`: PEM certificates of the CAs a server behind TLS is trusted with (beside the system roots). */
  constructor(url: string, ca: ReadonlyArray<string | Buffer> = []) {
    this.ca = ca;
    this.#client = new OllamaClient(url, {
      ca,
      refusedFix: 'check the model name and the Ollama server log',
      // Load tests hold many requests open at once.
      connections: 64,
    });
    this.id = `ollama:${this.#client.base.origin}`;
    this.label = this.#client.base.origin;
    this.address = this.#client.base.href;
  }

  async list(): Promise<NodeModel[]> {
    const out: NodeModel[] = [];
    for (const m of await this.#client.list()) {
      const parts = parseModelName(m.name);
      if (!parts) continue;
      out.push({
        name: fullName(parts),
        display: shortName(parts),
        parts,
        digest: `sha256:${m.digest.replace(/^sha256:/, '')}`,
        size: m.size,
        modifiedAt: m.modifiedAt,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async details(m: NodeModel): Promise<ModelDetails> {
    const r = await this.#client.show(m.display);
    const numCtx = numCtxOf(r.parameters);
    const info = (r.model_info ?? {}) as Record<string, GgufValue>;
    const count = info['general.parameter_count'];
    return {
      ...(typeof count === 'number' ? { parameterCount: count } : {}),
      family: r.details?.family ?? 'unknown',
      parameterSize: r.details?.parameter_size ?? '',
      quantization: r.details?.quantization_level ?? '',
      shape: modelShape(new Map(Object.entries(info))),
      // The text layers are a few KiB: the model's size is its weights.
      weightsBytes: m.size,
      ...(numCtx === undefined ? {} : { numCtx }),
    };
  }

  async loaded(): Promise<LoadedModel[]> {
    return (await this.#client.ps()).flatMap((m) => {
      const parts = parseModelName(m.name);
      return parts ? [{ ...m, name: fullName(parts) }] : [];
    });
  }

  async copy(from: NodeModel, to: OllamaName): Promise<void> {
    await this.#client.copy(from.display, shortName(to));
  }

  async remove(m: NodeModel): Promise<null> {
    await this.#client.delete(m.display);
    return null;
  }

  async keepAlive(m: NodeModel, keepAlive: string | number): Promise<void> {
    await this.#client.generate({ model: m.display, keepAlive });
  }

  async generate(
    m: NodeModel,
    prompt: string,
    options?: Record<string, unknown>,
    keepAlive?: string | number,
  ): Promise<GenerateStats> {
    const r = await this.#client.generate({ model: m.display, prompt, options, keepAlive });
    return { evalCount: r.evalCount, evalDurationNs: r.evalDurationNs, promptEvalCount: r.promptEvalCount };
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
