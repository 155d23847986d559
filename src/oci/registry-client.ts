/**
 * The HTTP core for OCI distribution registries (distribution-spec v1.1, Docker Registry HTTP API
 * v2), on undici. Pull, push and validation build their operations on `RegistryClient.request`:
 * this module only knows how to reach a registry and authenticate to it.
 *
 * - Scheme: HTTPS, except for loopback hosts (localhost, 127.0.0.0/8, ::1) and hosts named with
 *   `insecure`, which are probed once: HTTPS first, plain HTTP when the port does not speak TLS
 *   (what Docker does for insecure registries). An insecure host's certificate is not verified;
 *   a loopback host's is (pass `ca` for a private CA).
 * - Auth: the first request goes out anonymous (or with a token cached for the same scope). On a
 *   401 the `WWW-Authenticate` challenge decides: `Bearer realm,service,scope` → a token from the
 *   realm (with basic credentials when we have them), cached until it expires; `Basic` → the
 *   credentials. Credentials come from `credentials` (explicit) or the auth files
 *   (registry-credentials.ts).
 * - Retries: connection errors, 429 and 5xx are retried with exponential backoff (honouring
 *   `Retry-After`) when the request body can be replayed.
 * - Redirects (blob downloads to object storage) are followed for GET/HEAD; the Authorization
 *   header is dropped when the redirect leaves the registry's host.
 *
 * Secrets: credentials and tokens are never put into errors or logs.
 */
import type { Readable } from 'node:stream';
import { Agent, request as undiciRequest, trustingCas, type Dispatcher } from '../lib/http.js';
import { authError, KubechatError, networkError, protocolError } from '../lib/errors.js';
import { credentialsFromAuthFiles, type Credentials } from './registry-credentials.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface RegistryClientOptions {
  /** Hosts (host[:port]) allowed over plain HTTP or with unverified TLS (`--insecure-registry`). */
  insecure?: Iterable<string>;
  /** Extra CA certificates (PEM) to trust, e.g. the air-gap CA (`--registry-ca`). */
  ca?: string | Buffer | (string | Buffer)[];
  /** Explicit credentials by host; they win over the auth files. */
  credentials?: Map<string, Credentials>;
  /** Consult ~/.docker/config.json and friends (default true). */
  useAuthFiles?: boolean;
  /** Environment for the auth-file lookup (tests). */
  env?: NodeJS.ProcessEnv;
  /** Attempts for a retryable failure, the first included (default 5). */
  attempts?: number;
  /** First backoff delay; doubles per attempt, with jitter (default 250 ms). */
  retryDelayMs?: number;
  /** Connections per origin (default 16). */
  connections?: number;
  /** Time without a byte before a request fails (default 5 min: large blobs over slow links). */
  timeoutMs?: number;
  userAgent?: string;
}

export interface RegistryRequest {
  method: HttpMethod;
  /** Path and query, starting with `/v2/`, or an absolute URL returned by the registry (Location). */
  path: string;
  headers?: Record<string, string>;
  /**
   * The body. Buffers and strings are replayed on retry and after a 401; a stream is sent once
   * (a retryable failure is then thrown to the caller, which knows how to resume).
   */
  body?: Buffer | string | Readable;
  /** Token scope, e.g. `repository:library/nginx:pull` or `repository:x:pull,push`. */
  scope?: string;
  /** Statuses returned to the caller instead of thrown (default: 2xx). 404 etc. otherwise throw. */
  accept?: number[];
  /** What the request is about, for error messages: "docker.io/library/nginx:1.27". */
  what?: string;
  signal?: AbortSignal;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string>;
  body: Readable & { text(): Promise<string>; json(): Promise<unknown>; dump(): Promise<void> };
  /** The URL that answered (after redirects). */
  url: string;
}

/** An error status from the registry, with the OCI error codes from its body. */
export class RegistryHttpError extends KubechatError {
  constructor(
    kind: 'auth' | 'notFound' | 'protocol' | 'network',
    message: string,
    fix: string,
    readonly status: number,
    readonly codes: string[],
  ) {
    super(kind, message, fix);
    this.name = 'RegistryHttpError';
  }
}

