import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import { parseChallenge, RegistryClient, RegistryHttpError } from '../../src/oci/registry-client.js';
import { credentialsFromAuthFiles, parseRegistryAuthFlag } from '../../src/oci/registry-credentials.js';
import { failure } from '../support/helpers.js';
import { freePort, makeCertificates, startRegistry, type TestRegistry } from '../support/registry.js';

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Pushes a blob with POST + monolithic PUT and reads it back: the smallest real round trip. */
async function pushAndPull(client: RegistryClient, host: string, repo = 'test/app') {
  const data = Buffer.from(`blob for ${host} ${Math.random()}`);
  const digest = sha256(data);
  const scope = `repository:${repo}:pull,push`;
  const start = await client.request(host, { method: 'POST', path: `/v2/${repo}/blobs/uploads/`, scope });
  await start.body.dump();
  expect(start.status).toBe(202);
  const location = new URL(start.headers.location!, start.url);
  location.searchParams.set('digest', digest);
  const put = await client.request(host, {
    method: 'PUT',
    path: location.toString(),
    body: data,
    headers: { 'content-type': 'application/octet-stream' },
    scope,
  });
  await put.body.dump();
  expect(put.status).toBe(201);
  const get = await client.request(host, { method: 'GET', path: `/v2/${repo}/blobs/${digest}`, scope });
  expect(Buffer.from(await get.body.text())).toEqual(data);
  return digest;
}

