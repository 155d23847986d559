/**
 * After issue: renewal past a fraction of the lifetime (same names, new key), revocation, the
 * CRL, and the inventory `ca list` shows. Planning what is due is pure (`renewalPlan`).
 */
import { caError } from '../lib/errors.js';
import {
  assertCaValid,
  commitChanges,
  current,
  DEFAULT_THRESHOLD,
  intermediateKey,
  mint,
  openCa,
  type Ca,
  type IssuedCert,
} from './ca.js';
import { DAY_MS, crlPem, makeCrl, subjectNames } from './certs.js';
import type { CertChange, CertDatabase } from './records.js';
import { readFile } from 'node:fs/promises';
import {
  FileBatch,
  leafPaths,
  loadState,
  stateText,
  withCaLock,
  type CaState,
  type CertRecord,
} from './store.js';
import { x509 } from './x509.js';

export const CRL_DAYS = 7;

/** How far through its lifetime a certificate is at `now` (0 at notBefore, 1 at notAfter). */
export function lifetimeUsed(r: Pick<CertRecord, 'notBefore' | 'notAfter'>, now: Date): number {
  const start = Date.parse(r.notBefore);
  const end = Date.parse(r.notAfter);
  return (now.getTime() - start) / (end - start);
}

/** "2/3", "0.5" or "80%" as a fraction in (0, 1]. */
export function parseThreshold(text: string): number {
  const t = text.trim();
  const m = /^(\d+)\/(\d+)$/.exec(t);
  const value = m ? Number(m[1]) / Number(m[2]) : t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!Number.isFinite(value) || value <= 0 || value > 1)
    throw caError(
      'caConstraint',
      `--threshold ${text}: not a fraction of the lifetime`,
      'use a fraction in (0, 1]: 2/3, 0.75 or 80%',
    );
  return value;
}

export interface DueCert {
  name: string;
  serial: string;
  notAfter: string;
  /** Fraction of the lifetime used, rounded to 3 places. */
  used: number;
}

export interface RenewalPlan {
  due: DueCert[];
  /** Named (or live) but not renewable: revoked ones. */
  skipped: Array<{ name: string; reason: 'revoked' }>;
}

/**
 * What renew would do: every live leaf (or those in `names`) past `threshold` of its lifetime,
 * all of them with `all`. Revoked certificates are never renewed.
 */
export function renewalPlan(
  state: CaState,
  options: { names: string[]; all: boolean; threshold: number; now: Date },
): RenewalPlan {
  const wanted = options.names.length ? options.names : [...new Set(state.certificates.map((c) => c.name))];
  const plan: RenewalPlan = { due: [], skipped: [] };
  for (const name of wanted) {
    const r = current(state, name);
    if (!r) throw caError('certNotFound', `no certificate named ${name}`, 'kubechat ca list shows the names');
    if (r.status === 'revoked') {
      plan.skipped.push({ name, reason: 'revoked' });
      continue;
    }
    const used = lifetimeUsed(r, options.now);
    if (options.all || used >= options.threshold)
      plan.due.push({ name, serial: r.serial, notAfter: r.notAfter, used: Math.round(used * 1000) / 1000 });
  }
  return plan;
}

export interface RenewOptions {
  dir: string;
  names: string[];
  all: boolean;
  threshold: number;
  /** Only report what is due. */
  check: boolean;
  now?: Date;
  database?: CertDatabase;
}

export interface RenewResult extends RenewalPlan {
  threshold: number;
  checked: number;
  renewed: IssuedCert[];
}

