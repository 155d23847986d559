/**
 * `kubechat ca …` as an operator runs it, checked by tools nobody here wrote: `openssl verify`
 * (chain, name constraints, CRL), `openssl x509/crl/pkey`, `openssl s_client` against
 * `kubechat registry serve` and a real docker-registry serving our certificate, `skopeo inspect
 * --cert-dir`. Bad input leaves the CA directory byte-for-byte as it was. No private key or
 * passphrase appears in any output or database row.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbMigrate } from '../../src/services/db.js';
import { kubechat, sh, type CliResult } from '../support/cli.js';
import { conforms } from '../support/install-fixture.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { startServe } from '../support/serve.js';

const PASSPHRASE = 'tr0ub4dor&3-correct-horse';
let work: string;
let db: TestDatabase;
const outputs: CliResult[] = [];
const registries: TestRegistry[] = [];

async function ca(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const r = await kubechat(['ca', ...args], {
    env: { KUBECHAT_CA_DIR: dir, KUBECHAT_CA_PASSPHRASE: PASSPHRASE, KUBECHAT_DATABASE_URL: '', ...env },
  });
  outputs.push(r);
  return r;
}

/** Every file under `dir` with its mode and sha256: a failed command must leave this unchanged. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const p = join(dir, name);
    const s = await stat(p);
    out[name] = s.isDirectory()
      ? `dir ${(s.mode & 0o777).toString(8)}`
      : `${(s.mode & 0o777).toString(8)} ${createHash('sha256')
          .update(await readFile(p))
          .digest('hex')}`;
  }
  return out;
}

/** A signed-free bundle holding the one-image layout at work/app (written by the TLS tests). */
async function appBundle(name: string): Promise<string> {
  const spec = join(work, `${name}.yaml`);
  await writeFile(
    spec,
    [
      'apiVersion: kubechat.io/v1',
      'kind: Bundle',
      `metadata: {name: ${name}, version: 1.0.0}`,
      'spec:',
      '  platforms: [linux/amd64]',
      '  images:',
      `    - {ref: "demo/app:1.0", from: "oci:${join(work, 'app')}:1.0"}`,
    ].join('\n') + '\n',
  );
  const created = await kubechat(['bundle', 'create', '-f', spec, '-o', join(work, `${name}-out`), '--json']);
  expect(created.code, created.stderr).toBe(0);
  return (JSON.parse(created.stdout) as { bundle: string }).bundle;
}

const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);
const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kubechat-ca-'));
  process.env.PW = PASSPHRASE; // for openssl -passin env:PW
  await writeOciLayout(join(work, 'app'), { tag: '1.0', layers: [{ size: 2048, seed: 'tls' }] });
  db = await freshDatabase('kc_ca');
  await dbMigrate({ url: db.url });
});

afterAll(async () => {
  await Promise.all(registries.map((r) => r.stop()));
  await db?.drop();
});

