/**
 * The install policy and signature verification on real bundles, signed with keys generated here
 * and tampered with in the test: every refusal has its own exit code (20-29) and one clear line.
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { Entry } from '../../src/bundle/layout.js';
import { openBundle } from '../../src/bundle/reader.js';
import { ExitCode } from '../../src/lib/errors.js';
import { createBundle } from '../support/create-bundle.js';
import { signBundle } from '../../src/services/sign-bundle.js';
import { verifyBundle } from '../../src/install/verify-bundle.js';
import { generateKey, loadSigningKey, readPublicKey, type SigningKey } from '../../src/signing/keys.js';
import {
  enforceBundlePolicy,
  parseExpires,
  recordInstall,
  type PolicyInput,
} from '../../src/signing/policy.js';
import { signManifest, type TrustedKey } from '../../src/signing/signature.js';
import { loadTrustedKeys } from '../../src/signing/trust.js';
import {
  combineVersionStores,
  compareVersions,
  FileVersionStore,
  NO_INSTALLED_VERSIONS,
} from '../../src/signing/versions.js';
import { failure } from '../support/helpers.js';
import { entry, tamper } from '../support/tamper.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';

const PASS = 'correct horse battery staple';
const NOW = new Date('2026-06-01T00:00:00Z');
let ws: Workspace;
let keyA: SigningKey; // the trusted release key
let keyB: SigningKey; // someone else's key
let trustedA: TrustedKey[];
let signed1: string; // demo 1.0.0 signed by A, expires in 30 days
let signed2: string; // demo 1.1.0 signed by A
let unsigned1: string;
let byB: string; // demo 1.0.0 signed by B

async function writeKey(name: string, passphrase: string | undefined) {
  const { keyFile, key } = await generateKey(passphrase);
  const path = join(ws.dir, `${name}.key`);
  await writeFile(path, keyFile, { mode: 0o600 });
  await writeFile(join(ws.dir, `${name}.pub`), key.pem);
  return path;
}

async function create(spec: string, out: string, signingKey?: SigningKey, expires?: string) {
  const r = await createBundle({ specPath: spec, outDir: join(ws.dir, out), signingKey, expires, now: NOW });
  return r.bundle;
}

async function policyOf(bundlePath: string, over: Partial<PolicyInput> = {}) {
  const b = await openBundle(bundlePath);
  return enforceBundlePolicy({
    manifestBytes: b.manifestBytes,
    sigstoreBytes: b.signature,
    trustedKeys: trustedA,
    versions: NO_INSTALLED_VERSIONS,
    now: NOW,
    source: bundlePath,
    ...over,
  });
}

/** A refusal: the expected exit code, one line, a fix. */
async function refused(p: Promise<unknown>, code: number, text: RegExp) {
  const err = await failure(p);
  expect(err.exitCode, err.message).toBe(code);
  expect(err.message).toMatch(text);
  expect(err.message).not.toContain('\n');
  expect(err.fix).toBeTruthy();
  return err;
}

beforeAll(async () => {
  ws = await makeWorkspace();
  const spec1 = await ws.spec('1.0.0');
  const spec2 = await ws.spec('1.1.0', { layerSeed: 'hello-app-1.1' });
  keyA = await loadSigningKey(await writeKey('a', PASS), PASS);
  keyB = await loadSigningKey(await writeKey('b', undefined), undefined);
  trustedA = [{ ...(await readPublicKey(join(ws.dir, 'a.pub'))), source: join(ws.dir, 'a.pub') }];
  signed1 = await create(spec1, 'signed1', keyA, '30d');
  signed2 = await create(spec2, 'signed2', keyA);
  unsigned1 = await create(spec1, 'unsigned1');
  byB = await create(spec1, 'byB', keyB);
});

