/**
 * The certificates the CA signs, as RFC 5280 profiles: a self-signed root (pathlen 1), an
 * intermediate (pathlen 0, name-constrained), leaves (serverAuth and/or clientAuth, SANs,
 * SKI/AKI), and the intermediate's CRL. Pure apart from the signing: dates come in as `now`.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  CRLNumber,
  GeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  NameConstraints as AsnNameConstraints,
  id_ce_cRLNumber,
  id_ce_nameConstraints,
} from '@peculiar/asn1-x509';
import { publicCryptoKey, SIGNING_ALGORITHM, signingKey } from './keys.js';
import type { NameConstraints } from './names.js';
import { x509 } from './x509.js';

export const DAY_MS = 86_400_000;
/** Leaves start 5 minutes in the past, so a client whose clock lags a little accepts them. */
export const BACKDATE_MS = 5 * 60_000;

/** A positive 127-bit serial (RFC 5280: at most 20 octets, unpredictable; CA/B asks for ≥ 64 random bits). */
export function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

const name = (cn: string, org?: string): x509.JsonName => [...(org ? [{ O: [org] }] : []), { CN: [cn] }];

export interface Issuer {
  cert: x509.X509Certificate;
  key: KeyObject;
}

export async function makeRoot(options: {
  caName: string;
  key: KeyObject;
  now: Date;
  days: number;
}): Promise<x509.X509Certificate> {
  const publicKey = publicCryptoKey(options.key);
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: name(`${options.caName} Root CA`, options.caName),
    issuer: name(`${options.caName} Root CA`, options.caName),
    notBefore: options.now,
    notAfter: new Date(options.now.getTime() + options.days * DAY_MS),
    publicKey,
    signingKey: signingKey(options.key),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
}

/** The nameConstraints extension (critical): permitted DNS subtrees and IP ranges. */
export function nameConstraintsExtension(constraints: NameConstraints): x509.Extension {
  const permitted = [
    ...constraints.domains.map((d) => new GeneralSubtree({ base: new GeneralName({ dNSName: d }) })),
    ...constraints.ips.map((r) => new GeneralSubtree({ base: new GeneralName({ iPAddress: r.cidr }) })),
  ];
  const value = new AsnNameConstraints({ permittedSubtrees: new GeneralSubtrees(permitted) });
  return new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(value));
}

export async function makeIntermediate(options: {
  caName: string;
  root: Issuer;
  key: KeyObject;
  constraints: NameConstraints;
  now: Date;
  days: number;
}): Promise<x509.X509Certificate> {
  const publicKey = publicCryptoKey(options.key);
  const notAfter = Math.min(
    options.now.getTime() + options.days * DAY_MS,
    options.root.cert.notAfter.getTime(),
  );
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: name(`${options.caName} Intermediate CA`, options.caName),
    issuer: options.root.cert.subjectName,
    notBefore: options.now,
    notAfter: new Date(notAfter),
    publicKey,
    signingKey: signingKey(options.root.key),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(options.root.cert.publicKey),
      nameConstraintsExtension(options.constraints),
    ],
  });
}

export interface LeafUsage {
  server: boolean;
  client: boolean;
}

export async function makeLeaf(options: {
  intermediate: Issuer;
  key: KeyObject;
  commonName: string;
  dns: string[];
  ips: string[];
  usage: LeafUsage;
  notBefore: Date;
  notAfter: Date;
}): Promise<x509.X509Certificate> {
  const publicKey = publicCryptoKey(options.key);
  const eku = [
    ...(options.usage.server ? [x509.ExtendedKeyUsage.serverAuth] : []),
    ...(options.usage.client ? [x509.ExtendedKeyUsage.clientAuth] : []),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    // Without a DNS SAN, OpenSSL checks a dotted CN against the DNS name constraints (a CN of
    // 127.0.0.1 fails them): such certificates get an empty subject and a critical SAN (RFC 5280 4.2.1.6).
    subject: options.dns.length ? name(options.commonName) : [],
    issuer: options.intermediate.cert.subjectName,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    publicKey,
    signingKey: signingKey(options.intermediate.key),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      new x509.SubjectAlternativeNameExtension(
        [
          ...options.dns.map((value) => ({ type: 'dns' as const, value })),
          ...options.ips.map((value) => ({ type: 'ip' as const, value })),
        ],
        options.dns.length === 0,
      ),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(options.intermediate.cert.publicKey),
    ],
  });
}

export interface Revocation {
  serial: string;
  revokedAt: Date;
}

export async function makeCrl(options: {
  intermediate: Issuer;
  revoked: Revocation[];
  number: number;
  now: Date;
  days: number;
}): Promise<x509.X509Crl> {
  return x509.X509CrlGenerator.create({
    issuer: options.intermediate.cert.subjectName,
    thisUpdate: options.now,
    nextUpdate: new Date(options.now.getTime() + options.days * DAY_MS),
    entries: options.revoked.map((r) => ({
      serialNumber: r.serial,
      revocationDate: r.revokedAt,
      reason: x509.X509CrlReason.unspecified,
    })),
    signingKey: signingKey(options.intermediate.key),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(options.intermediate.cert.publicKey),
      new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(options.number))),
    ],
  });
}

/** SANs of a certificate, split by kind. */
export function subjectNames(cert: x509.X509Certificate): { dns: string[]; ips: string[] } {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const items = san?.names.items ?? [];
  return {
    dns: items.filter((n) => n.type === 'dns').map((n) => n.value),
    ips: items.filter((n) => n.type === 'ip').map((n) => n.value),
  };
}

/** RFC 7468's label for a CRL ("X509 CRL"): OpenSSL reads no other. */
export function crlPem(crl: x509.X509Crl): string {
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}
