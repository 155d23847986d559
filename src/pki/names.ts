/**
 * Names a certificate may carry and the CA's name constraints (RFC 5280 4.2.1.10): DNS names under
 * the permitted domains, IP addresses inside the permitted ranges. Pure functions: `ca issue` checks
 * here before it signs anything, and the intermediate carries the same constraints so that a
 * certificate forged past kubechat is still refused by every verifier that honours them.
 */
import { isIP } from 'node:net';
import { caError } from '../lib/errors.js';

/** A permitted IP range: network address and mask, 4 or 16 bytes each. */
export interface IpRange {
  /** As written in ca.json and shown to the operator, normalised (10.0.0.0/8). */
  cidr: string;
  address: Buffer;
  mask: Buffer;
}

export interface NameConstraints {
  /** Permitted DNS subtrees, lower case, without a leading dot. */
  domains: string[];
  ips: IpRange[];
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** `name` as a DNS name a certificate may hold (lower case; a leading `*.` wildcard label allowed). */
export function parseDnsName(raw: string, allowWildcard = true): string {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  const body = allowWildcard && labels[0] === '*' && labels.length > 2 ? labels.slice(1) : labels;
  if (name.length === 0 || name.length > 253 || !body.every((l) => LABEL.test(l))) {
    throw caError(
      'caConstraint',
      `"${raw}" is not a valid DNS name`,
      'use letters, digits and hyphens in dot-separated labels (a wildcard only as the first label: *.apps.example)',
    );
  }
  return name;
}

/** A permitted domain (`--domains`): a DNS name; a leading dot is accepted and dropped. */
export function parseDomain(raw: string): string {
  return parseDnsName(raw.trim().replace(/^\./, ''), false);
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address, or undefined when `text` is neither. */
export function ipBytes(text: string): Buffer | undefined {
  const kind = isIP(text);
  if (kind === 4) return Buffer.from(text.split('.').map(Number));
  if (kind !== 6) return undefined;
  let s = text.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const b = v4.slice(1).map(Number);
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    s = `${s.slice(0, v4.index)}${hex(b[0]!, b[1]!)}:${hex(b[2]!, b[3]!)}`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const words = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const front = words(head);
  const back = words(rest);
  const fill = rest === undefined ? [] : new Array<number>(8 - front.length - back.length).fill(0);
  const all = [...front, ...fill, ...back];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** The text form of 4 or 16 address bytes (IPv6 in full, lower-case hex words, compressed by URL). */
export function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
  // URL parsing gives the canonical compressed form (RFC 5952).
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

export function parseIp(raw: string): Buffer {
  const bytes = ipBytes(raw.trim());
  if (!bytes)
    throw caError(
      'caConstraint',
      `"${raw}" is not an IP address`,
      'pass an IPv4 or IPv6 address to {flag:ip}',
    );
  return bytes;
}

/** `--ips` entry: CIDR (10.0.0.0/8, fd00::/8) or a single address (a /32 or /128). Host bits are cleared. */
export function parseCidr(raw: string): IpRange {
  const [addr, prefixText, extra] = raw.trim().split('/');
  const address = addr === undefined ? undefined : ipBytes(addr);
  const bits = address ? address.length * 8 : 0;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!address || extra !== undefined || !/^\d+$/.test(String(prefix)) || prefix > bits) {
    throw caError(
      'caConstraint',
      `"${raw}" is not an IP range`,
      'use CIDR notation, e.g. 10.0.0.0/8 or fd00::/8, or a single address',
    );
  }
  const mask = Buffer.alloc(address.length);
  for (let i = 0; i < prefix; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  const network = Buffer.from(address.map((b, i) => b & mask[i]!));
  return { cidr: `${ipText(network)}/${prefix}`, address: network, mask };
}

export function parseConstraints(domains: string[], ips: string[]): NameConstraints {
  return {
    domains: [...new Set(domains.map(parseDomain))],
    ips: [...new Map(ips.map(parseCidr).map((r) => [r.cidr, r])).values()],
  };
}

/** RFC 5280: a DNS constraint permits the domain itself and every name below it. */
export function dnsPermitted(name: string, domains: string[]): boolean {
  const n = name.startsWith('*.') ? name.slice(2) : name;
  return domains.some((d) => n === d || n.endsWith(`.${d}`));
}

export function ipPermitted(address: Buffer, ranges: IpRange[]): boolean {
  return ranges.some(
    (r) => r.address.length === address.length && address.every((b, i) => (b & r.mask[i]!) === r.address[i]),
  );
}

export interface SubjectNames {
  dns: string[];
  ips: string[];
}

/**
 * Validates and normalises a certificate's names and refuses any outside the constraints, naming
 * every offender at once. Needs at least one name: a certificate without SANs is useless to TLS.
 */
export function checkNames(dns: string[], ips: string[], constraints: NameConstraints): SubjectNames {
  const names = [...new Set(dns.map((d) => parseDnsName(d)))];
  const addresses = [...new Map(ips.map((i) => parseIp(i)).map((b) => [ipText(b), b])).entries()];
  if (names.length === 0 && addresses.length === 0)
    throw caError(
      'caConstraint',
      'a certificate needs at least one name',
      'pass {flag:dns} NAME and/or {flag:ip} ADDRESS',
    );
  const outside = [
    ...names.filter((n) => !dnsPermitted(n, constraints.domains)),
    ...addresses.filter(([, b]) => !ipPermitted(b, constraints.ips)).map(([t]) => t),
  ];
  if (outside.length) {
    const allowed = [...constraints.domains, ...constraints.ips.map((r) => r.cidr)].join(', ') || 'nothing';
    throw caError(
      'caConstraint',
      `${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside the CA's name constraints (${allowed})`,
      'issue names under the permitted domains and ranges, or create a CA that permits them (ca init --domains … --ips …)',
    );
  }
  return { dns: names, ips: addresses.map(([t]) => t) };
}