describe('a good signature', () => {
  it('Given a bundle signed by a trusted key, Then the policy accepts it and names the key and expiry', async () => {
    const r = await policyOf(signed1);
    expect(r).toMatchObject({
      signed: true,
      keyId: keyA.keyId,
      name: 'demo',
      version: '1.0.0',
      overrides: [],
    });
    expect(r.expires).toBe('2026-07-01T00:00:00.000Z');
    const v = await verifyBundle({
      bundlePath: signed1,
      trustedKeys: trustedA,
      now: NOW,
      requireSignature: true,
    });
    expect(v.ok).toBe(true);
    expect(v.signature).toBe('verified');
    expect(v.signer?.keyId).toBe(keyA.keyId);
  });

  it('Then the signature is the second entry, and both bundles of one spec carry the same manifest digest rule', async () => {
    const b = await openBundle(signed1);
    expect(b.signature).toBeDefined();
    const doc = JSON.parse(b.signature!.toString()) as {
      mediaType: string;
      dsseEnvelope: { payloadType: string };
    };
    expect(doc.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(doc.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
  });
});

describe('refusals, each with its own exit code', () => {
  it('unsigned -> 20, unless --allow-unsigned (then a warning and a recorded override)', async () => {
    await refused(policyOf(unsigned1), ExitCode.unsigned, /demo 1\.0\.0 is not signed/);
    const r = await policyOf(unsigned1, { allowUnsigned: true });
    expect(r.signed).toBe(false);
    expect(r.overrides).toEqual(['allow-unsigned']);
    expect(r.warnings[0]).toMatch(/--allow-unsigned/);
  });

  it('untrusted signer -> 21, also with --allow-unsigned', async () => {
    await refused(
      policyOf(byB),
      ExitCode.untrustedSigner,
      new RegExp(`signed by key ${keyB.keyId}, which is not a trusted key`),
    );
    await refused(policyOf(byB, { allowUnsigned: true }), ExitCode.untrustedSigner, /not a trusted key/);
    await refused(policyOf(signed1, { trustedKeys: [] }), ExitCode.untrustedSigner, /0 trusted/);
    // A hint crafted to break the one-line message (or drive the terminal) is shown quoted and escaped.
    const crafted = await tamper(byB, join(ws.dir, 'crafted-hint.kcb.tar.zst'), (entries) => {
      const sig = entry(entries, Entry.signature);
      sig.data = Buffer.from(sig.data.toString().replaceAll(keyB.keyId, 'evil\\n\\u001b[2Jkey'));
    });
    const err = await refused(
      policyOf(crafted),
      ExitCode.untrustedSigner,
      /signed by key "evil\\n\\u001b\[2Jkey"/,
    );
    expect(err.message).not.toContain('\u001b');
  });

  it('signature by another key claiming the trusted key id -> 22', async () => {
    const out = await tamper(byB, join(ws.dir, 'forged-hint.kcb.tar.zst'), (entries) => {
      const sig = entry(entries, Entry.signature);
      sig.data = Buffer.from(sig.data.toString().replaceAll(keyB.keyId, keyA.keyId));
    });
    await refused(policyOf(out), ExitCode.badSignature, /does not verify with trusted key/);
  });

  it('a flipped signature byte, or an altered statement (a later expiry) -> 22', async () => {
    const flipped = await tamper(signed1, join(ws.dir, 'flipped.kcb.tar.zst'), (entries) => {
      const sig = entry(entries, Entry.signature);
      const doc = JSON.parse(sig.data.toString()) as { dsseEnvelope: { signatures: Array<{ sig: string }> } };
      const raw = Buffer.from(doc.dsseEnvelope.signatures[0]!.sig, 'base64');
      raw[10]! ^= 1;
      doc.dsseEnvelope.signatures[0]!.sig = raw.toString('base64');
      sig.data = Buffer.from(JSON.stringify(doc));
    });
    await refused(policyOf(flipped), ExitCode.badSignature, /does not verify/);
    const extended = await tamper(signed1, join(ws.dir, 'extended.kcb.tar.zst'), (entries) => {
      const sig = entry(entries, Entry.signature);
      const doc = JSON.parse(sig.data.toString()) as { dsseEnvelope: { payload: string } };
      const payload = Buffer.from(doc.dsseEnvelope.payload, 'base64')
        .toString()
        .replace('2026-07-01', '2036-07-01');
      doc.dsseEnvelope.payload = Buffer.from(payload).toString('base64');
      sig.data = Buffer.from(JSON.stringify(doc));
    });
    await refused(policyOf(extended), ExitCode.badSignature, /does not verify/);
  });

  it('tampered manifest -> 23, and bundle verify refuses it before reading the entries', async () => {
    const out = await tamper(signed1, join(ws.dir, 'manifest.kcb.tar.zst'), (entries) => {
      const m = entry(entries, Entry.manifest);
      m.data = Buffer.from(
        m.data.toString().replace('"platforms":["linux/amd64"]', '"platforms":["linux/arm64"]'),
      );
    });
    await refused(
      policyOf(out),
      ExitCode.manifestTampered,
      /kubechat-bundle\.json was changed after signing/,
    );
    await refused(
      verifyBundle({ bundlePath: out, trustedKeys: trustedA, now: NOW }),
      ExitCode.manifestTampered,
      /changed after signing/,
    );
  });

  it('tampered entry -> the signature holds, the entry check fails (exit 6 from bundle verify)', async () => {
    const out = await tamper(signed1, join(ws.dir, 'entry.kcb.tar.zst'), (entries) => {
      const doc = entry(entries, 'files/docs/index.md');
      doc.data = Buffer.from(doc.data.toString().replace('KubeChat', 'EvilChat'));
    });
    expect((await policyOf(out)).signed).toBe(true);
    const v = await verifyBundle({ bundlePath: out, trustedKeys: trustedA, now: NOW });
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      expect.objectContaining({ kind: 'digest-mismatch', path: 'files/docs/index.md' }),
    ]);
  });

  it('swapped payloadType -> 25', async () => {
    const out = await tamper(signed1, join(ws.dir, 'ptype.kcb.tar.zst'), (entries) => {
      const sig = entry(entries, Entry.signature);
      sig.data = Buffer.from(sig.data.toString().replace('application/vnd.in-toto+json', 'application/json'));
    });
    await refused(policyOf(out), ExitCode.payloadType, /payloadType is "application\/json"/);
  });

  it("statement for another manifest (1.1.0's signature on 1.0.0) -> 24", async () => {
    const other = (await openBundle(signed2)).signature!;
    const out = await tamper(signed1, join(ws.dir, 'foreign.kcb.tar.zst'), (entries) => {
      entry(entries, Entry.signature).data = other;
    });
    await refused(
      policyOf(out),
      ExitCode.foreignStatement,
      /signature is for demo 1\.1\.0, not for this bundle demo 1\.0\.0/,
    );
  });

  it('a trusted signature over another kind of statement (SLSA provenance naming the manifest) -> 24', async () => {
    const b = await openBundle(signed1);
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: Entry.manifest, digest: { sha256: b.manifestDigest.slice('sha256:'.length) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: {} },
    };
    const builder = new DSSEBundleBuilder({
      witnesses: [],
      signer: {
        sign: async (data) => ({
          signature: keyA.sign(data),
          key: { $case: 'publicKey', publicKey: keyA.pem, hint: keyA.keyId },
        }),
      },
    });
    const sig = await builder.create({
      data: Buffer.from(JSON.stringify(statement)),
      type: 'application/vnd.in-toto+json',
    });
    const out = await tamper(signed1, join(ws.dir, 'slsa.kcb.tar.zst'), (entries) => {
      entry(entries, Entry.signature).data = Buffer.from(JSON.stringify(bundleToJSON(sig)));
    });
    await refused(
      policyOf(out),
      ExitCode.foreignStatement,
      /predicateType "https:\/\/slsa\.dev\/provenance\/v1", not a kubechat bundle statement/,
    );
  });

  it('two signatures -> 26 (even when both are valid)', async () => {
    const out = await tamper(signed1, join(ws.dir, 'two.kcb.tar.zst'), (entries) => {
      const sig = entry(entries, Entry.signature);
      const doc = JSON.parse(sig.data.toString()) as { dsseEnvelope: { signatures: unknown[] } };
      doc.dsseEnvelope.signatures.push(doc.dsseEnvelope.signatures[0]);
      sig.data = Buffer.from(JSON.stringify(doc));
    });
    await refused(policyOf(out), ExitCode.signatureCount, /has 2 signatures, kubechat requires exactly one/);
  });

  it('expired -> 27, unless --allow-expired', async () => {
    const later = new Date('2026-08-01T00:00:00Z');
    await refused(
      policyOf(signed1, { now: later }),
      ExitCode.expired,
      /expired on 2026-07-01T00:00:00\.000Z/,
    );
    const r = await policyOf(signed1, { now: later, allowExpired: true });
    expect(r.overrides).toEqual(['allow-expired']);
    await refused(
      verifyBundle({ bundlePath: signed1, trustedKeys: trustedA, now: later }),
      ExitCode.expired,
      /expired/,
    );
  });

  it('replayed older version -> 28, unless --allow-downgrade; the same version again is fine', async () => {
    const versions = new FileVersionStore(join(ws.dir, 'state', 'installed.json'));
    await recordInstall(versions, await policyOf(signed2, { versions }));
    expect(await versions.highest('demo')).toBe('1.1.0');
    await refused(
      policyOf(signed1, { versions }),
      ExitCode.downgrade,
      /1\.0\.0 is older than 1\.1\.0, already installed/,
    );
    const r = await policyOf(signed1, { versions, allowDowngrade: true });
    expect(r.overrides).toEqual(['allow-downgrade']);
    await recordInstall(versions, r);
    expect((await policyOf(signed2, { versions })).overrides).toEqual([]);
    const state = JSON.parse(await readFile(versions.path, 'utf8')) as {
      installed: Array<{ overrides: string[] }>;
    };
    expect(state.installed.map((e) => e.overrides)).toEqual([[], ['allow-downgrade']]);
  });

  it('a corrupt state file refuses rather than forgetting the installed versions', async () => {
    const path = join(ws.dir, 'state', 'corrupt.json');
    await writeFile(path, '{"schemaVersion":1,"installed":');
    await refused(policyOf(signed1, { versions: new FileVersionStore(path) }), ExitCode.downgrade, /corrupt/);
  });

  it('a damaged signature entry (not JSON) is a format error (5)', async () => {
    const out = await tamper(signed1, join(ws.dir, 'garbage.kcb.tar.zst'), (entries) => {
      entry(entries, Entry.signature).data = Buffer.from('{"mediaType": 42');
    });
    await refused(policyOf(out), ExitCode.bundleFormat, /kubechat-bundle\.sigstore\.json: not valid JSON/);
  });
});

