import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/lib/errors.js';
import { generateKey } from '../../src/signing/keys.js';
import { defaultTrustDir, loadTrustedKeys, readTrustDir, trustKey } from '../../src/signing/trust.js';
import { failure } from '../support/helpers.js';

let dir: string;
const pubs: string[] = [];
const ids: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-trust-'));
  for (const name of ['one', 'two']) {
    const { key } = await generateKey(undefined);
    const path = join(dir, name, 'release.pub');
    await mkdir(join(dir, name));
    await writeFile(path, key.pem);
    pubs.push(path);
    ids.push(key.keyId);
  }
});

describe('trust store', () => {
  it('Given no configuration, Then the trust dir is $XDG_CONFIG_HOME/kubechat/trust or ~/.config/kubechat/trust; KUBECHAT_TRUST_DIR wins', () => {
    expect(defaultTrustDir({ XDG_CONFIG_HOME: '/x' })).toBe('/x/kubechat/trust');
    expect(defaultTrustDir({ HOME: process.env.HOME })).toMatch(/\.config\/kubechat\/trust$/);
    expect(defaultTrustDir({ KUBECHAT_TRUST_DIR: '/t', XDG_CONFIG_HOME: '/x' })).toBe('/t');
  });

  it('When a key is trusted twice, Then the second time is a no-op; another key under the same name is refused', async () => {
    const trust = join(dir, 'trust');
    const first = await trustKey(pubs[0]!, { trustDir: trust });
    expect(first).toEqual({ keyId: ids[0], file: join(trust, 'release.pub'), added: true });
    expect((await stat(first.file)).mode & 0o777).toBe(0o644);
    expect(await trustKey(pubs[0]!, { trustDir: trust })).toMatchObject({ added: false });
    const err = await failure(trustKey(pubs[1]!, { trustDir: trust }));
    expect(err.exitCode).toBe(ExitCode.signature);
    expect(err.message).toMatch(/already holds another trusted key/);
    expect(await trustKey(pubs[1]!, { trustDir: trust, name: 'vendor' })).toMatchObject({
      keyId: ids[1],
      added: true,
    });
    expect((await readTrustDir(trust)).map((k) => k.keyId).sort()).toEqual([...ids].sort());
    expect(await readFile(join(trust, 'vendor.pub'), 'utf8')).toBe(await readFile(pubs[1]!, 'utf8'));
  });

  it('Then --trusted-key files and the trust dir are merged, each key once', async () => {
    const keys = await loadTrustedKeys({ keyFiles: [pubs[0]!], trustDir: join(dir, 'trust') });
    expect(keys.map((k) => k.keyId)).toEqual([ids[0], ids[1]]);
    expect(keys[0]!.source).toBe(pubs[0]);
    expect(await loadTrustedKeys({ trustDir: join(dir, 'absent') })).toEqual([]);
  });

  it('Given a bad name, Then it is refused', async () => {
    const err = await failure(trustKey(pubs[0]!, { trustDir: join(dir, 't2'), name: '../evil' }));
    expect(err.message).toMatch(/not a usable key name/);
  });
});
