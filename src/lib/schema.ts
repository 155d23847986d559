/**
 * JSON Schemas shipped in schemas/ (draft 2020-12). All are loaded into one validator per mode so
 * schemas can reference each other by their $id (results/*.schema.json use the manifest's).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';

// ajv and ajv-formats are CommonJS, loaded on first use: opening a bundle and reading a bundle spec
// use the validators precompiled by the build (scripts/compile-schemas.mjs) and never load ajv,
// which with compiling every schema costs 0.1-0.2 s of start-up.
const require = createRequire(import.meta.url);
/** Schemas precompiled into dist/lib/compiled/ by the build, with their allErrors mode. */
const PRECOMPILED = new Map([
  ['bundle-manifest.schema.json', false],
  ['bundle-spec.schema.json', true],
]);
const precompiled = new Map<string, ValidateFunction | null>();

/** The file name scripts/compile-schemas.mjs gives a precompiled validator (same rule there). */
export const compiledName = (file: string, allErrors: boolean) =>
  file.replace(/\.schema\.json$/, allErrors ? '.all-errors.cjs' : '.cjs');

function loadPrecompiled(file: string, allErrors: boolean): ValidateFunction | undefined {
  // From src/ (tests) there is nothing precompiled: the schema itself is compiled.
  if (PRECOMPILED.get(file) !== allErrors || !import.meta.url.endsWith('.js')) return undefined;
  let v = precompiled.get(file);
  if (v === undefined) {
    try {
      v = require(`./compiled/${compiledName(file, allErrors)}`) as ValidateFunction;
    } catch {
      v = null; // not built (or removed): compile at run time
    }
    precompiled.set(file, v);
  }
  return v ?? undefined;
}

const ROOT = new URL('../../schemas/', import.meta.url);
const instances = new Map<boolean, Ajv2020>();
const ids = new Map<string, string>(); // file (relative to schemas/) -> $id

function ajv(allErrors: boolean): Ajv2020 {
  let a = instances.get(allErrors);
  if (!a) {
    const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    // ajv-formats is CommonJS whose export is the plugin function itself.
    const addFormats = require('ajv-formats') as (ajv: Ajv2020) => Ajv2020;
    a = addFormats(new Ajv({ allErrors, strict: false }));
    for (const file of readdirSync(ROOT, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.schema.json')) continue;
      const schema = JSON.parse(readFileSync(new URL(file, ROOT), 'utf8')) as { $id: string };
      ids.set(file.split('\\').join('/'), schema.$id);
      a.addSchema(schema);
    }
    instances.set(allErrors, a);
  }
  return a;
}

/** The validator for schemas/<file>, e.g. 'bundle-spec.schema.json' or 'results/error.schema.json'. */
export function schemaValidator(file: string, allErrors = false): ValidateFunction {
  const fast = loadPrecompiled(file, allErrors);
  if (fast) return fast;
  const a = ajv(allErrors);
  const id = ids.get(file);
  const v = id === undefined ? undefined : a.getSchema(id);
  if (!v) throw new Error(`internal: no schema ${file}`);
  return v;
}

export type { ErrorObject };
