// Precompiles the JSON Schemas read on every bundle open (run after tsc, like oclif-manifest.mjs):
// ajv's standalone code for them goes to dist/lib/compiled/, so a CLI start-up loads one small
// module instead of ajv and compiling the schema (about 0.1 s). lib/schema.ts falls back to
// compiling at run time when the file is missing (tests running from src/). Never committed.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Ajv2020 } = require('ajv/dist/2020.js');
const addFormats = require('ajv-formats');
const standaloneCode = require('ajv/dist/standalone').default;

// [schema, allErrors]: the manifest is checked on every bundle open (first error is enough), the spec
// on every create (all errors, so one run reports every mistake in the file).
export const PRECOMPILED = [
  ['bundle-manifest.schema.json', false],
  ['bundle-spec.schema.json', true],
];

const root = new URL('../schemas/', import.meta.url);
const out = new URL('../dist/lib/compiled/', import.meta.url);
const ids = new Map();
const schemas = [];
for (const file of await readdir(root, { recursive: true })) {
  if (!file.endsWith('.schema.json')) continue;
  const schema = JSON.parse(await readFile(new URL(file, root), 'utf8'));
  ids.set(file, schema.$id);
  schemas.push(schema);
}
const instances = new Map();
function ajvFor(allErrors) {
  let ajv = instances.get(allErrors);
  if (!ajv) {
    ajv = addFormats(new Ajv2020({ allErrors, strict: false, code: { source: true } }));
    for (const schema of schemas) ajv.addSchema(schema);
    instances.set(allErrors, ajv);
  }
  return ajv;
}
await mkdir(out, { recursive: true });
for (const [file, allErrors] of PRECOMPILED) {
  const ajv = ajvFor(allErrors);
  const code = standaloneCode(ajv, ajv.getSchema(ids.get(file)));
  await writeFile(new URL(compiledName(file, allErrors), out), code);
}

/** dist/lib/compiled/<name>.cjs, or <name>.all-errors.cjs for the allErrors variant (lib/schema.ts). */
export function compiledName(file, allErrors) {
  return file.replace(/\.schema\.json$/, allErrors ? '.all-errors.cjs' : '.cjs');
}