describe('keys', () => {
  it('wrong passphrase -> 29; no passphrase for an encrypted key -> 29', async () => {
    const path = join(ws.dir, 'a.key');
    await refused(loadSigningKey(path, 'not the passphrase'), ExitCode.passphrase, /wrong passphrase/);
    await refused(
      loadSigningKey(path, undefined),
      ExitCode.passphrase,
      /is encrypted and neither KUBECHAT_KEY_PASSPHRASE nor KUBECHAT_KEY_PASSPHRASE_FILE is set/,
    );
  });

  it('corrupt key files -> 7, each named', async () => {
    const good = JSON.parse(await readFile(join(ws.dir, 'a.key'), 'utf8')) as Record<string, unknown>;
    const cases: Array<[string, string, RegExp]> = [
      ['truncated', JSON.stringify(good).slice(0, 100), /not valid JSON/],
      ['other', '-----BEGIN OPENSSH PRIVATE KEY-----\n', /not valid JSON/],
      ['format', JSON.stringify({ ...good, format: 'x' }), /not a kubechat-ed25519-private-key file/],
      [
        'kdf',
        JSON.stringify({ ...good, encryption: { kdf: { name: 'scrypt', logN: 40 } } }),
        /bad encryption parameters/,
      ],
      [
        'pub',
        JSON.stringify({ ...good, publicKey: Buffer.from(keyB.publicKey).toString('base64') }),
        /does not match/,
      ],
    ];
    for (const [name, text, re] of cases) {
      const path = join(ws.dir, `corrupt-${name}.key`);
      await writeFile(path, text, { mode: 0o600 });
      const err = await refused(loadSigningKey(path, PASS), ExitCode.signature, re);
      expect(err.message).toContain(path);
    }
    await refused(loadSigningKey(join(ws.dir, 'missing.key'), PASS), ExitCode.signature, /no such file/);
  });

  it('an unencrypted key readable by others is refused', async () => {
    const path = join(ws.dir, 'b.key');
    await chmod(path, 0o644);
    await refused(loadSigningKey(path, undefined), ExitCode.signature, /readable by other users/);
    await chmod(path, 0o600);
  });

  it('a trusted key that is not an Ed25519 SPKI PEM, or a trust dir writable by others, is refused', async () => {
    const dir = join(ws.dir, 'trust-bad');
    await mkdir(dir, { mode: 0o700 });
    await writeFile(
      join(dir, 'x.pub'),
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n',
    );
    await refused(loadTrustedKeys({ trustDir: dir }), ExitCode.signature, /not an Ed25519 public key/);
    const open = join(ws.dir, 'trust-open');
    await mkdir(open);
    await chmod(open, 0o777);
    await refused(loadTrustedKeys({ trustDir: open }), ExitCode.signature, /writable by other users/);
  });

  it('the signature has the same size for any manifest of the same name, version and times', async () => {
    const b = await openBundle(signed1);
    const m = b.manifest;
    const other = Buffer.from(b.manifestBytes.toString().replace(/[a-f0-9]{64}/, '0'.repeat(64)));
    const s1 = await signManifest(b.manifestBytes, m, keyA, m.expires);
    const s2 = await signManifest(other, m, keyA, m.expires);
    expect(s1.length).toBe(s2.length);
  });
});

