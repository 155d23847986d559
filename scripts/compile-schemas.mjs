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

export const PRECOMPILED = ['bundle-manifest.schema.json'];

const root = new URL('../schemas/', import.meta.url);
const out = new URL('../dist/lib/compiled/', import.meta.url);
const ajv = addFormats(new Ajv2020({ allErrors: false, strict: false, code: { source: true } }));
const ids = new Map();
for (const file of await readdir(root, { recursive: true })) {
  if (!file.endsWith('.schema.json')) continue;
  const schema = JSON.parse(await readFile(new URL(file, root), 'utf8'));
  ids.set(file, schema.$id);
  ajv.addSchema(schema);
}
await mkdir(out, { recursive: true });
for (const file of PRECOMPILED) {
  const code = standaloneCode(ajv, ajv.getSchema(ids.get(file)));
  await writeFile(new URL(file.replace(/\.schema\.json$/, '.cjs'), out), code);
}