const LOOPBACK_RE = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)(?::\d+)?$/i;
/** `docker.io` is an alias: the API lives at registry-1.docker.io. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_RE.test(host);
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (RFC 7235; quoted or token values). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function isTlsError(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  return /^ERR_SSL|^ERR_TLS|EPROTO|CERT|SELF_SIGNED|UNABLE_TO|DEPTH_ZERO|HOSTNAME_MISMATCH/.test(code);
}

/** The error when the TLS handshake works but the server's certificate is not trusted. */
function isCertificateError(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO|DEPTH_ZERO|HOSTNAME_MISMATCH/.test(code);
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });

export class RegistryClient {
  readonly #insecure: Set<string>;
  readonly #credentials: Map<string, Credentials>;
  readonly #useAuthFiles: boolean;
  readonly #env: NodeJS.ProcessEnv;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly #userAgent: string;
  readonly #verified: Agent;
  readonly #unverified: Agent;
  /** Resolved base URL (scheme://host) per registry host. */
  readonly #origins = new Map<string, Promise<string>>();
  /** Bearer tokens by `host scope`. */
  readonly #tokens = new Map<string, CachedToken>();
  /** Basic credentials in use per host (after a Basic challenge). */
  readonly #basic = new Set<string>();

  constructor(options: RegistryClientOptions = {}) {
    this.#insecure = new Set([...(options.insecure ?? [])].map((h) => h.toLowerCase()));
    this.#credentials = new Map(
      [...(options.credentials ?? new Map<string, Credentials>())].map(([h, c]) => [h.toLowerCase(), c]),
    );
    this.#useAuthFiles = options.useAuthFiles ?? true;
    this.#env = options.env ?? process.env;
    this.#attempts = Math.max(1, options.attempts ?? 5);
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.#userAgent = options.userAgent ?? 'kubechat';
    const timeout = options.timeoutMs ?? 300_000;
    const common = {
      connections: options.connections ?? 16,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 10_000,
    };
    this.#verified = new Agent({ ...common, connect: trustingCas([options.ca ?? []].flat()) });
    this.#unverified = new Agent({ ...common, connect: { rejectUnauthorized: false } });
  }

  /** Closes the connection pools. */
  async close(): Promise<void> {
    await Promise.all([this.#verified.close(), this.#unverified.close()]);
  }

  isInsecure(host: string): boolean {
    return this.#insecure.has(host.toLowerCase());
  }

  /** `https://host` or `http://host`, probing loopback and insecure hosts once. */
  origin(host: string): Promise<string> {
    const key = apiHost(host.toLowerCase());
    let origin = this.#origins.get(key);
    if (!origin) {
      origin = this.#probe(key);
      this.#origins.set(key, origin);
      origin.catch(() => this.#origins.delete(key));
    }
    return origin;
  }

  async #probe(host: string): Promise<string> {
    const mayUseHttp = isLoopbackHost(host) || this.#insecure.has(host);
    if (!mayUseHttp) return `https://${host}`;
    try {
      const res = await undiciRequest(`https://${host}/v2/`, {
        method: 'GET',
        dispatcher: this.#dispatcher(host),
        headers: { 'user-agent': this.#userAgent },
      });
      await res.body.dump();
      return `https://${host}`;
    } catch (err) {
      // A certificate we do not trust on a loopback registry is a real answer: do not downgrade.
      if (isCertificateError(err) && !this.#insecure.has(host)) {
        throw networkError(
          `${host}: TLS certificate not trusted (${errorCode(err)})`,
          `pass the CA that signed it with {flag:registry-ca} FILE, or {flag:insecure-registry} ${host}`,
          err,
        );
      }
      if (isTlsError(err) || errorCode(err) === 'ECONNRESET' || errorCode(err) === 'UND_ERR_SOCKET') {
        return `http://${host}`;
      }
      throw this.#networkFailure(host, err);
    }
  }

  #dispatcher(host: string): Dispatcher {
    return this.#insecure.has(host) ? this.#unverified : this.#verified;
  }

  #credentialsFor(host: string): Credentials | undefined {
    const h = host.toLowerCase();
    const explicit = this.#credentials.get(h) ?? this.#credentials.get(apiHost(h));
    if (explicit) return explicit;
    if (!this.#useAuthFiles) return undefined;
    return credentialsFromAuthFiles(h, this.#env);
  }

  #networkFailure(host: string, err: unknown): KubechatError {
    if (err instanceof KubechatError) return err;
    const code = errorCode(err) ?? (err as Error).message;
    if (isCertificateError(err)) {
      return networkError(
        `${host}: TLS certificate not trusted (${code})`,
        `pass the CA that signed it with {flag:registry-ca} FILE, or {flag:insecure-registry} ${host}`,
        err,
      );
    }
    return networkError(
      `${host}: cannot reach the registry (${code})`,
      `check that ${host} is the right address and the registry is running`,
      err,
    );
  }

  /**
   * Sends one request, authenticating and retrying as needed. Statuses outside 2xx and `accept`
   * throw a RegistryHttpError (401/403 → auth, 404 → notFound, others → protocol).
   */
  async request(host: string, req: RegistryRequest): Promise<RegistryResponse> {
    const registry = host.toLowerCase();
    const api = apiHost(registry);
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      let res: Awaited<ReturnType<typeof undiciRequest>>;
      let url: string;
      // Whether this attempt carries Basic credentials: a 401 then means they were refused. (Another
      // request may switch the host to Basic meanwhile; a 401 to a request sent before is no verdict.)
      const sentBasic = this.#basic.has(api);
      try {
        const origin = await this.origin(api);
        url = /^https?:\/\//.test(req.path) ? req.path : origin + req.path;
        ({ res, url } = await this.#send(api, url, req));
      } catch (err) {
        if (err instanceof KubechatError) throw err;
        if (req.signal?.aborted) throw err;
        if (replayable && attempt < this.#attempts && RETRYABLE_CODES.has(errorCode(err) ?? '')) {
          await sleep(this.#backoff(attempt), req.signal);
          continue;
        }
        throw this.#networkFailure(api, err);
      }
      const status = res.statusCode;
      const headers = flattenHeaders(res.headers);
      if (status === 401 && !authRetried && replayable) {
        await res.body.dump();
        authRetried = true;
        await this.#authenticate(registry, headers['www-authenticate'], req.scope, req.what, sentBasic);
        attempt--; // an auth round trip is not a failure
        continue;
      }
      if ((status === 429 || status >= 500) && replayable && attempt < this.#attempts) {
        await res.body.dump();
        const retryAfter = Number(headers['retry-after']);
        const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 30_000) : 0;
        await sleep(Math.max(wait, this.#backoff(attempt)), req.signal);
        continue;
      }
      if ((status >= 200 && status < 300) || req.accept?.includes(status)) {
        return { status, headers, body: res.body, url };
      }
      throw await this.#statusError(registry, req, status, res.body);
    }
  }

  #backoff(attempt: number): number {
    const base = this.#retryDelayMs * 2 ** (attempt - 1);
    return Math.min(base + Math.random() * base * 0.25, 15_000);
  }

  /** One HTTP exchange, following redirects for GET/HEAD. */
  async #send(
    api: string,
    startUrl: string,
    req: RegistryRequest,
  ): Promise<{ res: Awaited<ReturnType<typeof undiciRequest>>; url: string }> {
    let url = startUrl;
    for (let hop = 0; ; hop++) {
      const target = new URL(url);
      const sameHost = target.host.toLowerCase() === api;
      const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...req.headers };
      if (sameHost) {
        const auth = this.#authorization(api, req.scope);
        if (auth) headers.authorization = auth;
      }
      const body = req.body === undefined || hop > 0 ? undefined : req.body;
      const res = await undiciRequest(url, {
        method: hop > 0 && req.method !== 'HEAD' ? 'GET' : req.method,
        headers,
        body,
        dispatcher: sameHost ? this.#dispatcher(api) : this.#verified,
        signal: req.signal,
      });
      const location = res.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(res.statusCode) && typeof location === 'string';
      if (!redirect || (req.method !== 'GET' && req.method !== 'HEAD')) return { res, url };
      await res.body.dump();
      if (hop >= 5) {
        throw protocolError(
          `${api}: too many redirects for ${req.what ?? req.path}`,
          'check the registry configuration',
        );
      }
      url = new URL(location, url).toString();
    }
  }

  #authorization(host: string, scope: string | undefined): string | undefined {
    const cached = this.#tokens.get(`${host} ${scope ?? ''}`);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    if (this.#basic.has(host)) {
      const creds = this.#credentialsFor(host);
      if (creds) return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    return undefined;
  }

  async #authenticate(
    registry: string,
    header: string | undefined,
    scope?: string,
    what?: string,
    sentBasic = false,
  ) {
    const host = apiHost(registry);
    const challenge = header ? parseChallenge(header) : undefined;
    const creds = this.#credentialsFor(registry);
    const subject = what ?? host;
    if (challenge?.scheme === 'basic') {
      if (!creds || sentBasic) throw this.#authFailure(registry, subject, !!creds);
      this.#basic.add(host);
      return;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) {
      throw this.#authFailure(registry, subject, !!creds);
    }
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    const wanted = scope ?? challenge.params.scope;
    if (wanted) realm.searchParams.append('scope', wanted);
    const headers: Record<string, string> = { 'user-agent': this.#userAgent };
    if (creds) {
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    let res: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      const realmHost = realm.host.toLowerCase();
      res = await undiciRequest(realm, {
        method: 'GET',
        headers,
        dispatcher: this.#dispatcher(realmHost),
      });
    } catch (err) {
      throw this.#networkFailure(realm.host, err);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw this.#authFailure(registry, subject, !!creds);
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw protocolError(
        `${realm.host}: token service answered HTTP ${res.statusCode} for ${subject}`,
        'check the registry and its token service',
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = (await res.body.json()) as typeof body;
    } catch (err) {
      throw protocolError(
        `${realm.host}: token service answered with invalid JSON`,
        'check the token service',
        err,
      );
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw protocolError(`${realm.host}: token service answered without a token`, 'check the token service');
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    this.#tokens.set(`${host} ${scope ?? ''}`, {
      token,
      expiresAt: Date.now() + Math.max(lifetime - 10, 5) * 1000,
    });
  }

  #authFailure(registry: string, subject: string, hadCredentials: boolean): KubechatError {
    return hadCredentials
      ? authError(
          `${registry}: credentials refused for ${subject}`,
          `check the user and password given for ${registry} ({flag:registry-auth} or the auth file)`,
        )
      : authError(
          `${registry}: authentication required for ${subject}`,
          `pass {flag:registry-auth} ${registry}=USER:PASSWORD_ENV_VAR, or log in so ~/.docker/config.json has credentials`,
        );
  }

  async #statusError(
    registry: string,
    req: RegistryRequest,
    status: number,
    body: RegistryResponse['body'],
  ): Promise<KubechatError> {
    let codes: string[] = [];
    let detail = '';
    if (req.method !== 'HEAD') {
      const text = await body.text().catch(() => '');
      try {
        const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
        codes = errors.map((e) => e.code ?? '').filter(Boolean);
        detail = errors
          .map((e) => [e.code, e.message].filter(Boolean).join(': '))
          .filter(Boolean)
          .join('; ');
      } catch {
        detail = '';
      }
    } else {
      await body.dump();
    }
    const subject = req.what ?? `${req.method} ${req.path.replace(/\?.*$/, '')}`;
    const suffix = detail ? ` (${detail.slice(0, 200)})` : '';
    if (status === 401 || status === 403) {
      const creds = !!this.#credentialsFor(registry);
      const base = this.#authFailure(registry, subject, creds);
      return new RegistryHttpError(
        'auth',
        `${base.message}: HTTP ${status}${suffix}`,
        base.fixTemplate ?? '',
        status,
        codes,
      );
    }
    if (status === 404) {
      return new RegistryHttpError(
        'notFound',
        `${registry}: ${subject} not found${suffix}`,
        'check the repository name and tag (or digest)',
        status,
        codes,
      );
    }
    if (status >= 500 || status === 429) {
      return new RegistryHttpError(
        'network',
        `${registry}: server error HTTP ${status} for ${subject}${suffix}`,
        'the registry is failing; check its logs and run the command again',
        status,
        codes,
      );
    }
    return new RegistryHttpError(
      'protocol',
      `${registry}: unexpected HTTP ${status} for ${subject}${suffix}`,
      'check that the address is an OCI registry and the request is allowed',
      status,
      codes,
    );
  }
}
