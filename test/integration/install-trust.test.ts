/**
 * The trust policy in front of `kubechat install`: signature, trusted signer, tampered manifest,
 * expiry and rollback are all refused before any target is written, and every override is a
 * warning recorded in the state directory.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/lib/errors.js';
import { kubechat, sh } from '../support/cli.js';
import { conforms } from '../support/install-fixture.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';

const PASS = 'install-trust-test-passphrase';
let ws: Workspace;
let key: string;
let pub: string;
let otherPub: string;
const bundles: Record<string, string> = {};

async function create(version: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const spec = await ws.spec(version);
  const r = await kubechat(
    ['bundle', 'create', '-f', spec, '-o', join(ws.dir, `out-${version}`), '--json', ...extra],
    {
      env: { KUBECHAT_KEY_PASSPHRASE: PASS, ...env },
    },
  );
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { bundle: string }).bundle;
}

beforeAll(async () => {
  ws = await makeWorkspace();
  const env = { env: { KUBECHAT_KEY_PASSPHRASE: PASS } };
  expect((await kubechat(['keys', 'generate', '--out', join(ws.dir, 'release')], env)).code).toBe(0);
  expect((await kubechat(['keys', 'generate', '--out', join(ws.dir, 'other')], env)).code).toBe(0);
  key = join(ws.dir, 'release.key');
  pub = join(ws.dir, 'release.pub');
  otherPub = join(ws.dir, 'other.pub');
  bundles.v1 = await create('1.0.0', ['--key', key]);
  bundles.v2 = await create('2.0.0', ['--key', key]);
  bundles.unsigned = await create('3.0.0');
  // Created (and signed) in 2020 with a 30-day life: long expired now.
  bundles.expired = await create('4.0.0', ['--key', key, '--expires', '30d'], {
    SOURCE_DATE_EPOCH: '1577836800',
  });
}, 240_000);

async function fresh() {
  const dir = await mkdtemp(join(tmpdir(), 'kubechat-install-trust-'));
  return { state: join(dir, 'state'), registry: join(dir, 'registry'), dir };
}

function install(bundle: string, t: { state: string; registry: string }, extra: string[] = []) {
  return kubechat(['install', bundle, '--registry', `oci:${t.registry}`, '--json', ...extra], {
    env: { KUBECHAT_STATE_DIR: t.state, KUBECHAT_TRUST_DIR: join(t.state, 'trust') },
  });
}

/** The one per-target installed-versions file (these tests install into one target). */
async function stateFile(state: string) {
  const files = await readdir(join(state, 'installed'));
  expect(files).toHaveLength(1);
  return join(state, 'installed', files[0]!);
}

async function refused(
  r: { code: number; stdout: string; stderr: string },
  code: number,
  t: { registry: string },
) {
  expect(r.code, r.stderr + r.stdout).toBe(code);
  const err = (JSON.parse(r.stdout) as { error: { exitCode: number; message: string; fix: string } }).error;
  expect(err.exitCode).toBe(code);
  expect(err.fix.length).toBeGreaterThan(0);
  expect(existsSync(t.registry), 'nothing written to the target').toBe(false);
  expect(r.stdout + r.stderr).not.toContain(PASS);
  return err;
}

