/**
 * Installed bundle versions, for rollback protection (TUF-style: never go back below the highest
 * version installed under a bundle name). `FileVersionStore` keeps them in a JSON state file beside
 * the targets; a PostgreSQL store (airgap_deployments) implements the same interface.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { trustError } from '../lib/errors.js';
import { writeOutputFile } from '../lib/fs.js';
import { pidLock } from '../lib/pid-lock.js';

/** Name of the state file install keeps beside its targets (e.g. in the registry or Ollama store directory). */
export const INSTALLED_VERSIONS_FILE = 'kubechat-installed-versions.json';

export interface InstalledVersion {
  name: string;
  version: string;
  manifestDigest: string;
  installedAt: string;
  /** Overrides the operator passed (allow-unsigned, allow-expired, allow-downgrade). */
  overrides: string[];
}

export interface InstalledVersionStore {
  /** The highest version installed under `bundleName` (semver order), or undefined. */
  highest(bundleName: string): Promise<string | undefined>;
  record(entry: InstalledVersion): Promise<void>;
}

/** For checks outside an install (bundle verify): nothing is installed, nothing is recorded. */
export const NO_INSTALLED_VERSIONS: InstalledVersionStore = {
  highest: async () => undefined,
  record: async () => undefined,
};

/**
 * Several stores as one (the state file beside the targets and PostgreSQL): the highest version is
 * the highest any of them knows, so losing or rolling back one store does not reopen a rollback;
 * an install is recorded in all of them.
 */
export function combineVersionStores(stores: readonly InstalledVersionStore[]): InstalledVersionStore {
  return {
    async highest(bundleName) {
      const all = await Promise.all(stores.map((s) => s.highest(bundleName)));
      return all
        .filter((v): v is string => v !== undefined)
        .sort(compareVersions)
        .at(-1);
    },
    async record(entry) {
      for (const s of stores) await s.record(entry);
    },
  };
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Semantic Versioning 2.0.0 precedence: major.minor.patch numerically; a pre-release sorts before
 * its release (1.0.0-rc.1 < 1.0.0); pre-release identifiers compare numerically when both are
 * numeric, numeric before alphanumeric, otherwise in ASCII order, and a longer list wins a tie;
 * build metadata (+…) is ignored. A version that is not semver compares as a string after every
 * semver version (the manifest schema requires semver, so this only orders legacy state).
 */
export function compareVersions(a: string, b: string): number {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (!x || !y) return x ? -1 : y ? 1 : a < b ? -1 : a > b ? 1 : 0;
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return Math.sign(d);
  }
  const pa = x[4];
  const pb = y[4];
  if (pa === undefined || pb === undefined) return pa === pb ? 0 : pa === undefined ? 1 : -1;
  const ia = pa.split('.');
  const ib = pb.split('.');
  for (let i = 0; i < Math.min(ia.length, ib.length); i++) {
    const c = compareIdentifier(ia[i]!, ib[i]!);
    if (c !== 0) return c;
  }
  return Math.sign(ia.length - ib.length);
}

function compareIdentifier(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Math.sign(Number(a) - Number(b));
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface StateFile {
  schemaVersion: 1;
  installed: InstalledVersion[];
}

/** Installed versions in a JSON file (e.g. `<target>/.kubechat-installed.json`), replaced atomically. */
export class FileVersionStore implements InstalledVersionStore {
  constructor(readonly path: string) {}

  async #read(): Promise<StateFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 1, installed: [] };
      throw err;
    }
    try {
      const state = JSON.parse(text) as StateFile;
      if (state.schemaVersion !== 1 || !Array.isArray(state.installed)) throw new Error('shape');
      return state;
    } catch {
      // A state file we cannot read must not silently reset rollback protection.
      throw trustError(
        'downgrade',
        `${this.path}: installed-versions state file is corrupt, so rollback protection cannot be checked`,
        'restore it from backup, or remove it knowingly (this forgets which versions were installed)',
      );
    }
  }

  async highest(bundleName: string): Promise<string | undefined> {
    const versions = (await this.#read()).installed
      .filter((e) => e.name === bundleName)
      .map((e) => e.version);
    return versions.sort(compareVersions).at(-1);
  }

  /**
   * Read-modify-write under a pid lock, so two installs finishing at once both stay recorded. The
   * file lists each version installed (with its overrides) once: a re-run of the same bundle, with
   * the same overrides, finds it there and writes nothing.
   */
  async record(entry: InstalledVersion): Promise<void> {
    const same = (e: InstalledVersion) =>
      e.name === entry.name &&
      e.version === entry.version &&
      e.manifestDigest === entry.manifestDigest &&
      e.overrides.join() === entry.overrides.join();
    if ((await this.#read()).installed.some(same)) return;
    await mkdir(dirname(this.path), { recursive: true });
    const release = (await pidLock(`${this.path}.lock`, {
      fsError: (err, path) =>
        trustError(
          'downgrade',
          `${path}: cannot lock the installed-versions state (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
          'make the state directory writable (KUBECHAT_STATE_DIR)',
        ),
    }))!;
    try {
      const state = await this.#read();
      if (state.installed.some(same)) return;
      state.installed.push(entry);
      await writeOutputFile(this.path, JSON.stringify(state, null, 2) + '\n', 0o644, true);
    } finally {
      await release();
    }
  }
}