export async function renewCerts(options: RenewOptions): Promise<RenewResult> {
  const now = options.now ?? new Date();
  const ca = await openCa(options.dir);
  const checked = (s: CaState) =>
    new Set(
      s.certificates
        .filter((c) => c.status === 'active' && (!options.names.length || options.names.includes(c.name)))
        .map((c) => c.name),
    ).size;
  if (options.check) {
    const plan = renewalPlan(ca.state, { ...options, now });
    return { threshold: options.threshold, checked: checked(ca.state), renewed: [], ...plan };
  }
  return withCaLock(ca.paths, async () => {
    const fresh: Ca = { ...ca, state: await loadState(ca.paths) };
    const plan = renewalPlan(fresh.state, { ...options, now });
    const result: RenewResult = {
      threshold: options.threshold,
      checked: checked(fresh.state),
      renewed: [],
      ...plan,
    };
    if (plan.due.length === 0) return result;
    assertCaValid(fresh, now);
    const key = await intermediateKey(fresh);
    const batch = new FileBatch();
    const changes: CertChange[] = [];
    try {
      for (const d of plan.due) {
        const old = current(fresh.state, d.name)!;
        const { name, dns, ips, server, client, days } = old;
        const minted = await mint(fresh, key, { name, dns, ips, server, client, days }, batch, now);
        old.status = 'superseded';
        old.supersededBy = minted.record.serial;
        fresh.state.certificates.push(minted.record);
        const oldCert = await leafCertFromState(fresh, old);
        if (oldCert) changes.push({ op: 'status', name: d.name, cert: oldCert, status: 'superseded' });
        changes.push({
          op: 'add',
          name: d.name,
          kind: kindName(old),
          cert: minted.cert,
          keyPath: minted.result.files.key,
        });
        result.renewed.push(minted.result);
      }
      await batch.add(fresh.paths.state, stateText(fresh.state), 0o600);
      await commitChanges(batch, changes, options.database);
    } finally {
      await batch.abort();
    }
    return result;
  });
}

const kindName = (r: { server: boolean; client: boolean }) =>
  r.server && r.client ? ('server-client' as const) : r.server ? ('server' as const) : ('client' as const);

/** The certificate NAME.crt holds now, when it is the one `record` describes (for the database rows). */
async function leafCertFromState(ca: Ca, record: CertRecord): Promise<x509.X509Certificate | undefined> {
  const text = await readFile(leafPaths(ca.paths, record.name).cert, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  try {
    const cert = new x509.X509Certificate(text); // the first PEM block: the leaf
    return cert.serialNumber.toLowerCase() === record.serial ? cert : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------ revoke and CRL

export interface CrlResult {
  path: string;
  number: number;
  thisUpdate: string;
  nextUpdate: string;
  revoked: Array<{ name: string; serial: string; revokedAt: string }>;
}

async function signCrl(ca: Ca, batch: FileBatch, now: Date, days: number): Promise<CrlResult> {
  const key = await intermediateKey(ca);
  ca.state.crlNumber += 1;
  const revoked = ca.state.certificates.filter((c) => c.status === 'revoked');
  const crl = await makeCrl({
    intermediate: { cert: ca.intermediate, key },
    revoked: revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt ?? now) })),
    number: ca.state.crlNumber,
    now,
    days,
  });
  await batch.add(ca.paths.crl, crlPem(crl), 0o644);
  return {
    path: ca.paths.crl,
    number: ca.state.crlNumber,
    thisUpdate: now.toISOString(),
    nextUpdate: new Date(now.getTime() + days * DAY_MS).toISOString(),
    revoked: revoked.map((r) => ({
      name: r.name,
      serial: r.serial,
      revokedAt: r.revokedAt ?? now.toISOString(),
    })),
  };
}

export interface RevokeResult {
  name: string;
  serial: string;
  revokedAt: string;
  crl: CrlResult;
}

export async function revokeCert(options: {
  dir: string;
  name: string;
  now?: Date;
  database?: CertDatabase;
}): Promise<RevokeResult> {
  const now = options.now ?? new Date();
  const ca = await openCa(options.dir);
  return withCaLock(ca.paths, async () => {
    const fresh: Ca = { ...ca, state: await loadState(ca.paths) };
    const r = current(fresh.state, options.name);
    if (!r)
      throw caError(
        'certNotFound',
        `no certificate named ${options.name}`,
        'kubechat ca list shows the names',
      );
    if (r.status === 'revoked')
      throw caError(
        'certNotFound',
        `${options.name} (serial ${r.serial}) is already revoked`,
        'issue a new one with kubechat ca issue',
      );
    assertCaValid(fresh, now);
    const cert = await leafCertFromState(fresh, r);
    r.status = 'revoked';
    r.revokedAt = now.toISOString();
    const batch = new FileBatch();
    try {
      const crl = await signCrl(fresh, batch, now, CRL_DAYS);
      await batch.add(fresh.paths.state, stateText(fresh.state), 0o600);
      await commitChanges(
        batch,
        cert ? [{ op: 'status', name: r.name, cert, status: 'revoked' }] : [],
        options.database,
      );
      return { name: r.name, serial: r.serial, revokedAt: r.revokedAt, crl };
    } finally {
      await batch.abort();
    }
  });
}