describe('bundle sign', () => {
  it('Given a bundle with a damaged entry, When signed, Then it refuses (6) and leaves the file and directory as they were', async () => {
    const dir = join(ws.dir, 'sign-damaged');
    await mkdir(dir);
    const out = await tamper(unsigned1, join(dir, 'demo-1.0.0.kcb.tar.zst'), (entries) => {
      const doc = entry(entries, 'files/docs/index.md');
      doc.data = Buffer.from(doc.data.toString().replace('KubeChat', 'EvilChat'));
    });
    const before = await readFile(out);
    const err = await failure(signBundle({ bundlePath: out, signingKey: keyA }));
    expect(err.exitCode).toBe(ExitCode.integrity);
    expect(err.message).toMatch(/files\/docs\/index\.md sha256 .* does not match the manifest/);
    expect((await readFile(out)).equals(before)).toBe(true);
    expect(await readdir(dir)).toEqual(['demo-1.0.0.kcb.tar.zst']);
  });

  it('Given an unsigned bundle, When signed with --expires, Then the manifest is unchanged and the signed expiry applies', async () => {
    const dir = join(ws.dir, 'sign-ok');
    await mkdir(dir);
    const copy = join(dir, 'demo-1.0.0.kcb.tar.zst');
    await writeFile(copy, await readFile(unsigned1));
    const before = await openBundle(copy);
    const r = await signBundle({ bundlePath: copy, signingKey: keyA, expires: '10d', now: NOW });
    expect(r).toMatchObject({ keyId: keyA.keyId, expires: '2026-06-11T00:00:00.000Z', replaced: null });
    const after = await openBundle(copy);
    expect(after.manifestBytes.equals(before.manifestBytes)).toBe(true);
    expect((await policyOf(copy)).expires).toBe('2026-06-11T00:00:00.000Z');
    await refused(policyOf(copy, { now: new Date('2026-06-12T00:00:00Z') }), ExitCode.expired, /expired/);
    const v = await verifyBundle({
      bundlePath: copy,
      trustedKeys: trustedA,
      now: NOW,
      requireSignature: true,
    });
    expect(v.ok).toBe(true);
  });
});

