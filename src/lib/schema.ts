/**
 * JSON Schemas shipped in schemas/ (draft 2020-12). All are loaded into one validator per mode so
 * schemas can reference each other by their $id (results/*.schema.json use the manifest's).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';

// ajv and ajv-formats are CommonJS, loaded on first use: a command that only opens a bundle uses
// the precompiled manifest validator (scripts/compile-schemas.mjs) and never loads ajv (~0.1 s).
const require = createRequire(import.meta.url);
/** Schemas precompiled into dist/lib/compiled/ by the build (scripts/compile-schemas.mjs). */
const PRECOMPILED = new Set(['bundle-manifest.schema.json']);
const precompiled = new Map<string, ValidateFunction | null>();

function loadPrecompiled(file: string): ValidateFunction | undefined {
  // From src/ (tests) there is nothing precompiled: the schema itself is compiled.
  if (!PRECOMPILED.has(file) || !import.meta.url.endsWith('.js')) return undefined;
  let v = precompiled.get(file);
  if (v === undefined) {
    try {
      v = require(`./compiled/${file.replace(/\.schema\.json$/, '.cjs')}`) as ValidateFunction;
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
  const fast = allErrors ? undefined : loadPrecompiled(file);
  if (fast) return fast;
  const a = ajv(allErrors);
  const id = ids.get(file);
  const v = id === undefined ? undefined : a.getSchema(id);
  if (!v) throw new Error(`internal: no schema ${file}`);
  return v;
}

export type { ErrorObject };