describe('install trust policy', () => {
  it('installs a bundle signed by a trusted key and reports the signer', async () => {
    const t = await fresh();
    const r = await install(bundles.v1!, t, ['--trusted-key', pub]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'install');
    const result = JSON.parse(r.stdout) as {
      signature: string;
      trust: { keyId: string; overrides: string[] };
    };
    expect(result.signature).toBe('verified');
    expect(result.trust.keyId).toMatch(/^[0-9a-f]{64}$|^sha256:/);
    expect(result.trust.overrides).toEqual([]);
    const recorded = JSON.parse(await readFile(await stateFile(t.state), 'utf8')) as {
      installed: Array<{ name: string; version: string }>;
    };
    expect(recorded.installed.map((v) => v.version)).toEqual(['1.0.0']);
  });

  it('also trusts keys from the trust directory (keys trust)', async () => {
    const t = await fresh();
    const trusted = await kubechat(['keys', 'trust', pub], {
      env: { KUBECHAT_TRUST_DIR: join(t.state, 'trust') },
    });
    expect(trusted.code, trusted.stderr).toBe(0);
    const r = await install(bundles.v1!, t);
    expect(r.code, r.stderr).toBe(0);
  });

  it('refuses an unsigned bundle (20) unless --allow-unsigned, which is a recorded warning', async () => {
    const t = await fresh();
    const err = await refused(await install(bundles.unsigned!, t), ExitCode.unsigned, t);
    expect(err.message).toContain('not signed');
    const r = await install(bundles.unsigned!, t, ['--allow-unsigned']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/unsigned/i);
    const result = JSON.parse(r.stdout) as { signature: string; trust: { overrides: string[] } };
    expect(result.signature).toBe('absent-allowed');
    expect(result.trust.overrides).toEqual(['allow-unsigned']);
    const state = await readFile(await stateFile(t.state), 'utf8');
    expect(state).toContain('allow-unsigned');
  });

  it('refuses a signer that is not trusted (21), even with --allow-unsigned', async () => {
    const t = await fresh();
    await refused(await install(bundles.v1!, t, ['--trusted-key', otherPub]), ExitCode.untrustedSigner, t);
    await refused(
      await install(bundles.v1!, t, ['--trusted-key', otherPub, '--allow-unsigned']),
      ExitCode.untrustedSigner,
      t,
    );
  });

  it('refuses a manifest changed after signing (23)', async () => {
    const t = await fresh();
    const tar = join(t.dir, 'b.tar');
    expect((await sh(`zstd -qdc '${bundles.v1}' > '${tar}'`)).code).toBe(0);
    const data = await readFile(tar);
    // One hex digit of a content digest: name and version still match the signed statement.
    const at = data.indexOf(Buffer.from('"sha256":"')) + '"sha256":"'.length;
    expect(at).toBeGreaterThan(20);
    data[at] = data[at] === 0x30 ? 0x31 : 0x30;
    await writeFile(tar, data);
    const tampered = join(t.dir, 'tampered.kcb.tar.zst');
    expect((await sh(`zstd -q --rm -f '${tar}' -o '${tampered}'`)).code).toBe(0);
    await refused(await install(tampered, t, ['--trusted-key', pub]), ExitCode.manifestTampered, t);
  });

  it('refuses an expired bundle (27) unless --allow-expired', async () => {
    const t = await fresh();
    const err = await refused(
      await install(bundles.expired!, t, ['--trusted-key', pub]),
      ExitCode.expired,
      t,
    );
    expect(err.message).toContain('expired');
    const r = await install(bundles.expired!, t, ['--trusted-key', pub, '--allow-expired']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { trust: { overrides: string[] } }).trust.overrides).toEqual([
      'allow-expired',
    ]);
  });

  it('refuses a replayed older version (28) unless --allow-downgrade; the same version again is a no-op', async () => {
    const t = await fresh();
    expect((await install(bundles.v2!, t, ['--trusted-key', pub])).code).toBe(0);
    const again = await install(bundles.v2!, t, ['--trusted-key', pub]);
    expect(again.code, again.stderr).toBe(0);
    const before = await readdir(join(t.registry, 'blobs', 'sha256'));
    const r = await install(bundles.v1!, t, ['--trusted-key', pub]);
    expect(r.code, r.stdout).toBe(ExitCode.downgrade);
    expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toContain('2.0.0');
    expect(await readdir(join(t.registry, 'blobs', 'sha256'))).toEqual(before);
    // Another target has never held 2.0.0: 1.0.0 is no downgrade there.
    const other = await install(bundles.v1!, { state: t.state, registry: join(t.dir, 'other') }, [
      '--trusted-key',
      pub,
    ]);
    expect(other.code, other.stderr).toBe(0);
    const forced = await install(bundles.v1!, t, ['--trusted-key', pub, '--allow-downgrade']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('--allow-downgrade');
  });
});
