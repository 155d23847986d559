/**
 * Plain HTTP GET for static content (Helm chart repositories: index.yaml and chart archives). Not a
 * registry: no token flow. HTTPS always, plain HTTP only for loopback hosts and `--insecure-registry`
 * hosts (the same rule the registry client applies). Redirects are followed (chart archives are often
 * served from release assets or object storage).
 */
import { Agent, interceptors, request, type Dispatcher } from '../lib/http.js';
import { authError, networkError, protocolError, specError } from '../lib/errors.js';
import { isLoopbackHost } from '../oci/registry-client.js';
import type { HttpGetter } from './chart-repo.js';

export class HttpClient implements HttpGetter {
  readonly #dispatcher: Dispatcher;
  readonly #agent: Agent;
  readonly #insecure: Set<string>;
  /** Bytes received, for the summary. */
  bytes = 0;
  requests = 0;

  constructor(options: { insecure?: Iterable<string>; attempts?: number } = {}) {
    this.#insecure = new Set([...(options.insecure ?? [])].map((h) => h.toLowerCase()));
    this.#agent = new Agent({ connections: 8 });
    this.#dispatcher = this.#agent.compose(
      interceptors.redirect({ maxRedirections: 5 }),
      interceptors.retry({ maxRetries: (options.attempts ?? 5) - 1, minTimeout: 250 }),
    );
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async get(url: string, what: string, maxBytes: number): Promise<Buffer | undefined> {
    const u = new URL(url);
    if (u.protocol === 'http:' && !isLoopbackHost(u.host) && !this.#insecure.has(u.host.toLowerCase())) {
      throw specError(
        `${what}: ${u.origin} is plain HTTP: content could be altered on the way`,
        `use https://, or pass --insecure-registry ${u.host} to accept it`,
      );
    }
    this.requests++;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { dispatcher: this.#dispatcher, headers: { 'user-agent': 'kubechat' } });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw networkError(
        `${what}: cannot reach ${u.host} (${code})`,
        'check the URL and the network (proxy, DNS)',
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
        `${what}: ${u.host} refused access (HTTP ${res.statusCode})`,
        'check that the repository is public',
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
