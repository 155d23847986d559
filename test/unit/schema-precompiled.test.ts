/**
 * The manifest validator the build precompiles (scripts/compile-schemas.mjs → dist/lib/compiled/,
 * used by the CLI so start-up skips ajv) gives the same verdicts and first error as the schema
 * compiled at run time (what tests running from src/ use).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { ROOT } from '../support/cli.js';
import { schemaValidator } from '../../src/lib/schema.js';

let precompiled: ValidateFunction;
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
