/** JSON Schemas shipped in schemas/ (draft 2020-12), compiled once per process. */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS whose default export is the function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const compiled = new Map<string, ValidateFunction>();

export function schemaValidator(file: string, allErrors = false): ValidateFunction {
  let v = compiled.get(file);
  if (!v) {
    const schema = JSON.parse(
      readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8'),
    ) as object;
    v = addFormats(new Ajv2020({ allErrors, strict: false })).compile(schema);
    compiled.set(file, v);
  }
  return v;
}

export type { ErrorObject };
