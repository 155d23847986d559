/**
 * The migrations a bundle carries (files/migrations/*.sql): read by random access, each checked
 * against the sha256 and size the manifest lists before it can run. `install`, which already streams
 * every entry, collects them itself and calls `migrationSet`.
 */
import { createHash } from 'node:crypto';
import { integrityError } from '../lib/errors.js';
import { readAll } from '../lib/streams.js';
import { MIGRATIONS_PREFIX } from '../bundle/layout.js';
import { EntryIndex, openBundle } from '../bundle/reader.js';
import { migrationSet, type Migration, type MigrationSource } from './migration-set.js';

/** True for a bundle entry that holds a migration. */
export const isMigrationEntry = (path: string): boolean =>
  path.startsWith(MIGRATIONS_PREFIX) &&
  path.endsWith('.sql') &&
  !path.slice(MIGRATIONS_PREFIX.length).includes('/');

export async function loadBundleMigrations(bundlePath: string): Promise<Migration[]> {
  const bundle = await openBundle(bundlePath);
  const index = await EntryIndex.open(bundle);
  const sources: MigrationSource[] = [];
  for (const entry of bundle.manifest.contents.filter((c) => isMigrationEntry(c.path))) {
    const bytes = await readAll(index.read(entry.path));
    const hex = createHash('sha256').update(bytes).digest('hex');
    if (hex !== entry.sha256 || bytes.length !== entry.size) {
      throw integrityError(
        `${bundlePath}: ${entry.path} does not match the manifest (sha256 ${hex})`,
        'copy the bundle again from its source',
      );
    }
    sources.push({ name: entry.path.slice(MIGRATIONS_PREFIX.length), bytes });
  }
  return migrationSet(sources, `${bundlePath}:${MIGRATIONS_PREFIX}`);
}
