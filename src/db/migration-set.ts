/**
 * A set of versioned migrations: `V<version>__<description>.sql`, Flyway's naming. Read from the
 * directory kubechat ships (src/db/migrations) or from the `files/migrations/` entries of a bundle.
 * The checksum is the sha256 of the file's bytes: change one byte of an applied migration and
 * `db status` reports drift.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dbError } from '../lib/errors.js';
import { PACKAGE_ROOT } from '../lib/package-root.js';

export interface Migration {
  version: number;
  /** Description from the file name, underscores as spaces: "airgap deployment". */
  name: string;
  file: string;
  /** Hex sha256 of the file's bytes. */
  checksum: string;
  sql: string;
}

export interface MigrationSource {
  name: string;
  bytes: Buffer;
}

/** The migrations shipped with this kubechat (also put into every bundle as files/migrations/). */
export const SHIPPED_MIGRATIONS_DIR = join(PACKAGE_ROOT, 'src', 'db', 'migrations');

const FILE = /^V(\d+)__([A-Za-z0-9_]+)\.sql$/;

/** Parses and orders migration files; refuses names it cannot order and duplicate versions. */
export function migrationSet(sources: MigrationSource[], where: string): Migration[] {
  const byVersion = new Map<number, Migration>();
  for (const { name, bytes } of sources) {
    const base = name.split('/').pop()!;
    const m = FILE.exec(base);
    if (!m) {
      throw dbError(
        'dbMigration',
        `${where}: ${base} is not a migration file name`,
        'name migrations V<version>__<description>.sql, e.g. V004__add_index.sql',
      );
    }
    const version = Number(m[1]);
    const other = byVersion.get(version);
    if (other) {
      throw dbError(
        'dbMigration',
        `${where}: ${other.file} and ${base} both have version ${version}`,
        'give each migration its own version',
      );
    }
    byVersion.set(version, {
      version,
      name: m[2]!.replaceAll('_', ' '),
      file: base,
      checksum: createHash('sha256').update(bytes).digest('hex'),
      sql: bytes.toString('utf8'),
    });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/** Every *.sql file of `dir` (other files are ignored, so a README may sit beside them). */
export async function loadMigrationDir(dir: string = SHIPPED_MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (
    await readdir(dir).catch((err: unknown) => {
      throw dbError('dbMigration', `${dir}: cannot read the migrations directory`, 'reinstall kubechat', err);
    })
  ).filter((n) => n.endsWith('.sql'));
  const sources = await Promise.all(
    names.map(async (name) => ({ name, bytes: await readFile(join(dir, name)) })),
  );
  return migrationSet(sources, dir);
}
