/**
 * JSON Schemas shipped in schemas/ (draft 2020-12). All are loaded into one validator per mode so
 * schemas can reference each other by their $id (results/*.schema.json use the manifest's).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS whose default export is the function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const ROOT = new URL('../../schemas/', import.meta.url);
const instances = new Map<boolean, Ajv2020>();
const ids = new Map<string, string>(); // file (relative to schemas/) -> $id

function ajv(allErrors: boolean): Ajv2020 {
  let a = instances.get(allErrors);
  if (!a) {
    a = addFormats(new Ajv2020({ allErrors, strict: false }));
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
  const a = ajv(allErrors);
  const id = ids.get(file);
  const v = id === undefined ? undefined : a.getSchema(id);
  if (!v) throw new Error(`internal: no schema ${file}`);
  return v;
}

export type { ErrorObject };
