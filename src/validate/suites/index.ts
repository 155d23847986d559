/**
 * Every suite, in the order reports list them (SUITES in ../types.ts). Each is loaded when a run
 * selects it: install's preflight needs neither the database driver (database suite), sigstore's
 * verifier (bundle suite) nor the file hashers (models suite), and loading them all would cost a
 * no-op install re-run a fifth of a second of start-up.
 */
import type { Suite } from '../context.js';
import { SUITES, type SuiteName } from '../types.js';

const LOADERS: Record<SuiteName, () => Promise<Suite>> = {
  preflight: async () => (await import('./preflight.js')).preflightSuite,
  bundle: async () => (await import('./bundle.js')).bundleSuite,
  registry: async () => (await import('./registry.js')).registrySuite,
  models: async () => (await import('./models.js')).modelsSuite,
  database: async () => (await import('./database.js')).databaseSuite,
  security: async () => (await import('./security.js')).securitySuite,
  airgap: async () => (await import('./airgap.js')).airgapSuite,
};

/** The suites named (all when none), in report order. */
export function loadSuites(names?: readonly SuiteName[]): Promise<Suite[]> {
  const wanted = new Set(names?.length ? names : SUITES);
  return Promise.all(SUITES.filter((n) => wanted.has(n)).map((n) => LOADERS[n]()));
}
