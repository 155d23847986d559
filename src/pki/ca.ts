/**
 * The local CA's operations on its directory (init is in init.ts; renew, revoke, CRL and list in
 * lifecycle.ts): opening it, checking it, issuing. Each loads
 * ca.json, checks the CA is usable at `now`, plans the change (pure: names, dates, what is due),
 * signs, then commits files and database rows together (see store.ts and records.ts).
 */
import { mkdir } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { caError } from '../lib/errors.js';
import { BACKDATE_MS, DAY_MS, makeLeaf } from './certs.js';
import { keyMatches, loadPrivateKey, newKeyPair, plainKeyPem } from './keys.js';
import { checkNames, parseConstraints, type NameConstraints } from './names.js';
import type { CertChange, CertDatabase, CertKind } from './records.js';
import {
  caPaths,
  damaged,
  FileBatch,
  leafPaths,
  loadState,
  readText,
  stateText,
  withCaLock,
  type CaPaths,
  type CaState,
  type CertRecord,
} from './store.js';
import { x509 } from './x509.js';

export const ROOT_DAYS = 3650;
export const INTERMEDIATE_DAYS = 1825;
export const DEFAULT_LEAF_DAYS = 90;
export const DEFAULT_THRESHOLD = 2 / 3;
export const DEFAULT_DOMAINS = ['cluster.local', 'localhost'];
export const DEFAULT_IPS = ['127.0.0.0/8', '::1/128'];

/** A loaded CA: its directory, state and certificates. */
export interface Ca {
  paths: CaPaths;
  state: CaState;
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  constraints: NameConstraints;
}

export async function openCa(dir: string): Promise<Ca> {
  const paths = caPaths(dir);
  const state = await loadState(paths);
  const parse = async (path: string) => {
    try {
      return new x509.X509Certificate(await readText(path));
    } catch (err) {
      if (err instanceof Error && err.name === 'KubechatError') throw err;
      throw damaged(path, 'not a PEM certificate');
    }
  };
  return {
    paths,
    state,
    root: await parse(paths.rootCert),
    intermediate: await parse(paths.intermediateCert),
    constraints: parseConstraints(state.constraints.domains, state.constraints.ips),
  };
}

/** Refuses a root or intermediate that is not valid at `now` (exit 62). */
export function assertCaValid(ca: Ca, now: Date): void {
  for (const [what, cert] of [
    ['root', ca.root],
    ['intermediate', ca.intermediate],
  ] as const) {
    if (now < cert.notBefore)
      throw caError(
        'caExpired',
        `the ${what} CA certificate is not valid before ${cert.notBefore.toISOString()}`,
        'check this host’s clock',
      );
    if (now > cert.notAfter)
      throw caError(
        'caExpired',
        `the ${what} CA certificate expired on ${cert.notAfter.toISOString()}`,
        what === 'intermediate'
          ? 'kubechat ca rotate-intermediate (needs the root key and KUBECHAT_CA_PASSPHRASE)'
          : 'create a new CA with kubechat ca init --dir NEWDIR and distribute its root',
      );
  }
}

export async function intermediateKey(ca: Ca): Promise<KeyObject> {
  const key = loadPrivateKey(await readText(ca.paths.intermediateKey), ca.paths.intermediateKey);
  if (!keyMatches(key, ca.intermediate.publicKey.rawData))
    throw damaged(ca.paths.intermediateKey, 'does not belong to intermediate.pem');
  return key;
}

const kindOf = (r: { server: boolean; client: boolean }): CertKind =>
  r.server && r.client ? 'server-client' : r.server ? 'server' : 'client';

/** Runs `changes` + the file batch as one unit: with a database, inside its transaction. */
export async function commitChanges(
  batch: FileBatch,
  changes: CertChange[],
  database: CertDatabase | undefined,
): Promise<void> {
  try {
    if (database) await database.apply(changes, () => batch.commit());
    else await batch.commit();
  } finally {
    await batch.abort();
  }
}

// --------------------------------------------------------------------------------------- issue

export interface IssueOptions {
  dir: string;
  name: string;
  dns: string[];
  ips: string[];
  days: number;
  server: boolean;
  client: boolean;
  now?: Date;
  database?: CertDatabase;
}

