/**
 * A GGUF file plus an optional Modelfile, planned as the model Ollama itself would store
 * (ollama/ollama server/create.go, manifest/manifest.go): a docker v2 manifest whose config is
 * model.ConfigV2 and whose layers are the weights, then template, system, licenses, params, messages.
 * Manifest, config, params and messages are serialised as Go's encoding/json.Encoder writes them
 * (struct field order, sorted map keys, HTML-escaped, trailing newline), so digests match Ollama's.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FileBlob, MemoryBlob, PlannedArtifact, PlannedBlob } from '../bundle/plan.js';
import { isFileBlob } from '../bundle/plan.js';
import { sha256Digest } from '../lib/digest.js';
import { describeFsError, sourceError } from '../lib/errors.js';
import { readGgufHeader, type GgufInfo } from '../models/gguf.js';
import { MediaType } from '../oci/media-types.js';
import { checkModelName, fullName, NAME_RULES, shortName, type OllamaName } from '../ollama/names.js';
import { parseModelfile, type Modelfile } from './modelfile.js';

export interface ModelInput {
  /** Ollama model name: [[host/]namespace/]model[:tag] */
  name: string;
  ggufPath: string;
  modelfilePath?: string;
  /** As written in the spec, e.g. gguf:./models/assist.gguf */
  source: string;
}

// Renderer/parser (and gemma4's stop) Ollama's createModel derives from the architecture when unset.
const nemotron = { renderer: 'nemotron-3-nano', parser: 'nemotron-3-nano' };
const ARCH_DEFAULTS = new Map<string, { renderer: string; parser: string; stop?: string[] }>([
  ['gemma4', { renderer: 'gemma4', parser: 'gemma4', stop: ['<turn|>'] }],
  ['laguna', { renderer: 'laguna', parser: 'laguna' }],
  ['nemotron_h', nemotron],
  ['nemotron_h_moe', nemotron],
  ['nemotron_h_omni', nemotron],
]);

/**
 * Plans the model. The weights are always `ggufPath`: a Modelfile's FROM lines are ignored (the spec
 * names the weights), everything else in the Modelfile becomes layers and config as in Ollama.
 */
