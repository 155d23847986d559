/**
 * The CA services in-process with the clock as a parameter: renewal exactly at the threshold, an
 * expired intermediate refused with nothing written, the root key envelope as OpenSSL reads it.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import { issueCert } from '../../src/pki/ca.js';
import { initCa } from '../../src/pki/init.js';
import { DAY_MS } from '../../src/pki/certs.js';
import { encryptedKeyPem, loadPrivateKey, newKeyPair } from '../../src/pki/keys.js';
import { parseThreshold, renewalPlan, renewCerts, revokeCert } from '../../src/pki/lifecycle.js';
import { servingCertSpecs } from '../../src/pki/serving.js';
import { loadState, caPaths } from '../../src/pki/store.js';
import { sh } from '../support/cli.js';

const PASSPHRASE = 'unit-test passphrase';
const T0 = new Date('2030-01-01T00:00:00Z');
let dir: string;

async function refusal(p: Promise<unknown>): Promise<KubechatError> {
  try {
    await p;
  } catch (err) {
    return err as KubechatError;
  }
  throw new Error('expected a refusal');
}

async function files(d: string) {
  const out: Record<string, string> = {};
  for (const n of (await readdir(d, { recursive: true })).sort())
    out[n] = await readFile(join(d, n), 'utf8').catch(() => 'dir');
  return out;
}

beforeAll(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'kubechat-ca-unit-')), 'ca');
  await initCa({
    dir,
    name: 'Unit',
    domains: ['cluster.local'],
    ips: ['10.0.0.0/8'],
    passphrase: PASSPHRASE,
    now: T0,
  });
  await issueCert({
    dir,
    name: 'api',
    dns: ['api.cluster.local'],
    ips: ['10.1.2.3'],
    days: 90,
    server: true,
    client: true,
    now: T0,
  });
});

describe('renewal threshold', () => {
  it('Given a 90-day certificate, Then it is not due just before 2/3 of its lifetime and due just after', async () => {
    const state = await loadState(caPaths(dir));
    const lifetime = 90 * DAY_MS + 5 * 60_000; // backdated 5 minutes
    const start = T0.getTime() - 5 * 60_000;
    const at = (fraction: number) => new Date(start + lifetime * fraction);
    const plan = (now: Date) =>
      renewalPlan(state, { names: [], all: false, threshold: 2 / 3, now }).due.map((d) => d.name);
    expect(plan(at(0.666))).toEqual([]);
    expect(plan(at(0.667))).toEqual(['api']);
    expect(plan(at(1.5))).toEqual(['api']); // expired: due too
    expect(parseThreshold('2/3')).toBeCloseTo(2 / 3);
    expect(parseThreshold('80%')).toBe(0.8);
    expect(() => parseThreshold('3/2')).toThrow(/not a fraction/);
  });

  it('When renewed past the threshold, Then the new certificate keeps names and usages with a new key and serial', async () => {
    const before = (await loadState(caPaths(dir))).certificates.find((c) => c.name === 'api')!;
    const oldKey = await readFile(join(dir, 'certs', 'api.key'), 'utf8');
    const now = new Date(T0.getTime() + 61 * DAY_MS);
    const r = await renewCerts({ dir, names: [], all: false, threshold: 2 / 3, check: false, now });
    expect(r.renewed.map((x) => [x.name, x.dns, x.ips, x.server, x.client])).toEqual([
      ['api', ['api.cluster.local'], ['10.1.2.3'], true, true],
    ]);
    expect(r.renewed[0]!.serial).not.toBe(before.serial);
    expect(r.renewed[0]!.notAfter).toBe(new Date(now.getTime() + 90 * DAY_MS).toISOString());
    expect(await readFile(join(dir, 'certs', 'api.key'), 'utf8')).not.toBe(oldKey);
    const after = await loadState(caPaths(dir));
    expect(after.certificates.filter((c) => c.name === 'api').map((c) => c.status)).toEqual([
      'superseded',
      'active',
    ]);
    const v = await sh(
      `openssl verify -attime ${Math.floor(now.getTime() / 1000) + 60} -CAfile root.pem -untrusted intermediate.pem certs/api.crt`,
      dir,
    );
    expect(v.stdout, v.stderr).toContain(': OK');
  });
});

describe('an expired intermediate', () => {
  it('Then issue, renew and revoke refuse with exit 62 and a fix, and nothing in the CA directory changes', async () => {
    const later = new Date(T0.getTime() + 6 * 365 * DAY_MS);
    const before = await files(dir);
    const issue = await refusal(
      issueCert({
        dir,
        name: 'late',
        dns: ['late.cluster.local'],
        ips: [],
        days: 30,
        server: true,
        client: false,
        now: later,
      }),
    );
    expect(issue.exitCode).toBe(62);
    expect(issue.message).toMatch(/intermediate CA certificate expired on 2034/);
    expect(issue.fix).toContain('ca rotate-intermediate');
    const renew = await refusal(
      renewCerts({ dir, names: [], all: true, threshold: 2 / 3, check: false, now: later }),
    );
    expect(renew.exitCode).toBe(62);
    expect((await refusal(revokeCert({ dir, name: 'api', now: later }))).exitCode).toBe(62);
    expect(await files(dir)).toEqual(before);
  });

  it('Then a leaf asked to outlive the intermediate is cut to its expiry, with a warning', async () => {
    const nearEnd = new Date(T0.getTime() + (5 * 365 - 10) * DAY_MS);
    const r = await issueCert({
      dir,
      name: 'edge',
      dns: ['edge.cluster.local'],
      ips: [],
      days: 90,
      server: true,
      client: false,
      now: nearEnd,
    });
    const state = await loadState(caPaths(dir));
    expect(r.notAfter).toBe(state.intermediate.notAfter);
    expect(r.warnings.join()).toContain('cut to the intermediate');
  });
});

describe('the root key envelope', () => {
  it('Then OpenSSL and Node open it with the passphrase only; a wrong one is exit 61', async () => {
    const { privateKey } = await newKeyPair();
    const pem = await encryptedKeyPem(privateKey, 'pässwörd with spaces');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const parsed = await sh(
      `printf '%s' '${pem}' | openssl asn1parse -i | grep -E ':scrypt|aes-256-cbc|PBES2'`,
    );
    expect(parsed.stdout).toMatch(/PBES2[\s\S]*:scrypt[\s\S]*aes-256-cbc/);
    const opened = loadPrivateKey(pem, 'test.key', 'pässwörd with spaces');
    expect(opened.export({ format: 'der', type: 'pkcs8' })).toEqual(
      privateKey.export({ format: 'der', type: 'pkcs8' }),
    );
    expect(() => loadPrivateKey(pem, 'test.key', 'wrong')).toThrow(/wrong CA passphrase/);
    const missing = (() => {
      try {
        loadPrivateKey(pem, 'test.key');
      } catch (err) {
        return err as KubechatError;
      }
    })();
    expect(missing?.exitCode).toBe(61);
    expect(createPrivateKey({ key: pem, passphrase: 'pässwörd with spaces' }).asymmetricKeyType).toBe('ec');
  });
});

describe('install --issue-certs names', () => {
  it('Then the registry certificate names the --registry host, the ollama one every --ollama host; an OCI layout gets none', () => {
    expect(
      servingCertSpecs('registry.airgap.example:5443', [
        'http://10.0.0.7:11434',
        'https://gpu2.cluster.local',
        'http://[fd00::7]:11434',
        'http://10.0.0.7:11435',
      ]),
    ).toEqual([
      { name: 'registry', dns: ['registry.airgap.example'], ips: [] },
      { name: 'ollama', dns: ['gpu2.cluster.local'], ips: ['10.0.0.7', 'fd00::7'] },
    ]);
    expect(servingCertSpecs('127.0.0.1:5000', [])).toEqual([
      { name: 'registry', dns: [], ips: ['127.0.0.1'] },
    ]);
    expect(servingCertSpecs('oci:/srv/images', [])).toEqual([]);
  });
});
