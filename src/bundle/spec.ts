/** Loading and validating bundle spec files (bundles/*.yaml) against schemas/bundle-spec.schema.json. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { schemaValidator, type ErrorObject } from '../lib/schema.js';
import { load as loadYaml, YAMLException } from 'js-yaml';
import { describeFsError, specError } from '../lib/errors.js';

export interface BundleSpec {
  apiVersion: 'kubechat.io/v1';
  kind: 'Bundle';
  metadata: { name: string; version: string; description?: string };
  spec: {
    platforms?: string[];
    images?: ImageEntry[];
    charts?: ChartEntry[];
    models?: ModelEntry[];
    files?: Array<{ path: string; target: string }>;
  };
}

/** `from` absent: pulled from `ref`. `oci:DIR[:TAG]`: a local layout. `docker://REF`: pulled from REF (a mirror). */
export interface ImageEntry {
  ref: string;
  from?: string;
}

/** Exactly one of: a local directory, a chart repository entry, a Helm OCI reference. */
export type ChartEntry = { path: string } | { name: string; repo: string; version: string } | { ref: string };

/**
 * `gguf` (+ `modelfile`): built from local weights. `from: ollama://HOST/ns/model:tag` or
 * `from: ollama-store:DIR` (with `name`): copied byte-for-byte. `name` alone: pulled from its registry.
 */
export interface ModelEntry {
  name?: string;
  gguf?: string;
  modelfile?: string;
  from?: string;
}

export interface LoadedSpec {
  file: string;
  /** Directory relative paths resolve against. */
  dir: string;
  spec: BundleSpec;
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? 'the top level' : e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'additionalProperties') {
    return `unknown field "${String(e.params.additionalProperty)}" at ${at}`;
  }
  if (e.keyword === 'required') return `missing field "${String(e.params.missingProperty)}" at ${at}`;
  if (e.keyword === 'const') return `${at} must be ${JSON.stringify(e.params.allowedValue)}`;
  if (e.keyword === 'dependentRequired') {
    return `${at}: "${String(e.params.property)}" needs "${String(e.params.missingProperty)}"`;
  }
  if (e.instancePath.includes('/charts/') && (e.keyword === 'oneOf' || e.keyword === 'required')) {
    return `${at} must have exactly one of "path", "repo" (with name and version) or "ref"`;
  }
  if (e.instancePath.includes('/models/') && (e.keyword === 'not' || e.keyword === 'anyOf')) {
    return `${at} must have "name", and either "gguf", "from" or neither (pull by name), not both`;
  }
  return `${at} ${e.message ?? 'is invalid'}`;
}

export function validateSpec(value: unknown, file: string): BundleSpec {
  const validator = schemaValidator('bundle-spec.schema.json', true);
  if (!validator(value)) {
    const errors = validator.errors ?? [];
    // additionalProperties errors name the offending field; prefer them over generic ones.
    const rank = (k: string) => ['additionalProperties', 'dependentRequired', 'pattern', 'type'].indexOf(k);
    const first =
      [...errors].filter((e) => rank(e.keyword) >= 0).sort((a, b) => rank(a.keyword) - rank(b.keyword))[0] ??
      errors.find((e) => e.keyword === 'oneOf' || e.keyword === 'not' || e.keyword === 'anyOf') ??
      errors[0];
    throw specError(
      `${file}: ${first ? describe(first) : 'invalid spec'}`,
      'see schemas/bundle-spec.schema.json for the fields a spec may have',
    );
  }
  return value as BundleSpec;
}

export async function loadSpec(path: string): Promise<LoadedSpec> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw specError(
        `${path}: spec file not found`,
        'pass {flag:file} with the path of a bundle spec, e.g. bundles/demo.yaml',
        err,
      );
    }
    throw (
      describeFsError(err, path, 'read') ?? specError(`${path}: cannot read the spec file`, undefined, err)
    );
  }
  let value: unknown;
  try {
    value = loadYaml(text, { filename: path });
  } catch (err) {
    const reason = err instanceof YAMLException ? err.reason : String(err);
    const line = err instanceof YAMLException && err.mark ? ` (line ${err.mark.line + 1})` : '';
    throw specError(`${path}: not valid YAML: ${reason}${line}`, 'fix the YAML syntax', err);
  }
  return { file, dir: dirname(file), spec: validateSpec(value, path) };
}

/** `oci:DIR[:TAG]` → layout directory and tag. A trailing `:x` is a tag only if it has no '/'. */
export function parseOciFrom(from: string, dir: string): { layoutDir: string; tag: string | undefined } {
  const rest = from.slice('oci:'.length);
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && !rest.slice(colon + 1).includes('/')) {
    return { layoutDir: resolve(dir, rest.slice(0, colon)), tag: rest.slice(colon + 1) || undefined };
  }
  return { layoutDir: resolve(dir, rest), tag: undefined };
}