describe('registry client against docker-registry', () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let tls: TestRegistry;
  let ca: string;

  beforeAll(async () => {
    const certs = await makeCertificates();
    ca = certs.ca;
    [plain, basic, tls] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { username: 'robot', password: 's3cret-pass' } }),
      startRegistry({ tls: { cert: certs.cert, key: certs.key } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), basic?.stop(), tls?.stop()]);
  });

  it('talks plain HTTP to a loopback registry and round-trips a blob', async () => {
    const client = new RegistryClient({ useAuthFiles: false });
    expect(await client.origin(plain.host)).toBe(`http://${plain.host}`);
    await pushAndPull(client, plain.host);
    await client.close();
  });

  it('returns accepted statuses and throws notFound (exit 12) for the rest', async () => {
    const client = new RegistryClient({ useAuthFiles: false });
    const missing = 'sha256:' + '0'.repeat(64);
    const head = await client.request(plain.host, {
      method: 'HEAD',
      path: `/v2/test/app/blobs/${missing}`,
      accept: [404],
    });
    expect(head.status).toBe(404);
    const err = await failure(
      client.request(plain.host, {
        method: 'GET',
        path: `/v2/test/nothing/manifests/1.0`,
        what: 'test/nothing:1.0',
      }),
    );
    expect(err.exitCode).toBe(12);
    expect(err.message).toContain('test/nothing:1.0 not found');
    expect((err as RegistryHttpError).codes).toContain('MANIFEST_UNKNOWN');
    await client.close();
  });

  it('uses basic credentials, from flags or from an auth file, and refuses wrong ones with exit 11', async () => {
    const anonymous = new RegistryClient({ useAuthFiles: false });
    const noCreds = await failure(pushAndPull(anonymous, basic.host));
    expect(noCreds.exitCode).toBe(11);
    expect(noCreds.message).toContain('authentication required');
    expect(noCreds.fix).toContain('--registry-auth');

    const wrong = new RegistryClient({
      useAuthFiles: false,
      credentials: new Map([[basic.host, { username: 'robot', password: 'wrong-pass' }]]),
    });
    const refused = await failure(pushAndPull(wrong, basic.host));
    expect(refused.exitCode).toBe(11);
    expect(refused.message).toContain('credentials refused');
    expect(refused.message).not.toContain('wrong-pass');

    const explicit = new RegistryClient({
      useAuthFiles: false,
      credentials: new Map([[basic.host, { username: 'robot', password: 's3cret-pass' }]]),
    });
    await pushAndPull(explicit, basic.host);

    const dir = await mkdtemp(join(tmpdir(), 'kubechat-auth-'));
    const file = join(dir, 'auth.json');
    const auth = Buffer.from('robot:s3cret-pass').toString('base64');
    await writeFile(file, JSON.stringify({ auths: { [`http://${basic.host}/v2/`]: { auth } } }));
    const fromFile = new RegistryClient({ env: { REGISTRY_AUTH_FILE: file } });
    await pushAndPull(fromFile, basic.host);
    await Promise.all([anonymous.close(), wrong.close(), explicit.close(), fromFile.close()]);
  });

  it('basic auth: eight first requests at once all succeed (a Basic challenge met by another request is no refusal)', async () => {
    const client = new RegistryClient({
      useAuthFiles: false,
      credentials: new Map([[basic.host, { username: 'robot', password: 's3cret-pass' }]]),
    });
    const missing = 'sha256:' + '1'.repeat(64);
    const heads = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.request(basic.host, { method: 'HEAD', path: `/v2/test/app/blobs/${missing}`, accept: [404] }),
      ),
    );
    expect(heads.map((h) => h.status)).toEqual(Array(8).fill(404));
    // Wrong credentials are still refused, concurrently too.
    const wrong = new RegistryClient({
      useAuthFiles: false,
      credentials: new Map([[basic.host, { username: 'robot', password: 'wrong-pass' }]]),
    });
    const errors = await Promise.all(
      Array.from({ length: 4 }, () =>
        failure(
          wrong.request(basic.host, { method: 'HEAD', path: `/v2/test/app/blobs/${missing}`, accept: [404] }),
        ),
      ),
    );
    expect(errors.map((e) => e.exitCode)).toEqual([11, 11, 11, 11]);
    await Promise.all([client.close(), wrong.close()]);
  });

  it('verifies TLS against the given CA, refuses an untrusted certificate, and skips verification only for --insecure-registry', async () => {
    const untrusted = new RegistryClient({ useAuthFiles: false });
    const err = await failure(pushAndPull(untrusted, tls.host));
    expect(err.exitCode).toBe(10);
    expect(err.message).toContain('TLS certificate not trusted');
    expect(err.fix).toContain('--registry-ca');

    const trusted = new RegistryClient({ useAuthFiles: false, ca: await readText(ca) });
    expect(await trusted.origin(tls.host)).toBe(`https://${tls.host}`);
    await pushAndPull(trusted, tls.host);

    const insecure = new RegistryClient({ useAuthFiles: false, insecure: [tls.host] });
    await pushAndPull(insecure, tls.host);
    await Promise.all([untrusted.close(), trusted.close(), insecure.close()]);
  });

  it('fails with exit 10 and a fix when nothing listens', async () => {
    const port = await freePort();
    const client = new RegistryClient({ useAuthFiles: false, attempts: 2, retryDelayMs: 5 });
    const err = await failure(client.request(`127.0.0.1:${port}`, { method: 'GET', path: '/v2/' }));
    expect(err).toBeInstanceOf(KubechatError);
    expect(err.exitCode).toBe(10);
    expect(err.message).toContain('cannot reach the registry');
    await client.close();
  });
});

async function readText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
async function serve(handler: Handler): Promise<{ server: Server; host: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, host: `127.0.0.1:${port}` };
}