export async function planModel(input: ModelInput): Promise<PlannedArtifact> {
  const name = parseModelName(input.name);
  const gguf = await readGgufHeader(resolve(input.ggufPath), input.ggufPath);
  if (gguf.kind === 'adapter') {
    throw sourceError(
      `${input.ggufPath}: is a LoRA adapter, not a model`,
      'point the model at its base GGUF and name this file with ADAPTER in the Modelfile',
    );
  }
  const mf = input.modelfilePath ? await readModelfile(input.modelfilePath) : undefined;

  const blobs: PlannedBlob[] = [fileBlob(MediaType.ollamaModel, resolve(input.ggufPath), gguf)];
  if (mf?.adapter && input.modelfilePath) {
    const path = expandPath(mf.adapter.path, dirname(input.modelfilePath));
    const adapter = await readGgufHeader(path, `${input.modelfilePath}:${mf.adapter.line}: ADAPTER ${path}`);
    blobs.push(fileBlob(MediaType.ollamaAdapter, resolve(path), adapter));
  }
  // Ollama applies these only when the Modelfile leaves RENDERER or PARSER unset.
  const defaults = mf?.renderer && mf.parser ? undefined : ARCH_DEFAULTS.get(gguf.architecture);
  const params: Record<string, unknown> = { ...mf?.parameters };
  if (defaults?.stop && !('stop' in params)) params.stop = defaults.stop;
  if (mf?.template) blobs.push(memoryBlob(MediaType.ollamaTemplate, mf.template));
  if (mf?.system) blobs.push(memoryBlob(MediaType.ollamaSystem, mf.system));
  for (const text of mf?.licenses ?? []) blobs.push(memoryBlob(MediaType.ollamaLicense, text));
  if (Object.keys(params).length > 0) {
    const sorted = Object.fromEntries(
      Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    blobs.push(memoryBlob(MediaType.ollamaParams, goJson(sorted)));
  }
  if (mf?.messages.length) blobs.push(memoryBlob(MediaType.ollamaMessages, goJson(mf.messages)));

  const refName = fullName(name);
  const licenseText = mf?.licenses.find((l) => l.trim() !== '');
  const license = licenseText ? shortLicense(licenseText) : (gguf.license ?? null);

  return {
    kind: 'model',
    refName,
    blobs,
    finish(digestOf) {
      const layers = blobs.map((b) => ({
        mediaType: b.mediaType,
        digest: isFileBlob(b) ? (b.digest ?? digestOf(b)) : b.digest,
        size: b.size,
      }));
      // Field order of Ollama's model.ConfigV2; empty omitempty fields are left out as Go does.
      // rootfs is what Ollama wrote until v0.32.10 (and what registry.ollama.ai models carry);
      // later Ollama versions drop it and ignore it when present.
      const config = memoryBlob(
        MediaType.dockerConfig,
        goJson({
          model_format: 'gguf',
          model_family: gguf.architecture,
          model_families: [gguf.architecture],
          model_type: gguf.parameterSize,
          file_type: gguf.fileType,
          renderer: mf?.renderer || defaults?.renderer || undefined,
          parser: mf?.parser || defaults?.parser || undefined,
          requires: mf?.requires || undefined,
          architecture: 'amd64',
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        }),
      );
      const configDescriptor = { mediaType: config.mediaType, digest: config.digest, size: config.size };
      const manifest = goJson({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: configDescriptor,
        layers,
      });
      const root = memoryBlob(MediaType.dockerManifest, manifest);
      return {
        root,
        extra: [config],
        info: {
          kind: 'model',
          name: shortName(name),
          ref: refName,
          source: input.source,
          digest: root.digest,
          size: config.size + blobs.reduce((sum, b) => sum + b.size, 0),
          family: gguf.architecture,
          parameterSize: gguf.parameterSize,
          quantization: gguf.fileType,
          license,
        },
      };
    },
  };
}

async function readModelfile(path: string): Promise<Modelfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw describeFsError(err, path, 'read', true) ?? err;
  }
  return parseModelfile(text, path);
}

/** The spec's model name with Ollama's defaults (ollama/names.ts); an invalid one is a source error. */
export function parseModelName(input: string): OllamaName {
  const c = checkModelName(input);
  if (c.ok) return c.name;
  throw sourceError(
    `model name "${input}": invalid ${c.part} "${c.value}"`,
    `write [namespace/]model[:tag]; ${NAME_RULES}, at most ${c.max} characters`,
  );
}

/** Ollama's expandPath: absolute as is, ~ and ~/ from the home directory, else relative to `dir`. */
function expandPath(path: string, dir: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1));
  return resolve(dir, path);
}

/** Short form for listings: the SPDX identifier when the text has one, else its first line. */
export function shortLicense(text: string): string {
  const spdx = /SPDX-License-Identifier:\s*([^\s]+)/i.exec(text);
  const first = spdx?.[1] ?? text.split(/\r?\n|\r/).find((l) => l.trim() !== '') ?? '';
  const line = first.trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/**
 * Go's json.Encoder output: JSON.stringify matches it for these values (no floats beyond float32
 * parameters, already rounded) except that Go escapes <, >, &, U+2028 and U+2029 and ends with "\n".
 */
export function goJson(value: unknown): Buffer {
  const escaped = JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return Buffer.from(`${escaped}\n`, 'utf8');
}

function memoryBlob(mediaType: string, data: string | Buffer): MemoryBlob {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, data: bytes };
}

function fileBlob(mediaType: string, path: string, info: GgufInfo): FileBlob {
  return { mediaType, digest: undefined, size: info.fileSize, path };
}
