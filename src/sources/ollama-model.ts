/**
 * Ollama models copied byte-for-byte: the manifest Ollama (or registry.ollama.ai) wrote is the root,
 * unchanged, so its digest is the one `ollama pull` / `ollama list` shows, and every layer keeps its
 * digest. Two origins share this:
 *
 * - `ollama-store:DIR`: a local Ollama models directory (ollama/ollama manifest/paths.go):
 *   `manifests/<host>/<namespace>/<model>/<tag>` and `blobs/sha256-<hex>`.
 * - a registry speaking Ollama's flavour of the distribution API (registry.ollama.ai, or
 *   `ollama://HOST`): see pull-sources.ts; it hands the fetched manifest to `ollamaArtifact`.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FileBlob, MemoryBlob, ModelInfo, PlannedArtifact, PlannedBlob } from '../bundle/plan.js';
import { DIGEST_RE, sha256Digest } from '../lib/digest.js';
import { describeFsError, sourceError } from '../lib/errors.js';
import { MediaType } from '../oci/media-types.js';
import type { ImageManifest } from '../oci/types.js';
import { fullName, shortName, type OllamaName } from '../ollama/names.js';
import { parseModelName, shortLicense } from './model.js';
import { storeBlobPath } from '../targets/ollama-store.js';

const MAX_JSON = 16 * 1024 * 1024;

/** Parses and checks an Ollama manifest (docker v2 with application/vnd.ollama.* layers). */
export function parseOllamaManifest(data: Buffer, what: string): ImageManifest {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    throw sourceError(`${what}: manifest is not valid JSON`, 'pull the model again');
  }
  const m = value as ImageManifest;
  const ok = (d: unknown) => {
    const x = d as { digest?: unknown; size?: unknown; mediaType?: unknown } | null;
    return (
      typeof x === 'object' &&
      x !== null &&
      typeof x.digest === 'string' &&
      DIGEST_RE.test(x.digest) &&
      Number.isSafeInteger(x.size) &&
      typeof x.mediaType === 'string'
    );
  };
  if (m?.schemaVersion !== 2 || !ok(m.config) || !Array.isArray(m.layers) || !m.layers.every(ok)) {
    throw sourceError(
      `${what}: not an Ollama model manifest (schemaVersion 2, config, layers)`,
      'check the model name; only Ollama models can be listed under models',
    );
  }
  if (!m.layers.some((l) => l.mediaType.startsWith('application/vnd.ollama.image.'))) {
    throw sourceError(
      `${what}: has no application/vnd.ollama.image.* layer, so it is not an Ollama model`,
      'list container images under images, models under models',
    );
  }
  return m;
}

interface ModelConfig {
  model_family?: string;
  model_type?: string;
  file_type?: string;
}

/**
 * The planned artifact for a model whose manifest, config and small text layers are in memory and whose
 * other layers are files (cache or store) with declared digests the writer verifies as it reads them.
 */
export function ollamaArtifact(input: {
  name: OllamaName;
  source: string;
  manifest: MemoryBlob;
  config: MemoryBlob;
  layers: PlannedBlob[];
  /** Text of the first license layer, when there is one. */
  licenseText: string | undefined;
}): PlannedArtifact {
  let cfg: ModelConfig;
  try {
    cfg = JSON.parse(input.config.data.toString('utf8')) as ModelConfig;
  } catch {
    throw sourceError(
      `${input.source}: model config ${input.config.digest} is not JSON`,
      'pull the model again',
    );
  }
  const blobs = [input.config, ...input.layers];
  const info: ModelInfo = {
    kind: 'model',
    name: shortName(input.name),
    ref: fullName(input.name),
    source: input.source,
    digest: input.manifest.digest,
    size: blobs.reduce((s, b) => s + b.size, 0),
    family: cfg.model_family ?? 'unknown',
    parameterSize: cfg.model_type ?? 'unknown',
    quantization: cfg.file_type ?? 'unknown',
    license: input.licenseText ? shortLicense(input.licenseText) : null,
  };
  return {
    kind: 'model',
    refName: fullName(input.name),
    blobs,
    finish: () => ({ root: input.manifest, extra: [], info }),
  };
}

/** Small text layers (license, template, params…) worth holding in memory; weights stay files. */
export const isSmallOllamaLayer = (mediaType: string, size: number) =>
  size <= 1024 * 1024 && mediaType !== MediaType.ollamaModel && mediaType !== MediaType.ollamaAdapter;

/** `ollama-store:DIR` + a model name → the model as that store holds it. */
export async function planOllamaStoreModel(
  from: string,
  nameText: string,
  specDir: string,
): Promise<PlannedArtifact> {
  const dir = resolve(specDir, from.slice('ollama-store:'.length));
  const name = parseModelName(nameText);
  const manifestPath = join(dir, 'manifests', name.host, name.namespace, name.model, name.tag);
  const fix = `run "ollama pull ${shortName(name)}" with OLLAMA_MODELS=${dir}, or fix the name`;
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw sourceError(`${from}: ${what} is missing (${path})`, fix, err);
      }
      throw describeFsError(err, path, 'read', true) ?? err;
    }
  };
  const data = await read(manifestPath, `model ${shortName(name)}`);
  const where = `${from} ${shortName(name)}`;
  const m = parseOllamaManifest(data, where);
  const manifest: MemoryBlob = {
    mediaType: m.mediaType ?? MediaType.dockerManifest,
    digest: sha256Digest(data),
    size: data.length,
    data,
  };
  const blobFile = (digest: string) => storeBlobPath(dir, digest);
  const memory = async (d: { mediaType: string; digest: string; size: number }): Promise<MemoryBlob> => {
    if (d.size > MAX_JSON) throw sourceError(`${where}: blob ${d.digest} is too large to be metadata`, fix);
    const bytes = await read(blobFile(d.digest), `blob ${d.digest}`);
    if (sha256Digest(bytes) !== d.digest) {
      throw sourceError(`${where}: blob ${d.digest} is corrupt (its content hashes differently)`, fix);
    }
    return { mediaType: d.mediaType, digest: d.digest, size: bytes.length, data: bytes };
  };
  const config = await memory(m.config);
  const layers: PlannedBlob[] = [];
  let licenseText: string | undefined;
  for (const l of m.layers) {
    if (isSmallOllamaLayer(l.mediaType, l.size)) {
      const blob = await memory(l);
      if (l.mediaType === MediaType.ollamaLicense && licenseText === undefined) {
        licenseText = blob.data.toString('utf8');
      }
      layers.push(blob);
      continue;
    }
    const path = blobFile(l.digest);
    const st = await stat(path).catch((err: unknown) => {
      throw sourceError(`${where}: layer ${l.digest} is missing (${path})`, fix, err);
    });
    if (st.size !== l.size) {
      throw sourceError(`${where}: layer ${l.digest} is ${st.size} bytes, the manifest says ${l.size}`, fix);
    }
    const blob: FileBlob = { mediaType: l.mediaType, digest: l.digest, size: l.size, path };
    layers.push(blob);
  }
  return ollamaArtifact({ name, source: from, manifest, config, layers, licenseText });
}
