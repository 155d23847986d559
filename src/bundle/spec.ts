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
    images?: Array<{ ref: string; from: string }>;
    charts?: Array<{ path: string }>;
    models?: Array<{ name: string; gguf: string; modelfile?: string }>;
    files?: Array<{ path: string; target: string }>;
  };
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
  return `${at} ${e.message ?? 'is invalid'}`;
}

export function validateSpec(value: unknown, file: string): BundleSpec {
  const validator = schemaValidator('bundle-spec.schema.json', true);
  if (!validator(value)) {
    const errors = validator.errors ?? [];
    // additionalProperties errors name the offending field; prefer them over generic ones.
    const first = errors.find((e) => e.keyword === 'additionalProperties') ?? errors[0];
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
        'pass -f with the path of a bundle spec, e.g. bundles/demo.yaml',
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