describe('versions and expiry', () => {
  it('semver precedence: pre-releases before releases, numeric identifiers numerically', () => {
    const sorted = [
      '1.0.0',
      '1.0.0-rc.10',
      '1.0.0-alpha',
      '1.0.0-rc.2',
      '0.9.9',
      '1.0.0-alpha.1',
      '1.0.0-beta',
      '10.0.0',
      '2.0.0',
    ];
    expect([...sorted].sort(compareVersions)).toEqual([
      '0.9.9',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-beta',
      '1.0.0-rc.2',
      '1.0.0-rc.10',
      '1.0.0',
      '2.0.0',
      '10.0.0',
    ]);
    expect(compareVersions('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
  });

  it('Given two stores, Then the highest version is the highest either knows, and an install is recorded in both', async () => {
    const a = new FileVersionStore(join(ws.dir, 'state', 'a.json'));
    const b = new FileVersionStore(join(ws.dir, 'state', 'b.json'));
    const both = combineVersionStores([a, b]);
    const entry = { name: 'demo', manifestDigest: 'sha256:x', installedAt: NOW.toISOString(), overrides: [] };
    await a.record({ ...entry, version: '1.2.0-rc.1' });
    await b.record({ ...entry, version: '1.1.9' });
    expect(await both.highest('demo')).toBe('1.2.0-rc.1');
    await both.record({ ...entry, version: '1.2.0' });
    expect([await a.highest('demo'), await b.highest('demo')]).toEqual(['1.2.0', '1.2.0']);
    expect(await both.highest('other')).toBeUndefined();
  });

  it('--expires: durations from the creation time, dates, and refusals', () => {
    const created = new Date('2026-01-01T00:00:00Z');
    expect(parseExpires('365d', created)).toBe('2027-01-01T00:00:00.000Z');
    expect(parseExpires('12h', created)).toBe('2026-01-01T12:00:00.000Z');
    expect(parseExpires('2027-01-31', created)).toBe('2027-01-31T00:00:00.000Z');
    expect(() => parseExpires('soon', created)).toThrow(/not a duration/);
    expect(() => parseExpires('2025-01-01', created)).toThrow(/not after the creation time/);
  });
});
