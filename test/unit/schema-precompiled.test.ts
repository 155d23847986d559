/**
 * The validators the build precompiles (scripts/compile-schemas.mjs → dist/lib/compiled/, used by the
 * CLI so start-up skips ajv: the manifest's on every bundle open, the spec's on every create) give the
 * same verdicts and errors as the schemas compiled at run time (what tests running from src/ use).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { ROOT } from '../support/cli.js';
import { load } from 'js-yaml';
import { schemaValidator } from '../../src/lib/schema.js';

let precompiled: ValidateFunction;
let precompiledSpec: ValidateFunction;
const runtime = () => schemaValidator('bundle-manifest.schema.json');

const valid = {
  schemaVersion: 1,
  name: 'demo',
  version: '1.0.0',
  created: '2026-01-01T00:00:00Z',
  expires: null,
  platforms: ['linux/amd64'],
  delta: null,
  artifacts: { images: [], charts: [], models: [], files: [] },
  contents: [],
};

beforeAll(() => {
  // Regenerate from the schemas in the tree (the build does the same after tsc).
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'compile-schemas.mjs')], { cwd: ROOT });
  precompiled = createRequire(import.meta.url)(
    join(ROOT, 'dist', 'lib', 'compiled', 'bundle-manifest.cjs'),
  ) as ValidateFunction;
  precompiledSpec = createRequire(import.meta.url)(
    join(ROOT, 'dist', 'lib', 'compiled', 'bundle-spec.all-errors.cjs'),
  ) as ValidateFunction;
});

describe('precompiled manifest validator', () => {
  const cases: Array<[string, unknown]> = [
    ['a minimal manifest', valid],
    ['no name', { ...valid, name: undefined }],
    ['a bad created date', { ...valid, created: 'yesterday' }],
    ['an extra property', { ...valid, extra: 1 }],
    ['a bad digest in contents', { ...valid, contents: [{ path: 'x', sha256: 'zz', size: 1 }] }],
    ['not an object', 42],
  ];
  it.each(cases)('agrees with the runtime-compiled schema on %s', (_, value) => {
    const json = JSON.parse(JSON.stringify(value ?? null)) as unknown;
    const a = runtime();
    const expected = a(json);
    const firstError = a.errors?.[0];
    expect(precompiled(json)).toBe(expected);
    expect(precompiled.errors?.[0]?.instancePath).toBe(firstError?.instancePath);
    expect(precompiled.errors?.[0]?.message).toBe(firstError?.message);
  });
  it('the minimal manifest is valid and a bad date is not (the cases above test something)', () => {
    expect(precompiled(valid)).toBe(true);
    expect(precompiled({ ...valid, created: 'yesterday' })).toBe(false);
  });
});

describe('precompiled bundle spec validator (all errors)', () => {
  const demo = load(readFileSync(join(ROOT, 'bundles', 'demo.yaml'), 'utf8')) as {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown>;
  };
  const cases: Array<[string, unknown]> = [
    ['the demo spec', demo],
    ['the product spec', load(readFileSync(join(ROOT, 'bundles', 'kubechat.yaml'), 'utf8'))],
    ['two mistakes at once', { ...demo, kind: 'Bundel', metadata: { ...demo.metadata, version: 7 } }],
    ['an unknown spec field', { ...demo, spec: { ...demo.spec, imagez: [] } }],
    ['not an object', 'spec'],
  ];
  it.each(cases)('agrees with the runtime-compiled schema on %s', (_, value) => {
    const json = JSON.parse(JSON.stringify(value)) as unknown;
    const a = schemaValidator('bundle-spec.schema.json', true);
    const expected = a(json);
    const errors = (a.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    expect(precompiledSpec(json)).toBe(expected);
    expect((precompiledSpec.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)).toEqual(errors);
  });
  it('reports every error, not just the first', () => {
    const bad = { ...demo, kind: 'Bundel', metadata: { ...demo.metadata, version: 7 } };
    expect(precompiledSpec(JSON.parse(JSON.stringify(bad)))).toBe(false);
    expect(precompiledSpec.errors!.length).toBeGreaterThanOrEqual(2);
  });
});
