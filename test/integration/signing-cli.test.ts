/**
 * Signing end to end through the built CLI: keys generate / trust / list, bundle create --key,
 * bundle sign, bundle verify with trusted keys, a signed delta merged (the signature carries over),
 * a separate process that only has @sigstore/verify and the public key, and no secret in any output.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubechat, sh, ROOT, type CliResult } from '../support/cli.js';
import { schemaValidator } from '../../src/lib/schema.js';
import { ExitCode } from '../../src/lib/errors.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';

const PASS = 'tr0ub4dor&3-never-print-me';
let ws: Workspace;
let env: NodeJS.ProcessEnv;
const outputs: CliResult[] = [];

async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = await kubechat(args, { env: { ...env, ...extraEnv } });
  outputs.push(r);
  return r;
}

function conforms(result: string, schema: string): void {
  const validate = schemaValidator(`results/${schema}.schema.json`, true);
  const ok = validate(JSON.parse(result));
  expect(validate.errors ?? [], schema).toEqual([]);
  expect(ok).toBe(true);
}

/** One refusal under --json: the documented code, one error object that matches the schema. */
async function refusedJson(args: string[], code: number, extraEnv: NodeJS.ProcessEnv = {}) {
  const r = await run([...args, '--json'], extraEnv);
  expect(r.code, r.stdout + r.stderr).toBe(code);
  conforms(r.stdout, 'error');
  return (JSON.parse(r.stdout) as { error: { message: string } }).error.message;
}

let spec1: string;
let spec2: string;
let keyId: string;
let signed1: string;

beforeAll(async () => {
  ws = await makeWorkspace();
  env = { KUBECHAT_TRUST_DIR: join(ws.dir, 'trust'), KUBECHAT_KEY_PASSPHRASE: PASS };
  spec1 = await ws.spec('1.0.0');
  spec2 = await ws.spec('1.1.0', { layerSeed: 'hello-app-1.1' });
  const g = await run(['keys', 'generate', '--out', join(ws.dir, 'release'), '--json']);
  expect(g.code, g.stderr).toBe(0);
  conforms(g.stdout, 'keys-generate');
  keyId = (JSON.parse(g.stdout) as { keyId: string }).keyId;
  const c = await run([
    'bundle',
    'create',
    '-f',
    spec1,
    '-o',
    join(ws.dir, 's1'),
    '--key',
    join(ws.dir, 'release.key'),
    '--expires',
    '365d',
    '--json',
  ]);
  expect(c.code, c.stderr).toBe(0);
  conforms(c.stdout, 'bundle-create');
  const created = JSON.parse(c.stdout) as { bundle: string; signedBy: string; expires: string };
  expect(created.signedBy).toBe(keyId);
  signed1 = created.bundle;
});

