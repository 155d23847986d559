/** The installed-versions state file keeps every record when installs finish at the same time. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVersionStore } from '../../src/signing/versions.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-versions-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const entry = (i: number) => ({
  name: 'demo',
  version: `1.0.${i}`,
  manifestDigest: `sha256:${String(i).padStart(64, '0')}`,
  installedAt: new Date(0).toISOString(),
  overrides: [],
});

describe('FileVersionStore', () => {
  it('twenty records at once are all kept, and the lock is gone afterwards', async () => {
    const path = join(dir, 'state', 'installed.json');
    // Separate store objects, as separate install processes would have.
    await Promise.all(Array.from({ length: 20 }, (_, i) => new FileVersionStore(path).record(entry(i))));
    const state = JSON.parse(await readFile(path, 'utf8')) as { installed: Array<{ version: string }> };
    expect(state.installed.map((e) => e.version).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `1.0.${i}`).sort(),
    );
    expect(await new FileVersionStore(path).highest('demo')).toBe('1.0.19');
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('the same version recorded again (a re-run) is kept once; with other overrides it is a new entry', async () => {
    const path = join(dir, 'again', 'installed.json');
    const store = new FileVersionStore(path);
    await store.record(entry(7));
    const first = await readFile(path, 'utf8');
    await store.record({ ...entry(7), installedAt: new Date(Date.now() + 60_000).toISOString() });
    expect(await readFile(path, 'utf8')).toBe(first);
    await store.record({ ...entry(7), overrides: ['allow-unsigned'] });
    const state = JSON.parse(await readFile(path, 'utf8')) as { installed: Array<{ overrides: string[] }> };
    expect(state.installed.map((e) => e.overrides)).toEqual([[], ['allow-unsigned']]);
  });

  it('a lock left by a process that died is taken over', async () => {
    const path = join(dir, 'installed.json');
    await writeFile(`${path}.lock`, '999999999'); // no such pid
    await new FileVersionStore(path).record(entry(1));
    expect(await new FileVersionStore(path).highest('demo')).toBe('1.0.1');
  });
});
