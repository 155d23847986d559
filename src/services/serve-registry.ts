/**
 * `kubechat registry serve`: a read-only OCI registry over a bundle (or its split parts) or an OCI
 * image layout, read in place, so nodes can pull during bootstrap before a real registry exists.
 * Concurrency comes from node's HTTP server: every request streams its own range of the store.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { serveAddressError, serveAuthError, serveTlsError, specError } from '../lib/errors.js';
import { isLoopbackHost } from '../oci/registry-client.js';
import { loadHtpasswd } from '../serve/htpasswd.js';
import { buildCatalog, listTags } from '../serve/catalog.js';
import { registryHandler } from '../serve/registry-handler.js';
import { openBundleStore, openLayoutStore, type OpenedStore } from '../serve/stores.js';
import { openTrustedBundle, type TrustCheck } from '../signing/policy.js';
import { loadTrustedKeys, type TrustOptions } from '../signing/trust.js';

export const DEFAULT_ADDR = '127.0.0.1:5000';

export interface ServeOptions {
  /** A bundle file, its first part or parts file, or `oci:DIR`. */
  source: string;
  /** HOST:PORT; port 0 picks a free one. */
  addr: string;
  tls?: { certPath: string; keyPath: string };
  /** An htpasswd file (bcrypt entries): every request then needs basic auth. */
  htpasswd?: string;
  /**
   * A bundle is served only when the trust policy accepts it, as for install (no rollback check:
   * serving installs nothing). An OCI layout carries no signature and is served as it is.
   */
  trust: TrustOptions & Pick<TrustCheck, 'allowUnsigned' | 'allowExpired'>;
  /** The overrides the policy accepted, said before the port opens. */
  onWarning?: (message: string) => void;
  /** A blob stream that failed after its response started (corrupt media, a vanished part). */
  onStreamError?: (err: unknown, what: string) => void;
}

export interface ServedTag {
  repository: string;
  tag: string;
  digest: string;
}

export interface RegistryServer {
  /** host:port actually bound ([v6]:port for IPv6). */
  address: string;
  url: string;
  tls: boolean;
  /** Whether requests need basic auth (--htpasswd), and how many users the file holds. */
  auth: { kind: 'none' } | { kind: 'basic'; users: number };
  source: { path: string } & OpenedStore['source'];
  tags: ServedTag[];
  warnings: string[];
  /** Stops accepting, lets responses in flight finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** 127.0.0.0/8, ::1 and localhost: an address only this host can reach. */
function isLoopbackAddress(host: string): boolean {
  return isLoopbackHost(isIP(host) === 6 ? `[${host}]` : host);
}

export function parseAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw specError(
      `--addr ${addr}: expected HOST:PORT`,
      'e.g. {flag:addr} 127.0.0.1:5000, {flag:addr} 0.0.0.0:5000 (every interface) or {flag:addr} [::1]:5000',
    );
  }
  return { host: m[1] ?? m[2]!, port };
}

async function tlsOptions(tls: {
  certPath: string;
  keyPath: string;
}): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw serveTlsError(
        `${path}: cannot read the TLS ${what} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        `check ${what === 'certificate' ? '{flag:tls-cert}' : '{flag:tls-key}'} and that this user can read it`,
        err,
      );
    }
  };
  const cert = await read(tls.certPath, 'certificate');
  const key = await read(tls.keyPath, 'key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's reason only ("key values mismatch", "no start line"): it never quotes key material.
    const reason = (err as Error).message.replace(/^error:[0-9A-F]+:/, '');
    throw serveTlsError(
      `${tls.certPath} / ${tls.keyPath}: not a usable TLS certificate and key pair (${reason})`,
      'pass a PEM certificate with {flag:tls-cert} and its unencrypted PEM private key with {flag:tls-key}',
      err,
    );
  }
  return { cert, key };
}

function listenError(err: NodeJS.ErrnoException, addr: string) {
  switch (err.code) {
    case 'EADDRINUSE':
      return serveAddressError(
        `${addr}: address already in use`,
        'stop what listens there or choose another {flag:addr}',
        err,
      );
    case 'EACCES':
    case 'EPERM':
      return serveAddressError(
        `${addr}: permission denied (ports below 1024 need privileges)`,
        'choose a port of 1024 or more, e.g. {flag:addr} 127.0.0.1:5000',
        err,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return serveAddressError(
        `${addr}: not an address of this host`,
        'use an address of a local interface, 127.0.0.1 or 0.0.0.0',
        err,
      );
    default:
      return serveAddressError(`${addr}: cannot listen (${err.code ?? err.message})`, undefined, err);
  }
}

export async function serveRegistry(options: ServeOptions): Promise<RegistryServer> {
  if (!options.source.startsWith('oci:')) {
    // Nodes pull what this serves: the same trust check as install, before the port opens.
    const trustedKeys = await loadTrustedKeys(options.trust);
    const { policy } = await openTrustedBundle(options.source, {
      trustedKeys,
      allowUnsigned: options.trust.allowUnsigned,
      allowExpired: options.trust.allowExpired,
    });
    for (const w of policy.warnings) options.onWarning?.(w);
  }
  const { host, port } = parseAddress(options.addr);
  const tls = options.tls ? await tlsOptions(options.tls) : undefined;
  if (options.htpasswd && !tls && !isLoopbackAddress(host)) {
    throw serveAuthError(
      `--htpasswd on ${options.addr} without TLS: passwords would cross the network in clear`,
      'add {flag:tls-cert}/{flag:tls-key} (kubechat ca issue can make them), or listen on loopback',
    );
  }
  const auth = options.htpasswd ? await loadHtpasswd(options.htpasswd) : undefined;
  const opened = options.source.startsWith('oci:')
    ? await openLayoutStore(options.source.slice('oci:'.length))
    : await openBundleStore(options.source);
  const catalog = await buildCatalog(opened.store, { fallbackRepository: opened.fallbackRepository });
  const handler = registryHandler(catalog, opened.store, {
    onStreamError: options.onStreamError,
    ...(auth ? { authenticate: (header: string | undefined) => auth.check(header) } : {}),
  });
  // Larger socket buffers than the 64 KiB default: a blob streams in 128 KiB to 1 MiB chunks, and
  // waiting for 'drain' after every chunk halves throughput. Bounded per connection (4 MiB).
  const socketOptions = { highWaterMark: 4 * 1024 * 1024 };
  const server: Server = tls
    ? createHttpsServer({ ...tls, ...socketOptions }, handler)
    : createHttpServer(socketOptions, handler);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, options.addr)));
    server.listen({ host, port }, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  const shownHost = isIP(host) === 6 ? `[${host}]` : host;
  const address = `${shownHost}:${boundPort}`;
  return {
    address,
    url: `${tls ? 'https' : 'http'}://${address}`,
    tls: tls !== undefined,
    auth: auth ? { kind: 'basic', users: auth.users } : { kind: 'none' },
    source: { path: options.source, ...opened.source },
    tags: listTags(catalog),
    warnings: catalog.warnings,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