/** Signs a fresh CRL (new number, thisUpdate now, nextUpdate after `days`). */
export async function writeCrl(options: { dir: string; days: number; now?: Date }): Promise<CrlResult> {
  const now = options.now ?? new Date();
  if (!Number.isInteger(options.days) || options.days < 1)
    throw caError(
      'caConstraint',
      `--days ${options.days}: a CRL lifetime is a whole number of days ≥ 1`,
      'pass {flag:days} 7',
    );
  const ca = await openCa(options.dir);
  return withCaLock(ca.paths, async () => {
    const fresh: Ca = { ...ca, state: await loadState(ca.paths) };
    assertCaValid(fresh, now);
    const batch = new FileBatch();
    try {
      const crl = await signCrl(fresh, batch, now, options.days);
      await batch.add(fresh.paths.state, stateText(fresh.state), 0o600);
      await batch.commit();
      return crl;
    } finally {
      await batch.abort();
    }
  });
}

// ------------------------------------------------------------------------------------------ list

export type ListStatus = 'valid' | 'renew-due' | 'expired' | 'not-yet-valid' | 'revoked' | 'superseded';

export interface ListedCert {
  name: string;
  kind: 'root-ca' | 'intermediate-ca' | 'server' | 'client' | 'server-client';
  serial: string;
  subject: string;
  issuer: string;
  dns: string[];
  ips: string[];
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  status: ListStatus;
}

export interface ListResult {
  dir: string;
  name: string;
  constraints: { domains: string[]; ips: string[] };
  rootKeyOffline: boolean;
  certificates: ListedCert[];
}

function statusAt(notBefore: string, notAfter: string, now: Date, threshold: number): ListStatus {
  if (now.getTime() < Date.parse(notBefore)) return 'not-yet-valid';
  if (now.getTime() > Date.parse(notAfter)) return 'expired';
  return lifetimeUsed({ notBefore, notAfter }, now) >= threshold ? 'renew-due' : 'valid';
}

export async function listCerts(options: {
  dir: string;
  all: boolean;
  threshold?: number;
  now?: Date;
}): Promise<ListResult> {
  const now = options.now ?? new Date();
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const ca = await openCa(options.dir);
  const days = (notAfter: string) => Math.floor((Date.parse(notAfter) - now.getTime()) / DAY_MS);
  const caCert = (
    name: string,
    kind: 'root-ca' | 'intermediate-ca',
    c: x509.X509Certificate,
  ): ListedCert => ({
    name,
    kind,
    serial: c.serialNumber.toLowerCase(),
    subject: c.subject,
    issuer: c.issuer,
    ...subjectNames(c),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    daysLeft: days(c.notAfter.toISOString()),
    status: now > c.notAfter ? 'expired' : now < c.notBefore ? 'not-yet-valid' : 'valid',
  });
  const leaves = ca.state.certificates
    .filter((c) => options.all || c.status !== 'superseded')
    .map((c): ListedCert => ({
      name: c.name,
      kind: kindName(c),
      serial: c.serial,
      subject: c.dns[0] ? `CN=${c.dns[0]}` : '',
      issuer: ca.intermediate.subject,
      dns: c.dns,
      ips: c.ips,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      daysLeft: days(c.notAfter),
      status: c.status === 'active' ? statusAt(c.notBefore, c.notAfter, now, threshold) : c.status,
    }));
  return {
    dir: ca.paths.dir,
    name: ca.state.name,
    constraints: ca.state.constraints,
    rootKeyOffline: ca.state.root.keyOffline,
    certificates: [
      caCert('root-ca', 'root-ca', ca.root),
      caCert('intermediate-ca', 'intermediate-ca', ca.intermediate),
      ...leaves,
    ],
  };
}
