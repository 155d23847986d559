/**
 * `ca init`: a new CA directory, root (10 years, pathlen 1) and name-constrained intermediate
 * (5 years, pathlen 0), written into a staging directory that is renamed into place.
 */
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { caError, outputError } from '../lib/errors.js';
import { onInterrupt } from '../lib/interrupt.js';
import { silentReporter, type Reporter } from '../lib/progress.js';
import { INTERMEDIATE_DAYS, ROOT_DAYS } from './ca.js';
import { crlPem, makeCrl, makeIntermediate, makeRoot } from './certs.js';
import { encryptedKeyPem, MIN_PASSPHRASE_LENGTH, newKeyPair, plainKeyPem } from './keys.js';
import { parseConstraints } from './names.js';
import type { CertChange, CertDatabase } from './records.js';
import { caPaths, exists, FileBatch, newState, stateText } from './store.js';
import type { x509 } from './x509.js';

export interface InitOptions {
  dir: string;
  name: string;
  domains: string[];
  ips: string[];
  passphrase: string | undefined;
  now?: Date;
  database?: CertDatabase;
  reporter?: Reporter;
}

export interface CaCertInfo {
  subject: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** sha256 of the DER, hex: what an operator compares when distributing the root. */
  sha256: string;
}

export interface InitResult {
  dir: string;
  name: string;
  constraints: { domains: string[]; ips: string[] };
  root: CaCertInfo;
  intermediate: CaCertInfo;
  files: {
    rootCert: string;
    rootKey: string;
    intermediateCert: string;
    intermediateKey: string;
    crl: string;
  };
}

export async function certInfo(cert: x509.X509Certificate): Promise<CaCertInfo> {
  return {
    subject: cert.subject,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    sha256: Buffer.from(await cert.getThumbprint('SHA-256')).toString('hex'),
  };
}

export function requirePassphrase(passphrase: string | undefined): string {
  if (!passphrase)
    throw caError(
      'caPassphrase',
      'the root CA key needs a passphrase: KUBECHAT_CA_PASSPHRASE (or KUBECHAT_CA_PASSPHRASE_FILE) is not set',
      'export KUBECHAT_CA_PASSPHRASE (or point KUBECHAT_CA_PASSPHRASE_FILE at a file holding it)',
    );
  return passphrase;
}

export async function initCa(options: InitOptions): Promise<InitResult> {
  const passphrase = requirePassphrase(options.passphrase);
  if ([...passphrase].length < MIN_PASSPHRASE_LENGTH)
    throw caError(
      'caPassphrase',
      `the CA passphrase is shorter than ${MIN_PASSPHRASE_LENGTH} characters`,
      'choose a longer passphrase: the root key may travel on removable media',
    );
  const name = options.name.trim();
  if (!name || name.length > 64)
    throw caError(
      'caConstraint',
      'the CA name must be 1 to 64 characters',
      'pass {flag:name} "KubeChat Air-gap"',
    );
  const constraints = parseConstraints(options.domains, options.ips);
  if (constraints.domains.length === 0 && constraints.ips.length === 0)
    throw caError('caConstraint', 'the CA would permit no names', 'pass {flag:domains} and/or {flag:ips}');
  const paths = caPaths(options.dir);
  if (await exists(paths.state))
    throw caError('caExists', `${paths.dir} already holds a CA`, 'use it, or choose another {flag:ca-dir}');
  const entries = await readdir(paths.dir).catch(() => undefined);
  if (entries && entries.length > 0)
    throw outputError(`${paths.dir} is not empty`, 'choose an empty or new directory with {flag:ca-dir}');

  const now = options.now ?? new Date();
  const reporter = options.reporter ?? silentReporter;
  reporter.emit({ task: 'ca', title: 'Signing the root and intermediate CA certificates' });
  const rootKeys = await newKeyPair();
  const root = await makeRoot({ caName: name, key: rootKeys.privateKey, now, days: ROOT_DAYS });
  const intKeys = await newKeyPair();
  const intermediate = await makeIntermediate({
    caName: name,
    root: { cert: root, key: rootKeys.privateKey },
    key: intKeys.privateKey,
    constraints,
    now,
    days: INTERMEDIATE_DAYS,
  });
  const state = newState({
    name,
    created: now.toISOString(),
    constraints: { domains: constraints.domains, ips: constraints.ips.map((r) => r.cidr) },
    root: {
      serial: root.serialNumber.toLowerCase(),
      notAfter: root.notAfter.toISOString(),
      keyOffline: false,
    },
    intermediate: {
      serial: intermediate.serialNumber.toLowerCase(),
      notAfter: intermediate.notAfter.toISOString(),
    },
  });
  state.crlNumber = 1;
  const crl = await makeCrl({
    intermediate: { cert: intermediate, key: intKeys.privateKey },
    revoked: [],
    number: 1,
    now,
    days: 7,
  });

  // Everything is written into a sibling directory, which is renamed into place at the end.
  const staging = `${paths.dir}.partial-${process.pid}`;
  const tmp = caPaths(staging);
  await mkdir(dirname(paths.dir), { recursive: true });
  await rm(staging, { recursive: true, force: true });
  const release = onInterrupt(() => rm(staging, { recursive: true, force: true }));
  try {
    reporter.emit({ task: 'ca', title: `Writing ${paths.dir} (root key encrypted with the passphrase)` });
    await mkdir(staging, { mode: 0o700 });
    await mkdir(tmp.certs, { mode: 0o700 });
    const batch = new FileBatch();
    await batch.add(tmp.rootKey, await encryptedKeyPem(rootKeys.privateKey, passphrase), 0o600);
    await batch.add(tmp.intermediateKey, plainKeyPem(intKeys.privateKey), 0o600);
    await batch.add(tmp.rootCert, root.toString('pem') + '\n', 0o644);
    await batch.add(tmp.intermediateCert, intermediate.toString('pem') + '\n', 0o644);
    await batch.add(tmp.crl, crlPem(crl), 0o644);
    await batch.add(tmp.state, stateText(state), 0o600);
    await batch.commit();
    const move = async () => {
      if (entries) await rmdir(paths.dir); // empty: checked above
      await rename(staging, paths.dir);
    };
    const changes: CertChange[] = [
      { op: 'add', name: 'root-ca', kind: 'root-ca', cert: root },
      { op: 'add', name: 'intermediate-ca', kind: 'intermediate-ca', cert: intermediate },
    ];
    if (options.database) await options.database.apply(changes, move);
    else await move();
  } finally {
    release();
    await rm(staging, { recursive: true, force: true });
  }
  return {
    dir: paths.dir,
    name,
    constraints: state.constraints,
    root: await certInfo(root),
    intermediate: await certInfo(intermediate),
    files: {
      rootCert: paths.rootCert,
      rootKey: paths.rootKey,
      intermediateCert: paths.intermediateCert,
      intermediateKey: paths.intermediateKey,
      crl: paths.crl,
    },
  };
}