describe('ca init and ca issue', () => {
  let dir: string;

  beforeAll(async () => {
    dir = join(work, 'main');
    const r = await ca(dir, [
      'init',
      '--name',
      'KubeChat Test',
      '--domains',
      'cluster.local,localhost',
      '--ips',
      '127.0.0.0/8',
      '--database-url',
      db.url,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'ca-init');
  });

  it('Then the root is a 10-year pathlen-1 CA and the intermediate a 5-year pathlen-0 CA constrained to the names', async () => {
    const root = await sh(`openssl x509 -in root.pem -noout -text -dates`, dir);
    expect(root.stdout).toMatch(/CA:TRUE, pathlen:1/);
    expect(root.stdout).toMatch(/ASN1 OID: prime256v1/);
    expect(root.stdout).toMatch(/Certificate Sign, CRL Sign/);
    const years = (out: string) => {
      const from = Date.parse(/notBefore=(.*)/.exec(out)![1]!);
      const to = Date.parse(/notAfter=(.*)/.exec(out)![1]!);
      return Math.round((to - from) / (365.25 * 86_400_000));
    };
    expect(years(root.stdout)).toBe(10);
    const int = await sh(`openssl x509 -in intermediate.pem -noout -text -dates`, dir);
    expect(int.stdout).toMatch(/CA:TRUE, pathlen:0/);
    expect(int.stdout).toMatch(
      /Name Constraints: critical\s+Permitted:\s+DNS:cluster.local\s+DNS:localhost\s+IP:127.0.0.0\/255.0.0.0/,
    );
    expect(years(int.stdout)).toBe(5);
    expect((await sh(`openssl verify -CAfile root.pem intermediate.pem`, dir)).stdout).toContain('OK');
  });

  it('Then the keys are 0600, and the root key opens with the passphrase only', async () => {
    expect(await mode(join(dir, 'root.key'))).toBe('600');
    expect(await mode(join(dir, 'intermediate.key'))).toBe('600');
    expect(await readFile(join(dir, 'root.key'), 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    const ok = await sh(`openssl pkey -in root.key -passin env:PW -noout`, dir);
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await sh(`PW=nope-nope openssl pkey -in root.key -passin env:PW -noout`, dir);
    expect(wrong.code).not.toBe(0);
  });

  it('When a server certificate is issued, Then openssl verifies it with root.pem and intermediate.pem', async () => {
    const r = await ca(dir, [
      'issue',
      'web',
      '--dns',
      'web.cluster.local,localhost',
      '--ip',
      '127.0.0.1',
      '--days',
      '30',
      '--database-url',
      db.url,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'ca-issue');
    const crt = join(dir, 'certs', 'web.crt');
    const v = await sh(`openssl verify -CAfile root.pem -untrusted intermediate.pem '${crt}'`, dir);
    expect(v.stdout, v.stderr).toContain(': OK');
    // NAME.crt is the leaf followed by the intermediate, as a TLS server sends it.
    expect((await readFile(crt, 'utf8')).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(await mode(join(dir, 'certs', 'web.key'))).toBe('600');
    const text = (await sh(`openssl x509 -in '${crt}' -noout -text -dates`)).stdout;
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(/DNS:web.cluster.local, DNS:localhost, IP Address:127.0.0.1/);
    expect(text).toMatch(/Subject Key Identifier/);
    expect(text).toMatch(/Authority Key Identifier/);
    const issued = JSON.parse(r.stdout) as { notBefore: string; notAfter: string };
    const notBefore = Date.parse(/notBefore=(.*)/.exec(text)![1]!);
    // Backdated 5 minutes from the moment of issue (which was within the last minutes).
    expect(Date.now() - notBefore).toBeGreaterThanOrEqual(5 * 60_000);
    expect(Date.parse(issued.notAfter) - notBefore).toBe(30 * 86_400_000 + 5 * 60_000);
  });

  it('When a client certificate is issued, Then it carries clientAuth and verifies for that purpose', async () => {
    const r = await ca(dir, [
      'issue',
      'operator',
      '--dns',
      'operator.cluster.local',
      '--client',
      '--no-server',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const crt = join(dir, 'certs', 'operator.crt');
    const text = (await sh(`openssl x509 -in '${crt}' -noout -ext extendedKeyUsage`)).stdout;
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).not.toContain('Server');
    const v = await sh(
      `openssl verify -purpose sslclient -CAfile root.pem -untrusted intermediate.pem '${crt}'`,
      dir,
    );
    expect(v.stdout).toContain(': OK');
  });

  it('Given names outside the constraints, Then kubechat refuses (exit 63) and writes nothing', async () => {
    const before = await snapshot(dir);
    const r = await ca(dir, ['issue', 'evil', '--dns', 'evil.example.com', '--ip', '10.1.2.3']);
    expect(r.code).toBe(63);
    expect(r.stderr).toContain("evil.example.com, 10.1.2.3 are outside the CA's name constraints");
    expect(r.stderr).toMatch(/^fix: /m);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('Given a leaf signed with the intermediate key past kubechat, Then openssl rejects its SAN outside the constraints', async () => {
    const forged = join(work, 'forged');
    await mkdir(forged);
    await writeFile(
      join(forged, 'ext.cnf'),
      'basicConstraints=CA:FALSE\nsubjectAltName=DNS:evil.example.com\n',
    );
    const r = await sh(
      [
        'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -subj /CN=evil.example.com -out leaf.csr 2>/dev/null',
        `openssl x509 -req -in leaf.csr -CA '${dir}/intermediate.pem' -CAkey '${dir}/intermediate.key' -CAcreateserial -days 1 -extfile ext.cnf -out leaf.crt 2>/dev/null`,
      ].join(' && '),
      forged,
    );
    expect(r.code, r.stderr).toBe(0);
    const v = await sh(
      `openssl verify -CAfile '${dir}/root.pem' -untrusted '${dir}/intermediate.pem' leaf.crt`,
      forged,
    );
    expect(v.code).not.toBe(0);
    expect(v.stdout + v.stderr).toMatch(/permitted subtree violation/);
  });

  it('Given a name already issued, Then exit 69; given a bad NAME, Then exit 63', async () => {
    const again = await ca(dir, ['issue', 'web', '--dns', 'web.cluster.local']);
    expect(again.code).toBe(69);
    expect(again.stderr).toContain('ca renew web');
    const bad = await ca(dir, ['issue', '../escape', '--dns', 'web.cluster.local']);
    expect(bad.code).toBe(63);
  });

  it('Then ca list shows every certificate with names, issuer, days left and status, and conforms to its schema', async () => {
    const r = await ca(dir, ['list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'ca-list');
    const list = JSON.parse(r.stdout) as {
      certificates: Array<{ name: string; status: string; daysLeft: number; dns: string[]; issuer: string }>;
    };
    const web = list.certificates.find((c) => c.name === 'web')!;
    expect(web).toMatchObject({ status: 'valid', daysLeft: 29, dns: ['web.cluster.local', 'localhost'] });
    expect(web.issuer).toContain('Intermediate CA');
    expect(list.certificates.map((c) => c.name)).toEqual(['root-ca', 'intermediate-ca', 'web', 'operator']);
    const human = await ca(dir, ['list']);
    expect(human.stdout).toMatch(/^web\s+valid\s+29\s+/m);
  });

  it('Then the database holds the certificates (PEM of the certificate only), never key material', async () => {
    const rows = await db.pool.query<{ cert_name: string; cert_type: string; pem_data: string }>(
      `SELECT cert_name, cert_type, pem_data FROM airgap_certificates ORDER BY created_at, cert_name`,
    );
    expect(rows.rows.map((r) => `${r.cert_name}:${r.cert_type}`).sort()).toEqual([
      'intermediate-ca:intermediate-ca',
      'root-ca:root-ca',
      'web:server',
    ]);
    const local = await db.pool.query<{ pem_data: string; private_key_path: string; status: string }>(
      `SELECT pem_data, private_key_path, status FROM local_certificates WHERE certificate_name = 'web'`,
    );
    expect(local.rows).toHaveLength(1);
    expect(local.rows[0]!.private_key_path).toBe(join(dir, 'certs', 'web.key'));
    // The leaf, the first PEM block of web.crt, and nothing else.
    const leafPem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(
      await readFile(join(dir, 'certs', 'web.crt'), 'utf8'),
    )![0];
    expect(local.rows[0]!.pem_data.trim()).toBe(leafPem);
  });
});

describe('renewal', () => {
  it('Given a short-lived certificate past the threshold, Then --check exits 65, renew replaces key and certificate, and --check is then clean', async () => {
    const dir = join(work, 'renew');
    expect((await ca(dir, ['init', '--domains', 'cluster.local'])).code).toBe(0);
    expect((await ca(dir, ['issue', 'short', '--dns', 'short.cluster.local', '--days', '1'])).code).toBe(0);
    expect((await ca(dir, ['issue', 'long', '--dns', 'long.cluster.local', '--days', '365'])).code).toBe(0);
    const oldKey = await readFile(join(dir, 'certs', 'short.key'), 'utf8');
    const oldSerial = (await sh(`openssl x509 -in certs/short.crt -noout -serial`, dir)).stdout;
    // 5 of 1445 minutes are used at issue (the backdating): 0.2% is past; 2/3 is not.
    const calm = await ca(dir, ['renew', '--check']);
    expect(calm.code, calm.stderr).toBe(0);
    const before = await snapshot(dir);
    const due = await ca(dir, ['renew', '--check', '--threshold', '0.2%', '--json']);
    expect(due.code).toBe(65);
    conforms(due.stdout, 'ca-renew');
    expect((JSON.parse(due.stdout) as { due: Array<{ name: string }> }).due.map((d) => d.name)).toEqual([
      'short',
    ]);
    expect(await snapshot(dir)).toEqual(before); // --check changes nothing
    const renewed = await ca(dir, ['renew', '--threshold', '0.2%', '--json']);
    expect(renewed.code, renewed.stderr).toBe(0);
    conforms(renewed.stdout, 'ca-renew');
    const r = JSON.parse(renewed.stdout) as { renewed: Array<{ name: string; dns: string[] }> };
    expect(r.renewed.map((x) => [x.name, x.dns])).toEqual([['short', ['short.cluster.local']]]);
    expect(await readFile(join(dir, 'certs', 'short.key'), 'utf8')).not.toBe(oldKey);
    expect((await sh(`openssl x509 -in certs/short.crt -noout -serial`, dir)).stdout).not.toBe(oldSerial);
    const v = await sh(`openssl verify -CAfile root.pem -untrusted intermediate.pem certs/short.crt`, dir);
    expect(v.stdout).toContain(': OK');
    // The renewed one is fresh again: only the backdating has elapsed.
    expect((await ca(dir, ['renew', '--check', '--threshold', '50%'])).code).toBe(0);
    const all = await ca(dir, ['list', '--all', '--json']);
    const statuses = (
      JSON.parse(all.stdout) as { certificates: Array<{ name: string; status: string }> }
    ).certificates
      .filter((c) => c.name === 'short')
      .map((c) => c.status);
    expect(statuses).toEqual(['superseded', 'valid']);
  });
});

describe('revocation and the CRL', () => {
  it('When a certificate is revoked, Then the CRL (signed by the intermediate) lists its serial, openssl refuses it with -crl_check, and renew skips it', async () => {
    const dir = join(work, 'revoke');
    expect((await ca(dir, ['init', '--domains', 'cluster.local', '--database-url', db.url])).code).toBe(0);
    expect(
      (await ca(dir, ['issue', 'gone', '--dns', 'gone.cluster.local', '--database-url', db.url])).code,
    ).toBe(0);
    expect((await ca(dir, ['issue', 'kept', '--dns', 'kept.cluster.local'])).code).toBe(0);
    const serial = (await sh(`openssl x509 -in certs/gone.crt -noout -serial`, dir)).stdout
      .trim()
      .split('=')[1]!;
    const r = await ca(dir, ['revoke', 'gone', '--database-url', db.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'ca-revoke');
    const crl = await sh(`openssl crl -in crl.pem -noout -text`, dir);
    expect(crl.code, crl.stderr).toBe(0);
    expect(crl.stdout).toContain(`Serial Number: ${serial}`);
    expect(crl.stdout).toMatch(/Issuer: .*Intermediate CA/);
    expect(crl.stdout).toMatch(/CRL Number: \s*2/);
    expect((await sh(`openssl crl -in crl.pem -noout -CAfile intermediate.pem`, dir)).stderr).toContain(
      'verify OK',
    );
    const chain = `cat root.pem intermediate.pem > chain.pem`;
    const refused = await sh(
      `${chain} && openssl verify -crl_check -CAfile chain.pem -CRLfile crl.pem certs/gone.crt`,
      dir,
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain('certificate revoked');
    const fine = await sh(`openssl verify -crl_check -CAfile chain.pem -CRLfile crl.pem certs/kept.crt`, dir);
    expect(fine.stdout, fine.stderr).toContain(': OK');
    const renew = await ca(dir, ['renew', '--all', '--database-url', db.url, '--json']);
    expect(renew.code, renew.stderr).toBe(0);
    const rr = JSON.parse(renew.stdout) as {
      renewed: Array<{ name: string }>;
      skipped: Array<{ name: string }>;
    };
    expect(rr.renewed.map((x) => x.name)).toEqual(['kept']);
    expect(rr.skipped).toEqual([{ name: 'gone', reason: 'revoked' }]);
    const again = await ca(dir, ['revoke', 'gone']);
    expect(again.code).toBe(66);
    const status = await db.pool.query<{ certificate_name: string; status: string }>(
      `SELECT certificate_name, status FROM local_certificates
        WHERE certificate_name IN ('gone', 'kept') ORDER BY certificate_name, created_at`,
    );
    // kept was issued without the database: only its renewal is recorded.
    expect(status.rows).toEqual([
      { certificate_name: 'gone', status: 'revoked' },
      { certificate_name: 'kept', status: 'active' },
    ]);
    const refreshed = await ca(dir, ['crl', '--days', '30', '--json']);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    conforms(refreshed.stdout, 'ca-crl');
    expect((await sh(`openssl crl -in crl.pem -noout -text`, dir)).stdout).toMatch(/CRL Number: \s*3/);
  });
});

describe('TLS with our certificates', () => {
  let dir: string;
  let trust: string;

  beforeAll(async () => {
    dir = join(work, 'tls');
    expect((await ca(dir, ['init', '--domains', 'localhost', '--ips', '127.0.0.1'])).code).toBe(0);
    const r = await ca(dir, ['issue', 'registry', '--dns', 'localhost', '--ip', '127.0.0.1']);
    expect(r.code, r.stderr).toBe(0);
    // skopeo's --cert-dir takes CA certificates as *.crt (and would take *.key as a client key).
    trust = join(work, 'trust');
    await mkdir(trust);
    await cp(join(dir, 'root.pem'), join(trust, 'kubechat-ca.crt'));
  });

  const handshake = (port: number) =>
    sh(
      `openssl s_client -connect 127.0.0.1:${port} -servername localhost -CAfile '${dir}/root.pem' -verify_return_error -verify_ip 127.0.0.1 </dev/null`,
    );

  it('Then openssl s_client completes a verified handshake with kubechat registry serve, and skopeo trusts it', async () => {
    const layout = join(work, 'app');
    const s = await startServe([
      `oci:${layout}`,
      '--addr',
      '127.0.0.1:0',
      '--tls-cert',
      join(dir, 'certs', 'registry.crt'),
      '--tls-key',
      join(dir, 'certs', 'registry.key'),
    ]);
    try {
      const port = Number(s.info.address.split(':')[1]);
      const h = await handshake(port);
      expect(h.code, h.stderr).toBe(0);
      expect(h.stdout).toContain('Verify return code: 0 (ok)');
      expect(h.stdout + h.stderr).toMatch(/depth=2 .*Root CA/);
      const i = await sh(`skopeo inspect --cert-dir '${trust}' --raw docker://${s.info.address}/app:1.0`);
      expect(i.code, i.stderr).toBe(0);
      expect(i.stdout).toContain('schemaVersion');
      const refused = await sh(`skopeo inspect --raw docker://${s.info.address}/app:1.0`);
      expect(refused.code).not.toBe(0);
    } finally {
      await s.stop();
    }
  });

  it('Then docker-registry configured with our certificate completes a verified handshake, and skopeo and install --registry-ca trust it', async () => {
    const reg = await startRegistry({
      tls: { cert: join(dir, 'certs', 'registry.crt'), key: join(dir, 'certs', 'registry.key') },
    });
    registries.push(reg);
    const h = await handshake(reg.port);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('Verify return code: 0 (ok)');
    const layout = join(work, 'app');
    const push = await sh(
      `skopeo copy --dest-cert-dir '${trust}' oci:${layout}:1.0 docker://${reg.host}/app:1.0`,
    );
    expect(push.code, push.stderr).toBe(0);
    const i = await sh(`skopeo inspect --cert-dir '${trust}' docker://${reg.host}/app:1.0`);
    expect(i.code, i.stderr).toBe(0);
    // install pushing into it with --registry-ca root.pem: a real bundle of that same layout.
    const bundle = await appBundle('tls-bundle');
    const state = await mkdtemp(join(tmpdir(), 'kubechat-state-'));
    const installed = await kubechat(
      ['install', bundle, '--allow-unsigned', '--registry', reg.host, '--registry-ca', join(dir, 'root.pem')],
      { env: { KUBECHAT_STATE_DIR: state, KUBECHAT_DATABASE_URL: '' } },
    );
    expect(installed.code, installed.stderr).toBe(0);
    const pulled = await sh(`skopeo inspect --cert-dir '${trust}' docker://${reg.host}/demo/app:1.0`);
    expect(pulled.code, pulled.stderr).toBe(0);
  });
});

describe('install --issue-certs', () => {
  it('Then the registry certificate is issued after the install, kept on a re-run; a host the CA does not permit is refused before anything is installed', async () => {
    const dir = join(work, 'install-ca');
    expect((await ca(dir, ['init', '--domains', 'localhost', '--ips', '127.0.0.0/8'])).code).toBe(0);
    const bundle = await appBundle('issue-bundle');
    const reg = await startRegistry();
    registries.push(reg);
    const env = {
      KUBECHAT_STATE_DIR: await mkdtemp(join(tmpdir(), 'kubechat-state-')),
      KUBECHAT_DATABASE_URL: '',
    };
    const args = [
      'install',
      bundle,
      '--allow-unsigned',
      '--registry',
      reg.host,
      '--issue-certs',
      '--ca-dir',
      dir,
      '--json',
    ];
    const first = await kubechat(args, { env });
    expect(first.code, first.stderr).toBe(0);
    conforms(first.stdout, 'install');
    const certs = (
      JSON.parse(first.stdout) as {
        certificates: Array<{ name: string; action: string; ips: string[]; cert: string }>;
      }
    ).certificates;
    expect(certs.map((c) => [c.name, c.action, c.ips])).toEqual([['registry', 'issued', ['127.0.0.1']]]);
    const verified = await sh(
      `openssl verify -CAfile root.pem -untrusted intermediate.pem '${certs[0]!.cert}'`,
      dir,
    );
    expect(verified.stdout, verified.stderr).toContain(': OK');
    // Only an IP name: an empty subject and a critical SAN, so no CN is mistaken for a DNS name.
    const text = (await sh(`openssl x509 -in '${certs[0]!.cert}' -noout -subject -ext subjectAltName`))
      .stdout;
    expect(text).toMatch(/subject=\s*\n/);
    expect(text).toMatch(/Subject Alternative Name: critical\s+IP Address:127.0.0.1/);
    const second = await kubechat(args, { env });
    expect(second.code, second.stderr).toBe(0);
    expect(
      (JSON.parse(second.stdout) as { certificates: Array<{ action: string }> }).certificates[0]!.action,
    ).toBe('kept');

    const narrow = join(work, 'narrow-ca');
    expect((await ca(narrow, ['init', '--domains', 'cluster.local', '--ips', '10.0.0.0/8'])).code).toBe(0);
    const other = await startRegistry();
    registries.push(other);
    const before = await snapshot(narrow);
    const refused = await kubechat(
      ['install', bundle, '--allow-unsigned', '--registry', other.host, '--issue-certs', '--ca-dir', narrow],
      { env },
    );
    expect(refused.code).toBe(63);
    expect(refused.stderr).toContain('127.0.0.1 is outside');
    expect(await snapshot(narrow)).toEqual(before);
    const catalog = await fetch(`${other.url}/v2/_catalog`);
    expect(((await catalog.json()) as { repositories: string[] }).repositories).toEqual([]);
    const missing = await kubechat(
      [
        'install',
        bundle,
        '--allow-unsigned',
        '--registry',
        other.host,
        '--issue-certs',
        '--ca-dir',
        join(work, 'nothing'),
      ],
      { env },
    );
    expect(missing.code).toBe(60);
  });
});

describe('export', () => {
  it('Then pem, k8s-configmap and k8s-secret files are written; the Secret is kubernetes.io/tls with the chain and key, 0600, and no key reaches stdout', async () => {
    const dir = join(work, 'main');
    const out = join(work, 'export');
    await mkdir(out);
    const pem = await ca(dir, ['export', '--format', 'pem', '--out', out, '--json']);
    expect(pem.code, pem.stderr).toBe(0);
    conforms(pem.stdout, 'ca-export');
    expect(await readFile(join(out, 'kubechat-ca.pem'), 'utf8')).toBe(
      await readFile(join(dir, 'root.pem'), 'utf8'),
    );
    const cm = await ca(dir, ['export', '--format', 'k8s-configmap', '--out', out, '--namespace', 'kc']);
    expect(cm.code, cm.stderr).toBe(0);
    const configMap = load(await readFile(join(out, 'kubechat-ca.configmap.yaml'), 'utf8')) as {
      kind: string;
      metadata: { namespace: string };
      data: Record<string, string>;
    };
    expect(configMap.kind).toBe('ConfigMap');
    expect(configMap.metadata.namespace).toBe('kc');
    expect(configMap.data['ca.crt']).toBe(await readFile(join(dir, 'root.pem'), 'utf8'));
    const sec = await ca(dir, ['export', '--format', 'k8s-secret', '--name', 'web', '--out', out, '--json']);
    expect(sec.code, sec.stderr).toBe(0);
    conforms(sec.stdout, 'ca-export');
    const file = join(out, 'web-tls.secret.yaml');
    expect(await mode(file)).toBe('600');
    const secret = load(await readFile(file, 'utf8')) as { type: string; data: Record<string, string> };
    expect(secret.type).toBe('kubernetes.io/tls');
    const b = (k: string) => Buffer.from(secret.data[k]!, 'base64').toString();
    expect(b('tls.crt')).toBe(await readFile(join(dir, 'certs', 'web.crt'), 'utf8'));
    expect(b('tls.key')).toBe(await readFile(join(dir, 'certs', 'web.key'), 'utf8'));
    const again = await ca(dir, ['export', '--format', 'k8s-secret', '--name', 'web', '--out', out]);
    expect(again.code).toBe(8); // exists: not replaced without --force
  });
});

describe('the root key offline', () => {
  it('When exported with --offline-root, Then it leaves the host, issuing still works, and rotate-intermediate takes the copy back', async () => {
    const dir = join(work, 'offline');
    expect((await ca(dir, ['init', '--domains', 'cluster.local'])).code).toBe(0);
    const usb = join(work, 'usb');
    await mkdir(usb);
    const before = await snapshot(dir);
    const wrong = await ca(dir, ['export-root-key', '--out', join(usb, 'root.key')], {
      KUBECHAT_CA_PASSPHRASE: 'not-the-passphrase',
    });
    expect(wrong.code).toBe(61);
    expect(wrong.stderr).toContain('wrong CA passphrase');
    expect(await snapshot(dir)).toEqual(before);
    expect(await readdir(usb)).toEqual([]);
    const r = await ca(dir, ['export-root-key', '--out', join(usb, 'root.key'), '--offline-root', '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'ca-export-root-key');
    expect(await mode(join(usb, 'root.key'))).toBe('600');
    await expect(stat(join(dir, 'root.key'))).rejects.toThrow();
    expect((await sh(`openssl pkey -in '${usb}/root.key' -passin env:PW -noout`, undefined)).code).toBe(0);
    expect((await ca(dir, ['issue', 'after', '--dns', 'after.cluster.local'])).code).toBe(0);
    const list = JSON.parse((await ca(dir, ['list', '--json'])).stdout) as { rootKeyOffline: boolean };
    expect(list.rootKeyOffline).toBe(true);
    const without = await ca(dir, ['rotate-intermediate']);
    expect(without.code).toBe(61);
    expect(without.stderr).toContain('--root-key');
    const badPass = await ca(dir, ['rotate-intermediate', '--root-key', join(usb, 'root.key')], {
      KUBECHAT_CA_PASSPHRASE: 'not-the-passphrase',
    });
    expect(badPass.code).toBe(61);
    const rotated = await ca(dir, ['rotate-intermediate', '--root-key', join(usb, 'root.key'), '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    conforms(rotated.stdout, 'ca-rotate-intermediate');
    expect((await ca(dir, ['renew', 'after', '--all'])).code).toBe(0);
    const v = await sh(`openssl verify -CAfile root.pem -untrusted intermediate.pem certs/after.crt`, dir);
    expect(v.stdout).toContain(': OK');
  });
});

describe('bad input', () => {
  it('Given no passphrase or a short one, Then init exits 61 and creates nothing', async () => {
    const dir = join(work, 'nopass');
    const r = await ca(dir, ['init'], { KUBECHAT_CA_PASSPHRASE: '' });
    expect(r.code).toBe(61);
    expect(r.stderr).toContain('KUBECHAT_CA_PASSPHRASE');
    const short = await ca(dir, ['init'], { KUBECHAT_CA_PASSPHRASE: 'short' });
    expect(short.code).toBe(61);
    await expect(stat(dir)).rejects.toThrow();
    expect((await readdir(work)).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('Given Ctrl-C while init writes, Then exit 130 and either no CA directory or a complete one, never a partial one', async () => {
    const dir = join(work, 'interrupted');
    let sent = false;
    const r = await kubechat(['ca', 'init', '--dir', dir], {
      env: { KUBECHAT_CA_PASSPHRASE: PASSPHRASE, KUBECHAT_DATABASE_URL: '' },
      onStderr: (text, child) => {
        if (!sent && text.includes('Writing')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    outputs.push(r);
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect((await readdir(work)).filter((n) => n.startsWith('interrupted.partial'))).toEqual([]);
    const made = await stat(dir).then(
      () => true,
      () => false,
    );
    // The rename may have won the race with the signal: then the CA is whole and usable.
    if (made) expect((await ca(dir, ['list'])).code).toBe(0);
  });

  it('Given KUBECHAT_CA_PASSPHRASE_FILE naming no file, Then exit 61 and nothing created', async () => {
    const dir = join(work, 'nofile');
    const r = await ca(dir, ['init'], { KUBECHAT_CA_PASSPHRASE_FILE: join(work, 'absent-passphrase') });
    expect(r.code).toBe(61);
    expect(r.stderr).toContain('KUBECHAT_CA_PASSPHRASE_FILE');
    await expect(stat(dir)).rejects.toThrow();
  });

  it('Given the passphrase in KUBECHAT_CA_PASSPHRASE_FILE, Then init uses it', async () => {
    const dir = join(work, 'passfile');
    const file = join(work, 'ca-passphrase');
    await writeFile(file, `${PASSPHRASE}\n`, { mode: 0o600 });
    const r = await ca(dir, ['init'], { KUBECHAT_CA_PASSPHRASE: '', KUBECHAT_CA_PASSPHRASE_FILE: file });
    expect(r.code, r.stderr).toBe(0);
    expect((await sh(`openssl pkey -in '${dir}/root.key' -passin env:PW -noout`)).code).toBe(0);
  });

  it('Given no CA, Then every command exits 60 with a fix naming ca init', async () => {
    const dir = join(work, 'absent');
    for (const args of [
      ['issue', 'x', '--dns', 'x.cluster.local'],
      ['list'],
      ['renew', '--check'],
      ['revoke', 'x'],
      ['crl'],
    ]) {
      const r = await ca(dir, args);
      expect(r.code, args.join(' ')).toBe(60);
      expect(r.stderr).toMatch(/fix: .*ca init/);
    }
    await expect(stat(dir)).rejects.toThrow();
  });

  it('Given a CA already there, Then init exits 69 and changes nothing', async () => {
    const dir = join(work, 'main');
    const before = await snapshot(dir);
    const r = await ca(dir, ['init']);
    expect(r.code).toBe(69);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('Given bad --ips or --domains, Then exit 63 and nothing created', async () => {
    const dir = join(work, 'badnames');
    expect((await ca(dir, ['init', '--ips', '10.0.0.0/40'])).code).toBe(63);
    expect((await ca(dir, ['init', '--domains', 'bad_domain'])).code).toBe(63);
    await expect(stat(dir)).rejects.toThrow();
  });

  it('Given a damaged ca.json, Then exit 64 naming the file', async () => {
    const dir = join(work, 'damaged');
    expect((await ca(dir, ['init'])).code).toBe(0);
    await writeFile(join(dir, 'ca.json'), '{not json');
    const r = await ca(dir, ['issue', 'x', '--dns', 'x.cluster.local']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('ca.json');
  });
});

describe('no network', () => {
  it('Given no network at all (unshare -n), Then init, issue, revoke, crl, list and export work: the CA contacts nothing', async () => {
    const dir = join(work, 'airgapped');
    const env = { KUBECHAT_CA_DIR: dir, KUBECHAT_CA_PASSPHRASE: PASSPHRASE, KUBECHAT_DATABASE_URL: '' };
    const run = async (args: string[]) => {
      const r = await kubechat(['ca', ...args], { env, wrap: ['unshare', '-n'] });
      outputs.push(r);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    await run(['init', '--domains', 'airgap.example']);
    await run(['issue', 'svc', '--dns', 'svc.airgap.example']);
    await run(['revoke', 'svc']);
    await run(['crl']);
    await run(['list']);
    await run(['export', '--format', 'k8s-configmap', '--out', dir]);
    expect((await sh(`openssl crl -in crl.pem -noout -text`, dir)).stdout).toContain('Serial Number');
  });
});

describe('secrets', () => {
  it('Then no passphrase, private key or key body appears in any output or database row', async () => {
    const keys: string[] = [];
    for (const name of await readdir(work, { recursive: true })) {
      if (!name.endsWith('.key') || name.includes('forged')) continue;
      const body = pemBody(await readFile(join(work, name), 'utf8'));
      if (body) keys.push(body);
    }
    expect(keys.length).toBeGreaterThan(5);
    expect(outputs.length).toBeGreaterThan(20);
    const all = outputs.map((o) => o.stdout + o.stderr).join('\n');
    expect(all).not.toContain(PASSPHRASE);
    expect(all).not.toContain('not-the-passphrase');
    expect(all).not.toMatch(/PRIVATE KEY/);
    for (const k of keys) expect(all).not.toContain(k.slice(0, 40));
    const rows = await db.pool.query<{ row: string }>(
      `SELECT row_to_json(a)::text AS row FROM airgap_certificates a UNION ALL SELECT row_to_json(l)::text FROM local_certificates l`,
    );
    expect(rows.rows.length).toBeGreaterThan(4);
    const dbText = rows.rows.map((r) => r.row).join('\n');
    expect(dbText).not.toMatch(/PRIVATE KEY/);
    expect(dbText).not.toContain(PASSPHRASE);
    for (const k of keys) expect(dbText).not.toContain(k.slice(0, 40));
  });
});
