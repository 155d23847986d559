/**
 * The exit-code table (src/lib/exit-codes.ts) is the one source: it is consistent in itself, and
 * `ExitCode`, every command's help line, docs/exit-codes.md, the README and the JSON Schemas that
 * name codes all say what it says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { EXIT_CODES_HELP, ExitCode } from '../../src/lib/errors.js';
import {
  EXIT_CODE_RANGES,
  EXIT_CODES,
  exitCodeRange,
  type ExitCodeEntry,
  type ExitCodeRange,
} from '../../src/lib/exit-codes.js';
import { exitCodesDoc, README_BEGIN, README_END, withReadmeTables } from '../../src/lib/exit-codes-doc.js';

const entries: readonly ExitCodeEntry[] = EXIT_CODES;
const ranges: readonly ExitCodeRange[] = EXIT_CODE_RANGES;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const STALE = 'stale: run npm run docs:exit-codes and commit the result';

describe('the exit-code table', () => {
  it('has one entry per name and per code, in code order, each inside its own range', () => {
    expect(new Set(entries.map((e) => e.name)).size).toBe(entries.length);
    expect(new Set(entries.map((e) => e.code)).size).toBe(entries.length);
    expect(entries.map((e) => e.code)).toEqual(entries.map((e) => e.code).sort((a, b) => a - b));
    for (const e of entries) {
      expect(exitCodeRange(e.code)?.id, e.name).toBe(e.range);
      expect(e.help, e.name).not.toMatch(/[\n,]$/);
      expect(e.meaning, e.name).not.toContain('\n');
    }
  });

  it('has ranges in order that do not overlap; a reserved range holds no code, any other holds some', () => {
    for (const [i, r] of ranges.entries()) {
      expect(r.from, r.id).toBeLessThanOrEqual(r.to);
      if (i > 0) expect(r.from, r.id).toBeGreaterThan(ranges[i - 1]!.to);
      const inside = entries.filter((e) => e.range === r.id);
      expect(inside.length > 0, `${r.id}: codes, unless reserved`).toBe(!r.reservedFor);
    }
    expect(new Set(ranges.map((r) => r.id)).size).toBe(ranges.length);
    expect(ranges.at(-1)!.to).toBe(255);
  });

  it('reserves ranges for validate, deploy and docs, and keeps 130/143 (interrupted)', () => {
    const idOf = (code: number) => exitCodeRange(code)?.id;
    expect([idOf(ExitCode.validateFailed), idOf(ExitCode.validateWarned)]).toEqual(['validate', 'validate']);
    expect(ranges.find((r) => r.id === 'deploy')?.reservedFor).toMatch(/deploy/);
    expect(ranges.find((r) => r.id === 'docs')?.reservedFor).toMatch(/docs/);
    expect([ExitCode.interrupted, ExitCode.terminated]).toEqual([130, 143]);
  });

  it('is what ExitCode says, name for name', () => {
    expect(ExitCode).toEqual(Object.fromEntries(entries.map((e) => [e.name, e.code])));
  });

  it('is the help line every command ends with: each code with its help text, in order', () => {
    expect(EXIT_CODES_HELP).toMatch(/^Exit codes: 0 ok, 1 internal error \(a bug\), 2 usage, /);
    expect(EXIT_CODES_HELP).toContain(', 130/143 interrupted (partial output removed).');
    let at = 0;
    for (const e of entries) {
      const found = EXIT_CODES_HELP.indexOf(` ${e.help}`, at);
      expect(found, `${e.code} ${e.help}`).toBeGreaterThan(at - 1);
      at = found;
    }
  });
});

describe('what is generated from it', () => {
  it('docs/exit-codes.md is the table as rendered now', () => {
    expect(read('docs/exit-codes.md'), `docs/exit-codes.md is ${STALE}`).toBe(exitCodesDoc());
  });

  it('the README holds the same tables between its markers', () => {
    const readme = read('README.md');
    expect(readme).toContain(README_BEGIN);
    expect(readme).toContain(README_END);
    expect(readme, `README.md is ${STALE}`).toBe(withReadmeTables(readme));
  });

  it('every code the README and the docs list has the table’s name and meaning', () => {
    for (const file of ['README.md', 'docs/exit-codes.md']) {
      const rows = [...read(file).matchAll(/^\| (\d+) \| `(\w+)` \| (.*?) \|/gm)];
      expect(
        rows.map((m) => Number(m[1])),
        file,
      ).toEqual(entries.map((e) => e.code));
      for (const [, code, name, meaning] of rows) {
        const e = entries.find((x) => x.code === Number(code))!;
        expect([name, meaning], `${file}: ${code}`).toEqual([e.name, e.meaning]);
      }
    }
  });

  it('the --json error schema allows exactly the names of the failure codes as kind', () => {
    const schema = JSON.parse(read('schemas/results/error.schema.json')) as {
      properties: { error: { properties: { kind: { enum: string[] } } } };
    };
    expect(schema.properties.error.properties.kind.enum).toEqual(
      entries.filter((e) => e.code > 0 && e.code < 128).map((e) => e.name),
    );
  });

  it('the validate --json schema allows exactly validate’s outcomes as exitCode', () => {
    const schema = JSON.parse(read('schemas/results/validate.schema.json')) as {
      properties: { exitCode: { enum: number[] } };
    };
    expect(schema.properties.exitCode.enum).toEqual([
      ExitCode.ok,
      ExitCode.validateFailed,
      ExitCode.validateWarned,
    ]);
  });
});