export interface IssuedCert {
  name: string;
  serial: string;
  subject: string;
  issuer: string;
  dns: string[];
  ips: string[];
  server: boolean;
  client: boolean;
  notBefore: string;
  notAfter: string;
  files: { cert: string; key: string };
  /** E.g. the lifetime was cut to the intermediate's. */
  warnings: string[];
}

/** The live (not superseded) record of NAME, if any. */
export const current = (state: CaState, name: string) =>
  state.certificates.findLast((c) => c.name === name && c.status !== 'superseded');

interface Minted {
  record: CertRecord;
  cert: x509.X509Certificate;
  result: IssuedCert;
}

export async function mint(
  ca: Ca,
  issuerKey: KeyObject,
  spec: Pick<CertRecord, 'name' | 'dns' | 'ips' | 'server' | 'client' | 'days'>,
  batch: FileBatch,
  now: Date,
): Promise<Minted> {
  const files = leafPaths(ca.paths, spec.name);
  const keys = await newKeyPair();
  const warnings: string[] = [];
  let notAfter = now.getTime() + spec.days * DAY_MS;
  if (notAfter > ca.intermediate.notAfter.getTime()) {
    notAfter = ca.intermediate.notAfter.getTime();
    warnings.push(
      `${spec.name}: lifetime cut to the intermediate's, ${ca.intermediate.notAfter.toISOString()}`,
    );
  }
  const cert = await makeLeaf({
    intermediate: { cert: ca.intermediate, key: issuerKey },
    key: keys.privateKey,
    commonName: spec.dns[0] ?? spec.name,
    dns: spec.dns,
    ips: spec.ips,
    usage: { server: spec.server, client: spec.client },
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
  });
  await batch.add(files.key, plainKeyPem(keys.privateKey), 0o600);
  await batch.add(files.cert, `${cert.toString('pem')}\n${ca.intermediate.toString('pem')}\n`, 0o644);
  const record: CertRecord = {
    ...spec,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    status: 'active',
  };
  return {
    record,
    cert,
    result: {
      name: spec.name,
      serial: record.serial,
      subject: cert.subject,
      issuer: cert.issuer,
      dns: spec.dns,
      ips: spec.ips,
      server: spec.server,
      client: spec.client,
      notBefore: record.notBefore,
      notAfter: record.notAfter,
      files,
      warnings,
    },
  };
}

export async function issueCert(options: IssueOptions): Promise<IssuedCert> {
  const now = options.now ?? new Date();
  const ca = await openCa(options.dir);
  leafPaths(ca.paths, options.name);
  if (!Number.isInteger(options.days) || options.days < 1)
    throw caError(
      'caConstraint',
      `--days ${options.days}: a lifetime is a whole number of days ≥ 1`,
      'pass {flag:days} 90',
    );
  const server = options.server === true;
  const client = options.client === true;
  if (!server && !client)
    throw caError(
      'caConstraint',
      'the certificate would allow neither server nor client use',
      'drop --no-server, or add {flag:client}',
    );
  return withCaLock(ca.paths, async () => {
    const fresh = { ...ca, state: await loadState(ca.paths) };
    assertCaValid(fresh, now);
    const names = checkNames(options.dns, options.ips, fresh.constraints);
    const live = current(fresh.state, options.name);
    if (live?.status === 'active')
      throw caError(
        'caExists',
        `a certificate named ${options.name} is already issued (serial ${live.serial})`,
        `kubechat ca renew ${options.name} --all to replace it, or ca revoke ${options.name} first`,
      );
    const key = await intermediateKey(fresh);
    await mkdir(fresh.paths.certs, { recursive: true, mode: 0o700 });
    const batch = new FileBatch();
    try {
      const minted = await mint(
        fresh,
        key,
        { name: options.name, ...names, server, client, days: options.days },
        batch,
        now,
      );
      fresh.state.certificates.push(minted.record);
      await batch.add(fresh.paths.state, stateText(fresh.state), 0o600);
      await commitChanges(
        batch,
        [
          {
            op: 'add',
            name: options.name,
            kind: kindOf({ server, client }),
            cert: minted.cert,
            keyPath: minted.result.files.key,
          },
        ],
        options.database,
      );
      return minted.result;
    } finally {
      await batch.abort();
    }
  });
}