describe('keys', () => {
  it('Given no passphrase, When generating, Then it refuses (29) unless --no-passphrase, and never replaces a key', async () => {
    const prefix = join(ws.dir, 'plain');
    expect(
      await refusedJson(['keys', 'generate', '--out', prefix], ExitCode.passphrase, {
        KUBECHAT_KEY_PASSPHRASE: '',
      }),
    ).toMatch(/refusing to write an unencrypted private key/);
    const r = await run(['keys', 'generate', '--out', prefix, '--no-passphrase'], {
      KUBECHAT_KEY_PASSPHRASE: '',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('NOT encrypted');
    expect((await sh(`stat -c %a '${prefix}.key'`)).stdout.trim()).toBe('600');
    expect(
      await refusedJson(['keys', 'generate', '--out', prefix, '--no-passphrase'], ExitCode.output),
    ).toMatch(/already exists/);
  });

  it('Then the public key is a standard SPKI PEM that openssl reads, and the key id is sha256 of its DER', async () => {
    const pub = join(ws.dir, 'release.pub');
    const der = await sh(`openssl pkey -pubin -in '${pub}' -outform DER | sha256sum`);
    expect(der.code, der.stderr).toBe(0);
    expect(der.stdout.split(' ')[0]).toBe(keyId);
    expect((await sh(`openssl pkey -pubin -in '${pub}' -noout -text`)).stdout).toMatch(/ED25519 Public-Key/);
  });

  it('When trusted, Then keys list shows it, and trusting it again is a no-op', async () => {
    const t = await run(['keys', 'trust', join(ws.dir, 'release.pub'), '--json']);
    expect(t.code, t.stderr).toBe(0);
    conforms(t.stdout, 'keys-trust');
    expect(JSON.parse(t.stdout)).toMatchObject({ keyId, added: true });
    const again = await run(['keys', 'trust', join(ws.dir, 'release.pub'), '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ keyId, added: false });
    const l = await run(['keys', 'list', '--json']);
    conforms(l.stdout, 'keys-list');
    expect((JSON.parse(l.stdout) as { keys: Array<{ keyId: string }> }).keys.map((k) => k.keyId)).toEqual([
      keyId,
    ]);
  });
});

describe('bundle verify and inspect', () => {
  it('Given a signed bundle and the trusted key, Then verify reports the signer and expiry', async () => {
    const r = await run(['bundle', 'verify', signed1, '--require-signature', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-verify');
    const v = JSON.parse(r.stdout) as { signature: string; signer: { keyId: string }; expires: string };
    expect(v.signature).toBe('verified');
    expect(v.signer.keyId).toBe(keyId);
    expect(Date.parse(v.expires)).toBeGreaterThan(Date.now() + 360 * 86400_000);
  });

  it('Given an empty trust dir but --trusted-key, Then it verifies; with neither, exit 21', async () => {
    const empty = { KUBECHAT_TRUST_DIR: join(ws.dir, 'no-trust') };
    const ok = await run(['bundle', 'verify', signed1, '--trusted-key', join(ws.dir, 'release.pub')], empty);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`signature verified: key ${keyId}`);
    expect(await refusedJson(['bundle', 'verify', signed1], ExitCode.untrustedSigner, empty)).toMatch(
      /not a trusted key/,
    );
  });

  it('Given an unsigned bundle, Then verify passes it unless --require-signature (20)', async () => {
    const c = await run(['bundle', 'create', '-f', spec1, '-o', join(ws.dir, 'u1'), '--json']);
    const unsigned = (JSON.parse(c.stdout) as { bundle: string }).bundle;
    const r = await run(['bundle', 'verify', unsigned]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('signature absent');
    expect(
      await refusedJson(['bundle', 'verify', unsigned, '--require-signature'], ExitCode.unsigned),
    ).toMatch(/is not signed/);
  });

  it('Then inspect shows the claimed signer key id and the expiry', async () => {
    const r = await run(['bundle', 'inspect', signed1, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'bundle-inspect');
    const i = JSON.parse(r.stdout) as {
      signer: { keyId: string; statementMatchesManifest: boolean };
      expires: string;
    };
    expect(i.signer).toMatchObject({ keyId, statementMatchesManifest: true });
    expect(i.expires).toBeTruthy();
    const text = await run(['bundle', 'inspect', signed1]);
    expect(text.stdout).toContain(`signature by key ${keyId}`);
  });
});

describe('bundle sign', () => {
  it('Given an unsigned split bundle, When signed, Then the parts are replaced in place and verify accepts it', async () => {
    const out = join(ws.dir, 'split');
    const c = await run(['bundle', 'create', '-f', spec1, '-o', out, '--split', '1M', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const partsFile = (JSON.parse(c.stdout) as { bundle: string }).bundle;
    const manifestBefore = (
      await sh(`cat '${out}'/*.0* | zstd -dc | tar -xO kubechat-bundle.json | sha256sum`)
    ).stdout;
    const s = await run([
      'bundle',
      'sign',
      partsFile,
      '--key',
      join(ws.dir, 'release.key'),
      '--expires',
      '30d',
      '--json',
    ]);
    expect(s.code, s.stderr).toBe(0);
    conforms(s.stdout, 'bundle-sign');
    expect(JSON.parse(s.stdout)).toMatchObject({ keyId, replaced: null });
    expect(
      (await sh(`cat '${out}'/*.0* | zstd -dc | tar -t | head -2`)).stdout.split('\n').slice(0, 2),
    ).toEqual(['kubechat-bundle.json', 'kubechat-bundle.sigstore.json']);
    // The manifest is kept byte for byte: deltas made against this bundle still find their base.
    expect((await sh(`cat '${out}'/*.0* | zstd -dc | tar -xO kubechat-bundle.json | sha256sum`)).stdout).toBe(
      manifestBefore,
    );
    expect((await readdir(out)).filter((n) => n.startsWith('.'))).toEqual([]);
    const v = await run(['bundle', 'verify', partsFile, '--require-signature']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(
      await refusedJson(['bundle', 'sign', partsFile, '--key', join(ws.dir, 'release.key')], ExitCode.spec),
    ).toMatch(/already signed/);
    // The passphrase from a file (a mounted secret) instead of the environment.
    await writeFile(join(ws.dir, 'passphrase.txt'), `${PASS}\n`, { mode: 0o600 });
    const again = await run(
      ['bundle', 'sign', partsFile, '--key', join(ws.dir, 'release.key'), '--replace', '--json'],
      {
        KUBECHAT_KEY_PASSPHRASE: '',
        KUBECHAT_KEY_PASSPHRASE_FILE: join(ws.dir, 'passphrase.txt'),
      },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ replaced: keyId });
  });

  it('Given the wrong passphrase, Then sign fails with 29 and the bundle is untouched', async () => {
    const c = await run(['bundle', 'create', '-f', spec1, '-o', join(ws.dir, 'wp'), '--json']);
    const b = (JSON.parse(c.stdout) as { bundle: string }).bundle;
    const before = (await sh(`sha256sum < '${b}'`)).stdout;
    expect(
      await refusedJson(['bundle', 'sign', b, '--key', join(ws.dir, 'release.key')], ExitCode.passphrase, {
        KUBECHAT_KEY_PASSPHRASE: 'wrong',
      }),
    ).toMatch(/wrong passphrase/);
    expect((await sh(`sha256sum < '${b}'`)).stdout).toBe(before);
    // create unlocks the key before any work: nothing is written either.
    const out = join(ws.dir, 'wp2');
    await refusedJson(
      ['bundle', 'create', '-f', spec1, '-o', out, '--key', join(ws.dir, 'release.key')],
      ExitCode.passphrase,
      {
        KUBECHAT_KEY_PASSPHRASE: 'wrong',
      },
    );
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});

describe('delta and merge', () => {
  it('Given a signed delta, When merged, Then the full bundle keeps the signature and it still verifies', async () => {
    const key = join(ws.dir, 'release.key');
    const d = await run([
      'bundle',
      'create',
      '-f',
      spec2,
      '-o',
      join(ws.dir, 'delta'),
      '--base',
      signed1,
      '--key',
      key,
      '--json',
    ]);
    expect(d.code, d.stderr).toBe(0);
    const delta = (JSON.parse(d.stdout) as { bundle: string }).bundle;
    const vd = await run(['bundle', 'verify', delta, '--base', signed1, '--require-signature']);
    expect(vd.code, vd.stdout + vd.stderr).toBe(0);
    const m = await run([
      'bundle',
      'merge',
      '--base',
      signed1,
      delta,
      '-o',
      join(ws.dir, 'merged'),
      '--json',
    ]);
    expect(m.code, m.stderr).toBe(0);
    const merged = (JSON.parse(m.stdout) as { bundle: string }).bundle;
    const sig = async (f: string) =>
      (await sh(`zstd -dc '${f}' | tar -xO kubechat-bundle.sigstore.json | sha256sum`)).stdout;
    expect(await sig(merged)).toBe(await sig(delta));
    const vm = await run(['bundle', 'verify', merged, '--require-signature', '--json']);
    expect(vm.code, vm.stdout + vm.stderr).toBe(0);
    expect(JSON.parse(vm.stdout)).toMatchObject({ ok: true, signature: 'verified', signer: { keyId } });
  });
});

describe('interoperability', () => {
  it('Given only the public key, When a separate process verifies with @sigstore/verify, Then the signature holds and names the manifest', async () => {
    const dir = join(ws.dir, 'interop');
    await sh(
      `mkdir -p '${dir}' && zstd -dc '${signed1}' | tar -x -C '${dir}' kubechat-bundle.json kubechat-bundle.sigstore.json`,
    );
    // Nothing of kubechat is imported: the @sigstore packages, node:crypto and the .pub file only.
    const script = join(dir, 'verify.mjs');
    await writeFile(
      script,
      `import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createHash, createPublicKey } from 'node:crypto';
const require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const [sigFile, pubFile, manifestFile] = process.argv.slice(2);
const pub = createPublicKey(readFileSync(pubFile, 'utf8'));
const der = pub.export({ type: 'spki', format: 'der' });
const hint = createHash('sha256').update(der).digest('hex');
const bundle = bundleFromJSON(JSON.parse(readFileSync(sigFile, 'utf8')));
const root = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
const trust = toTrustMaterial(root, { [hint]: { rawBytes: der, keyDetails: 7, validFor: undefined } });
new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
const statement = JSON.parse(bundle.content.dsseEnvelope.payload.toString());
const digest = createHash('sha256').update(readFileSync(manifestFile)).digest('hex');
if (statement.subject[0].digest.sha256 !== digest) throw new Error('subject does not match the manifest');
console.log('verified ' + hint);
`,
    );
    const node = `'${process.execPath}' '${script}' '${join(dir, 'kubechat-bundle.sigstore.json')}'`;
    const ok = await sh(`${node} '${join(ws.dir, 'release.pub')}' '${join(dir, 'kubechat-bundle.json')}'`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(`verified ${keyId}`);
    // Another public key: the same independent verifier refuses.
    const wrong = await sh(`${node} '${join(ws.dir, 'plain.pub')}' '${join(dir, 'kubechat-bundle.json')}'`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/key not found/);
  });
});

describe('secrets', () => {
  it('Then no output of any command above holds the passphrase or private key bytes', async () => {
    const key = JSON.parse(await readFile(join(ws.dir, 'release.key'), 'utf8')) as { secret: string };
    const plain = JSON.parse(await readFile(join(ws.dir, 'plain.key'), 'utf8')) as { secret: string };
    const seed = Buffer.from(plain.secret, 'base64');
    const needles = [PASS, key.secret, plain.secret, seed.toString('hex'), seed.toString('base64url')];
    expect(outputs.length).toBeGreaterThan(15);
    for (const o of outputs) {
      for (const n of needles) {
        expect(o.stdout).not.toContain(n);
        expect(o.stderr).not.toContain(n);
      }
    }
  });
});