describe('registry client protocol details (in-process servers)', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it('does the anonymous bearer token flow once per scope and sends the token after', async () => {
    const tokenRequests: URLSearchParams[] = [];
    let authorized = 0;
    const { server, host } = await serve((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/token') {
        tokenRequests.push(url.searchParams);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ token: `tok-${url.searchParams.get('scope')}`, expires_in: 300 }));
        return;
      }
      const scope = url.pathname.startsWith('/v2/a/') ? 'repository:a:pull' : 'repository:b:pull';
      if (req.headers.authorization !== `Bearer tok-${scope}`) {
        res.statusCode = 401;
        res.setHeader(
          'www-authenticate',
          `Bearer realm="http://${req.headers.host}/token",service="test-registry",scope="${scope}"`,
        );
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      authorized++;
      res.end('ok');
    });
    servers.push(server);
    const client = new RegistryClient({ useAuthFiles: false });
    for (const repo of ['a', 'a', 'b', 'a']) {
      const res = await client.request(host, {
        method: 'GET',
        path: `/v2/${repo}/tags/list`,
        scope: `repository:${repo}:pull`,
      });
      expect(await res.body.text()).toBe('ok');
    }
    expect(authorized).toBe(4);
    expect(tokenRequests.map((p) => [p.get('service'), p.get('scope')])).toEqual([
      ['test-registry', 'repository:a:pull'],
      ['test-registry', 'repository:b:pull'],
    ]);
    await client.close();
  });

  it('retries 5xx and honours attempts; a persistent 5xx is exit 10', async () => {
    let calls = 0;
    const { server, host } = await serve((_req, res) => {
      calls++;
      res.statusCode = calls <= 2 ? 503 : 200;
      res.end(calls <= 2 ? 'busy' : 'fine');
    });
    servers.push(server);
    const client = new RegistryClient({ useAuthFiles: false, retryDelayMs: 5 });
    const res = await client.request(host, { method: 'GET', path: '/v2/' });
    expect(await res.body.text()).toBe('fine');
    expect(calls).toBe(3);

    calls = -100;
    const few = new RegistryClient({ useAuthFiles: false, retryDelayMs: 1, attempts: 3 });
    const err = await failure(few.request(host, { method: 'GET', path: '/v2/' }));
    expect(err.exitCode).toBe(10);
    expect(calls).toBe(-97);
    await Promise.all([client.close(), few.close()]);
  });

  it('follows blob redirects and drops Authorization when leaving the registry host', async () => {
    let storageAuth: string | undefined = 'unset';
    const storage = await serve((req, res) => {
      storageAuth = req.headers.authorization;
      res.end('blob-bytes');
    });
    servers.push(storage.server);
    const registry = await serve((req, res) => {
      if (req.headers.authorization !== 'Basic ' + Buffer.from('u:p').toString('base64')) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', 'Basic realm="r"');
        res.end();
        return;
      }
      res.statusCode = 307;
      res.setHeader('location', `http://${storage.host}/signed?x=1`);
      res.end();
    });
    servers.push(registry.server);
    const client = new RegistryClient({
      useAuthFiles: false,
      credentials: new Map([[registry.host, { username: 'u', password: 'p' }]]),
    });
    const res = await client.request(registry.host, { method: 'GET', path: '/v2/x/blobs/sha256:abc' });
    expect(await res.body.text()).toBe('blob-bytes');
    expect(res.url).toBe(`http://${storage.host}/signed?x=1`);
    expect(storageAuth).toBeUndefined();
    await client.close();
  });
});

describe('credentials and challenges', () => {
  it('parses WWW-Authenticate challenges', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/nginx:pull',
      },
    });
    expect(parseChallenge('Basic realm=registry')).toEqual({
      scheme: 'basic',
      params: { realm: 'registry' },
    });
  });

  it('reads --registry-auth passwords from the environment only', () => {
    expect(parseRegistryAuthFlag('reg.example.com:5000=robot:REG_PASS', { REG_PASS: 'pw' })).toEqual([
      'reg.example.com:5000',
      { username: 'robot', password: 'pw' },
    ]);
    expect(() => parseRegistryAuthFlag('reg.example.com=robot:REG_PASS', {})).toThrow(
      /no environment variable of the name after the colon is set/,
    );
    let message = '';
    try {
      parseRegistryAuthFlag('reg.example.com=robot:hunter2!', {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('not HOST=USER:PASSWORD_ENV_VAR');
    expect(message).not.toContain('hunter2');
  });

  it('finds Docker Hub credentials under any of its spellings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubechat-auth-'));
    const file = join(dir, 'config.json');
    const auth = Buffer.from('me:pw:with:colons').toString('base64');
    await writeFile(file, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth } } }));
    expect(credentialsFromAuthFiles('docker.io', { REGISTRY_AUTH_FILE: file })).toEqual({
      username: 'me',
      password: 'pw:with:colons',
    });
    expect(credentialsFromAuthFiles('ghcr.io', { REGISTRY_AUTH_FILE: file })).toBeUndefined();
  });
});
