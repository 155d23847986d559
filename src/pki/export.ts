/**
 * What leaves the CA directory: the trust bundle (root certificate) as PEM or a Kubernetes
 * ConfigMap, leaf certificates as `kubernetes.io/tls` Secrets (YAML files, 0600: they hold the
 * key), and the encrypted root key for offline keeping. Also the intermediate's rotation, the one
 * operation that needs the root key back.
 */
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { dump } from 'js-yaml';
import { caError } from '../lib/errors.js';
import { writeOutputFile } from '../lib/fs.js';
import { assertCaValid, current, INTERMEDIATE_DAYS, openCa } from './ca.js';
import { certInfo, requirePassphrase, type CaCertInfo } from './init.js';
import { crlPem, makeCrl, makeIntermediate } from './certs.js';
import { keyMatches, loadPrivateKey, newKeyPair, plainKeyPem } from './keys.js';
import type { CertDatabase } from './records.js';
import { FileBatch, leafPaths, loadState, readText, stateText, withCaLock } from './store.js';

export type ExportFormat = 'pem' | 'k8s-secret' | 'k8s-configmap';

export interface ExportOptions {
  dir: string;
  format: ExportFormat;
  out: string;
  /** k8s-secret: these certificates (default: every active one). */
  names: string[];
  namespace: string;
  force: boolean;
}

export interface ExportResult {
  format: ExportFormat;
  files: Array<{ path: string; kind: 'trust-bundle' | 'configmap' | 'secret'; name: string }>;
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export async function exportCa(options: ExportOptions): Promise<ExportResult> {
  const ca = await openCa(options.dir);
  const out = resolve(options.out);
  if (options.format !== 'pem' && !K8S_NAME.test(options.namespace))
    throw caError(
      'caConstraint',
      `--namespace ${options.namespace}: not a Kubernetes namespace name`,
      'use lower-case letters, digits and -',
    );
  const rootPem = await readText(ca.paths.rootCert);
  const result: ExportResult = { format: options.format, files: [] };
  if (options.format === 'pem') {
    const path = join(out, 'kubechat-ca.pem');
    await writeOutputFile(path, rootPem, 0o644, options.force);
    result.files.push({ path, kind: 'trust-bundle', name: 'kubechat-ca' });
    return result;
  }
  if (options.format === 'k8s-configmap') {
    const doc = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'kubechat-ca',
        namespace: options.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'kubechat' },
      },
      data: { 'ca.crt': rootPem },
    };
    const path = join(out, 'kubechat-ca.configmap.yaml');
    await writeOutputFile(path, dump(doc, { lineWidth: -1 }), 0o644, options.force);
    result.files.push({ path, kind: 'configmap', name: 'kubechat-ca' });
    return result;
  }
  const names = options.names.length
    ? options.names
    : [...new Set(ca.state.certificates.filter((c) => c.status === 'active').map((c) => c.name))];
  if (names.length === 0)
    throw caError(
      'certNotFound',
      'the CA has issued no certificate to export',
      'kubechat ca issue NAME --dns …',
    );
  // Check every name before writing any file.
  for (const name of names) {
    const r = current(ca.state, name);
    if (!r || r.status !== 'active')
      throw caError(
        'certNotFound',
        r ? `${name} is revoked` : `no certificate named ${name}`,
        'kubechat ca list shows the names',
      );
    if (!K8S_NAME.test(name.replace(/[._]/g, '-')))
      throw caError('caConstraint', `${name} cannot name a Kubernetes Secret`, 'export it as PEM');
  }
  for (const name of names) {
    const files = leafPaths(ca.paths, name);
    const secretName = `${name.replace(/[._]/g, '-')}-tls`;
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const doc = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: secretName,
        namespace: options.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'kubechat' },
      },
      data: {
        'tls.crt': b64(await readText(files.cert)),
        'tls.key': b64(await readText(files.key)),
        'ca.crt': b64(rootPem),
      },
    };
    const path = join(out, `${secretName}.secret.yaml`);
    await writeOutputFile(path, dump(doc, { lineWidth: -1 }), 0o600, options.force);
    result.files.push({ path, kind: 'secret', name: secretName });
  }
  return result;
}

// ---------------------------------------------------------------------------- the root key

export interface ExportRootKeyResult {
  out: string;
  /** True when root.key was removed from the CA directory (--offline-root). */
  offline: boolean;
  root: CaCertInfo;
}

/**
 * Copies the encrypted root key to `out` (e.g. removable media), after checking the passphrase
 * opens it and it belongs to root.pem, so nobody carries away a key they cannot use. With
 * `offline`, removes it from the CA directory: issuing and renewing need only the intermediate.
 */
