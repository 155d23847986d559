/**
 * A test double in front of a real docker-registry, written from the distribution spec and the Docker
 * token-auth spec (https://distribution.github.io/distribution/spec/auth/token/):
 *
 * - `bearer`: every /v2/ request without `Authorization: Bearer <token>` gets 401 with
 *   `WWW-Authenticate: Bearer realm="<proxy>/token",service="kubechat-test",scope="repository:<repo>:pull"`.
 *   GET /token?service=…&scope=… returns `{"token": …, "access_token": …, "expires_in": 300}`, checking
 *   basic credentials when `bearer.username` is set (401 otherwise).
 * - `dropAfter`: the first `drops` blob GETs are cut (socket destroyed) after that many body bytes,
 *   to prove that downloads resume with Range.
 * - `corrupt`: blob GETs for this digest get one byte flipped (a registry serving wrong content).
 * - `ignoreRange`: Range headers are not forwarded (a server or proxy that always sends the whole blob).
 * - Counts requests and blob body bytes it forwarded, so tests can prove the cache avoided transfers.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface ProxyOptions {
  /** The upstream registry base URL, e.g. http://127.0.0.1:5000 */
  upstream: string;
  bearer?: { username?: string; password?: string };
  dropAfter?: number;
  drops?: number;
  corrupt?: string;
  /** Drop Range headers, answering every blob GET with the whole blob (a server without ranges). */
  ignoreRange?: boolean;
}

export interface RegistryProxy {
  host: string;
  url: string;
  stats: {
    requests: number;
    blobRequests: number;
    blobBytes: number;
    tokenRequests: number;
    rangeRequests: number;
  };
  stop(): Promise<void>;
}

export async function startRegistryProxy(options: ProxyOptions): Promise<RegistryProxy> {
  const token = randomBytes(16).toString('hex');
  const stats = { requests: 0, blobRequests: 0, blobBytes: 0, tokenRequests: 0, rangeRequests: 0 };
  let dropsLeft = options.drops ?? 0;
  let self = '';

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const url = new URL(req.url ?? '/', self);
    if (url.pathname === '/token' && options.bearer) {
      stats.tokenRequests++;
      if (options.bearer.username !== undefined) {
        const want = `Basic ${Buffer.from(`${options.bearer.username}:${options.bearer.password ?? ''}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
          return;
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
      return;
    }
    if (
      options.bearer &&
      url.pathname.startsWith('/v2/') &&
      req.headers.authorization !== `Bearer ${token}`
    ) {
      const repo = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1];
      const scope = repo ? `,scope="repository:${repo}:pull"` : '';
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="${self}/token",service="kubechat-test"${scope}`,
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(url.pathname);
    const headers: Record<string, string> = {};
    for (const h of options.ignoreRange ? ['accept', 'content-type'] : ['accept', 'range', 'content-type']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    if (isBlob) stats.blobRequests++;
    if (isBlob && req.headers.range) stats.rangeRequests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const upstream = await request(`${options.upstream}${url.pathname}${url.search}`, {
      method: (req.method ?? 'GET') as 'GET',
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(upstream.headers)) {
      if (typeof v === 'string' && !['transfer-encoding', 'connection', 'keep-alive'].includes(k)) out[k] = v;
    }
    if (out.location) out.location = out.location.replace(options.upstream, self);
    res.writeHead(upstream.statusCode, out);
    const length = Number(upstream.headers['content-length'] ?? 0);
    const drop =
      isBlob &&
      upstream.statusCode < 300 &&
      dropsLeft > 0 &&
      options.dropAfter !== undefined &&
      length > options.dropAfter;
    if (drop) dropsLeft--;
    const corrupt = isBlob && options.corrupt !== undefined && url.pathname.endsWith(options.corrupt);
    let sent = 0;
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      let c = chunk;
      if (corrupt && sent === 0 && c.length > 0) {
        c = Buffer.from(c);
        c[0] = c[0]! ^ 0xff;
      }
      if (drop && sent + c.length > options.dropAfter!) {
        const head = c.subarray(0, options.dropAfter! - sent);
        if (head.length > 0) res.write(head);
        stats.blobBytes += head.length;
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy();
        upstream.body.destroy();
        return;
      }
      sent += c.length;
      if (isBlob) stats.blobBytes += c.length;
      if (!res.write(c)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  self = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    url: self,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves the files of `dir` over plain HTTP (a static Helm chart repository); counts requests. */
export async function startStaticServer(
  dir: string,
  options: {
    /** Require HTTP basic auth with these credentials (401 + WWW-Authenticate otherwise), as ChartMuseum does. */
    basicAuth?: { username: string; password: string };
    /** Serve HTTPS with this PEM certificate and key (e.g. from makeCertificates). */
    tls?: { cert: string; key: string };
  } = {},
): Promise<{
  url: string;
  requests: string[];
  authorizations: Array<string | undefined>;
  stop(): Promise<void>;
}> {
  const { readFile } = await import('node:fs/promises');
  const { join, normalize } = await import('node:path');
  const requests: string[] = [];
  const authorizations: Array<string | undefined> = [];
  const expected = options.basicAuth
    ? `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`
    : undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    requests.push(path);
    authorizations.push(req.headers.authorization);
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' });
      res.end('unauthorized');
      return;
    }
    readFile(join(dir, path)).then(
      (data) => {
        res.writeHead(200, { 'content-length': String(data.length) });
        res.end(data);
      },
      () => {
        res.writeHead(404);
        res.end('not found');
      },
    );
  };
  const server = options.tls
    ? createHttpsServer(
        { cert: await readFile(options.tls.cert), key: await readFile(options.tls.key) },
        handler,
      )
    : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    authorizations,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
