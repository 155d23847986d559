/**
 * `install --issue-certs`: the serving certificates of the registry and the Ollama servers the
 * install names, issued from the local CA in one step. Planned before the install touches
 * anything (the CA must exist and permit the names), issued after it succeeded. Idempotent: a
 * live certificate with the same names that is not due for renewal is kept; a due one is renewed.
 */
import { caError } from '../lib/errors.js';
import { assertCaValid, current, DEFAULT_LEAF_DAYS, DEFAULT_THRESHOLD, issueCert, openCa } from './ca.js';
import { lifetimeUsed, renewCerts } from './lifecycle.js';
import { checkNames, ipBytes } from './names.js';
import { withCertDatabase, type CertDatabase } from './records.js';
import { defaultCaDir, leafPaths } from './store.js';

export interface ServingCertSpec {
  name: 'registry' | 'ollama';
  dns: string[];
  ips: string[];
}

export interface ServingCert {
  name: string;
  action: 'issued' | 'renewed' | 'kept';
  serial: string;
  dns: string[];
  ips: string[];
  notAfter: string;
  cert: string;
  key: string;
}

/** The host of `HOST[:PORT]` or of a URL, split into a DNS name or an IP address. */
function hostOf(text: string): { dns?: string; ip?: string } {
  let host: string;
  try {
    host = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`).hostname;
  } catch {
    throw caError('caConstraint', `cannot take a host name from ${text}`, 'pass HOST[:PORT] or a URL');
  }
  const bare = host.replace(/^\[|\]$/g, '');
  return ipBytes(bare) ? { ip: bare } : { dns: bare };
}

/** Which certificates an install with this registry and these Ollama URLs needs. */
export function servingCertSpecs(registry: string | undefined, ollama: string[]): ServingCertSpec[] {
  const specs: ServingCertSpec[] = [];
  const collect = (hosts: Array<{ dns?: string; ip?: string }>) => ({
    dns: [...new Set(hosts.flatMap((h) => (h.dns ? [h.dns] : [])))],
    ips: [...new Set(hosts.flatMap((h) => (h.ip ? [h.ip] : [])))],
  });
  if (registry && !registry.startsWith('oci:'))
    specs.push({ name: 'registry', ...collect([hostOf(registry)]) });
  if (ollama.length) specs.push({ name: 'ollama', ...collect(ollama.map(hostOf)) });
  return specs;
}

/**
 * Checks, without writing, that the CA at `dir` can issue `specs` now: it exists, is valid, permits
 * the names, and any existing certificate of the same name has the same names.
 */
export async function planServingCerts(
  dir: string,
  specs: ServingCertSpec[],
  now = new Date(),
): Promise<void> {
  if (specs.length === 0)
    throw caError(
      'caConstraint',
      '--issue-certs: no registry or Ollama server to issue for',
      'pass {flag:registry} HOST:PORT and/or {flag:ollama} URL',
    );
  const ca = await openCa(dir);
  assertCaValid(ca, now);
  for (const s of specs) {
    const names = checkNames(s.dns, s.ips, ca.constraints);
    const live = current(ca.state, s.name);
    if (live?.status === 'active' && !sameNames(live, names))
      throw caError(
        'caExists',
        `the CA already has a ${s.name} certificate for ${[...live.dns, ...live.ips].join(', ')}, not ${[...names.dns, ...names.ips].join(', ')}`,
        `kubechat ca revoke ${s.name} first, then install again`,
      );
  }
}

const sameNames = (a: { dns: string[]; ips: string[] }, b: { dns: string[]; ips: string[] }) =>
  [...a.dns].sort().join() === [...b.dns].sort().join() &&
  [...a.ips].sort().join() === [...b.ips].sort().join();

export async function issueServingCerts(
  dir: string,
  specs: ServingCertSpec[],
  database?: CertDatabase,
  now = new Date(),
): Promise<ServingCert[]> {
  const out: ServingCert[] = [];
  for (const s of specs) {
    const ca = await openCa(dir);
    const live = current(ca.state, s.name);
    if (live?.status === 'active') {
      if (lifetimeUsed(live, now) < DEFAULT_THRESHOLD) {
        const files = leafPaths(ca.paths, s.name);
        out.push({
          name: s.name,
          action: 'kept',
          serial: live.serial,
          dns: live.dns,
          ips: live.ips,
          notAfter: live.notAfter,
          ...files,
        });
        continue;
      }
      const r = await renewCerts({
        dir,
        names: [s.name],
        all: true,
        threshold: DEFAULT_THRESHOLD,
        check: false,
        now,
        database,
      });
      const n = r.renewed[0]!;
      out.push({
        name: s.name,
        action: 'renewed',
        serial: n.serial,
        dns: n.dns,
        ips: n.ips,
        notAfter: n.notAfter,
        ...n.files,
      });
      continue;
    }
    const n = await issueCert({
      dir,
      name: s.name,
      dns: s.dns,
      ips: s.ips,
      days: DEFAULT_LEAF_DAYS,
      server: true,
      client: false,
      now,
      database,
    });
    out.push({
      name: s.name,
      action: 'issued',
      serial: n.serial,
      dns: n.dns,
      ips: n.ips,
      notAfter: n.notAfter,
      ...n.files,
    });
  }
  return out;
}

/**
 * For install: plans now (refusing before the install touches anything) and returns `issue`, to
 * run once the install succeeded. `databaseUrl` records the certificates there too.
 */
export async function prepareServingCerts(options: {
  dir?: string;
  registry?: string;
  ollama: string[];
  databaseUrl?: string;
}): Promise<{ issue(): Promise<ServingCert[]> }> {
  const dir = options.dir ?? defaultCaDir();
  const specs = servingCertSpecs(options.registry, options.ollama);
  await planServingCerts(dir, specs);
  return {
    issue: async () =>
      (await withCertDatabase(options.databaseUrl, undefined, (db) => issueServingCerts(dir, specs, db)))
        .result,
  };
}