export async function exportRootKey(options: {
  dir: string;
  out: string;
  offline: boolean;
  passphrase: string | undefined;
  force: boolean;
}): Promise<ExportRootKeyResult> {
  const passphrase = requirePassphrase(options.passphrase);
  const ca = await openCa(options.dir);
  if (ca.state.root.keyOffline)
    throw caError(
      'caPassphrase',
      `the root key of ${ca.paths.dir} is already offline`,
      'keep using the copy exported before',
    );
  const out = resolve(options.out);
  return withCaLock(ca.paths, async () => {
    const pem = await readText(ca.paths.rootKey);
    const key = loadPrivateKey(pem, ca.paths.rootKey, passphrase);
    if (!keyMatches(key, ca.root.publicKey.rawData))
      throw caError(
        'caState',
        `${ca.paths.rootKey} does not belong to root.pem`,
        'restore the CA directory from its backup',
      );
    await writeOutputFile(out, pem, 0o600, options.force);
    // Read back what landed: removable media lie.
    if ((await readFile(out, 'utf8')) !== pem) {
      await rm(out, { force: true });
      throw caError('caState', `${out}: the copy does not read back the same`, 'use other media');
    }
    if (options.offline) {
      const state = await loadState(ca.paths);
      state.root.keyOffline = true;
      const batch = new FileBatch();
      try {
        await batch.add(ca.paths.state, stateText(state), 0o600);
        await batch.commit();
      } finally {
        await batch.abort();
      }
      await rm(ca.paths.rootKey, { force: true });
    }
    return { out, offline: options.offline, root: await certInfo(ca.root) };
  });
}

export interface RotateResult {
  previous: CaCertInfo;
  intermediate: CaCertInfo;
}

/**
 * A new intermediate (new key, same name constraints) signed by the root key: from the CA
 * directory, or `rootKey` (the offline copy). Certificates issued by the old one stay valid until
 * they expire; renew them to move them to the new one.
 */
export async function rotateIntermediate(options: {
  dir: string;
  rootKey?: string;
  passphrase: string | undefined;
  now?: Date;
  database?: CertDatabase;
}): Promise<RotateResult> {
  const now = options.now ?? new Date();
  const passphrase = requirePassphrase(options.passphrase);
  const ca = await openCa(options.dir);
  const keyPath = options.rootKey ? resolve(options.rootKey) : ca.paths.rootKey;
  if (!options.rootKey && ca.state.root.keyOffline)
    throw caError(
      'caPassphrase',
      `the root key of ${ca.paths.dir} is offline`,
      'pass {flag:root-key} FILE with the exported copy',
    );
  return withCaLock(ca.paths, async () => {
    const state = await loadState(ca.paths);
    // The intermediate may well have expired (that is why it is rotated); the root must not have.
    if (now > ca.root.notAfter || now < ca.root.notBefore) assertCaValid(ca, now);
    const rootKey = loadPrivateKey(await readText(keyPath), keyPath, passphrase);
    if (!keyMatches(rootKey, ca.root.publicKey.rawData))
      throw caError(
        'caPassphrase',
        `${keyPath} is not the key of this CA's root`,
        'pass the root key exported from this CA',
      );
    const keys = await newKeyPair();
    const intermediate = await makeIntermediate({
      caName: state.name,
      root: { cert: ca.root, key: rootKey },
      key: keys.privateKey,
      constraints: ca.constraints,
      now,
      days: INTERMEDIATE_DAYS,
    });
    state.intermediate = {
      serial: intermediate.serialNumber.toLowerCase(),
      notAfter: intermediate.notAfter.toISOString(),
    };
    state.crlNumber += 1;
    const revoked = state.certificates.filter((c) => c.status === 'revoked');
    const crl = await makeCrl({
      intermediate: { cert: intermediate, key: keys.privateKey },
      revoked: revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt ?? now) })),
      number: state.crlNumber,
      now,
      days: 7,
    });
    const batch = new FileBatch();
    try {
      await batch.add(ca.paths.intermediateKey, plainKeyPem(keys.privateKey), 0o600);
      await batch.add(ca.paths.intermediateCert, intermediate.toString('pem') + '\n', 0o644);
      await batch.add(ca.paths.crl, crlPem(crl), 0o644);
      await batch.add(ca.paths.state, stateText(state), 0o600);
      const changes = [
        { op: 'add' as const, name: 'intermediate-ca', kind: 'intermediate-ca' as const, cert: intermediate },
      ];
      if (options.database) await options.database.apply(changes, () => batch.commit());
      else await batch.commit();
    } finally {
      await batch.abort();
    }
    return { previous: await certInfo(ca.intermediate), intermediate: await certInfo(intermediate) };
  });
}
