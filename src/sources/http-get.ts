/**
 * Plain HTTP GET for static content (Helm chart repositories: index.yaml and chart archives). Not a
 * registry: no token flow. HTTPS always, plain HTTP only for loopback hosts and `--insecure-registry`
 * hosts (the same rule the registry client applies). Redirects are followed (chart archives are often
 * served from release assets or object storage); undici drops Authorization when one leaves the origin.
 *
 * Private repositories: basic-auth credentials from `--registry-auth HOST=USER:PASS_ENV` (by host), else
 * from Helm's repositories.yaml (by repository URL, see helm-repositories.ts). A private CA from
 * `--registry-ca` or the repository's `caFile` is trusted besides the system roots.
 */
import { Agent, interceptors, request, trustingCas, type Dispatcher } from '../lib/http.js';
import { authError, networkError, protocolError, specError } from '../lib/errors.js';
import { isLoopbackHost } from '../oci/registry-client.js';
import type { Credentials } from '../oci/registry-credentials.js';
import type { HttpGetter } from './chart-repo.js';
import { repositoryForUrl, type HelmRepository } from './helm-repositories.js';

export interface HttpClientOptions {
  /** Hosts allowed over plain HTTP (`--insecure-registry`). */
  insecure?: Iterable<string>;
  attempts?: number;
  /** Extra CA certificates (PEM), e.g. `--registry-ca`. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Explicit credentials by host (`--registry-auth`); they win over Helm's file. */
  credentials?: Map<string, Credentials>;
  /** Helm's repositories (credentials, CA), read lazily on the first request when not given. */
  helmRepositories?: () => HelmRepository[];
}

export class HttpClient implements HttpGetter {
  readonly #options: HttpClientOptions;
  readonly #insecure: Set<string>;
  #repos: HelmRepository[] | undefined;
  #pool: { agent: Agent; dispatcher: Dispatcher } | undefined;
  /** Bytes received, for the summary. */
  bytes = 0;
  requests = 0;

  constructor(options: HttpClientOptions = {}) {
    this.#options = options;
    this.#insecure = new Set([...(options.insecure ?? [])].map((h) => h.toLowerCase()));
  }

  #helmRepos(): HelmRepository[] {
    this.#repos ??= this.#options.helmRepositories?.() ?? [];
    return this.#repos;
  }

  /**
   * The connection pool, made on the first request (Helm's file is read only then): it trusts the
   * system roots plus every private CA given (--registry-ca, a repository's caFile).
   */
  #dispatcher(): Dispatcher {
    if (!this.#pool) {
      const cas = [
        ...[this.#options.ca ?? []].flat(),
        ...this.#helmRepos().flatMap((r) => (r.ca ? [r.ca] : [])),
      ];
      const agent = new Agent({ connections: 8, connect: trustingCas(cas) });
      const dispatcher = agent.compose(
        interceptors.redirect({ maxRedirections: 5 }),
        interceptors.retry({ maxRetries: (this.#options.attempts ?? 5) - 1, minTimeout: 250 }),
      );
      this.#pool = { agent, dispatcher };
    }
    return this.#pool.dispatcher;
  }

  /** Basic credentials for `url`: `--registry-auth` by host, else Helm's repository entry. */
  #credentialsFor(url: URL): { creds: Credentials; from: string } | undefined {
    const explicit = this.#options.credentials?.get(url.host.toLowerCase());
    if (explicit) return { creds: explicit, from: '--registry-auth' };
    const repo = repositoryForUrl(this.#helmRepos(), url.toString());
    if (repo?.credentials) return { creds: repo.credentials, from: `Helm repository "${repo.name}"` };
    return undefined;
  }

  async close(): Promise<void> {
    await this.#pool?.agent.close();
  }

  async get(url: string, what: string, maxBytes: number): Promise<Buffer | undefined> {
    const u = new URL(url);
    if (u.protocol === 'http:' && !isLoopbackHost(u.host) && !this.#insecure.has(u.host.toLowerCase())) {
      throw specError(
        `${what}: ${u.origin} is plain HTTP: content could be altered on the way`,
        `use https://, or pass {flag:insecure-registry} ${u.host} to accept it`,
      );
    }
    this.requests++;
    const auth = this.#credentialsFor(u);
    const headers: Record<string, string> = { 'user-agent': 'kubechat' };
    if (auth) {
      const { username, password } = auth.creds;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { dispatcher: this.#dispatcher(), headers });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i.test(code);
      throw networkError(
        `${what}: ${tls ? `TLS verification of ${u.host} failed` : `cannot reach ${u.host}`} (${code})`,
        tls
          ? 'pass the CA that signed its certificate with {flag:registry-ca} FILE'
          : 'check the URL and the network (proxy, DNS)',
        err,
      );
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw authError(
        auth
          ? `${what}: ${u.host} refused the credentials from ${auth.from} (HTTP ${res.statusCode})`
          : `${what}: ${u.host} wants credentials (HTTP ${res.statusCode})`,
        auth
          ? 'check the user name and password for this repository'
          : `pass {flag:registry-auth} ${u.host}=USER:PASSWORD_ENV_VAR, or add the repository with helm repo add --username`,
      );
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw protocolError(`${what}: unexpected HTTP ${res.statusCode} from ${url}`, 'check the URL');
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > maxBytes) {
        res.body.destroy();
        throw protocolError(`${what}: ${url} is larger than ${maxBytes} bytes`, 'check the URL');
      }
      chunks.push(chunk);
    }
    this.bytes += n;
    return Buffer.concat(chunks);
  }
}
