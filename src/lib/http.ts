/**
 * undici's Agent and request(), loaded from their own modules: undici's package index also loads
 * fetch, WebSocket, the caches and the mocks, about 70 ms of every CLI start-up that talks HTTP (an
 * install re-run is mostly start-up). The same classes and code paths as `import { … } from 'undici'`.
 */
import { createRequire } from 'node:module';
import { rootCertificates } from 'node:tls';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export type { Dispatcher } from 'undici';

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  dispatcher: Undici.Dispatcher;
  method?: Undici.Dispatcher.HttpMethod;
};

const api = require('undici/lib/api/index.js') as {
  request: (
    this: Undici.Dispatcher,
    options: Undici.Dispatcher.RequestOptions,
  ) => Promise<Undici.Dispatcher.ResponseData>;
};

/** undici's `request(url, options)` with an explicit dispatcher (what its index wraps around the same call). */
export function request(url: string | URL, options: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = options;
  return api.request.call(dispatcher, {
    ...rest,
    origin: u.origin,
    path: u.pathname + u.search,
    method: options.method ?? (options.body ? 'PUT' : 'GET'),
  });
}

type Fetch = typeof Undici.fetch;
let fetchImpl: Fetch | undefined;

/**
 * undici's fetch, which takes a `dispatcher` (an Agent with its own pool, timeouts and CAs), loaded on
 * first use: its module is most of what undici's index costs at start-up.
 */
export function undiciFetch(...args: Parameters<Fetch>): ReturnType<Fetch> {
  fetchImpl ??= (require('undici/lib/web/fetch/index.js') as { fetch: Fetch }).fetch;
  return fetchImpl(...args);
}

/** undici's redirect and retry interceptors (`interceptors.redirect` / `interceptors.retry`), from their own modules. */
export const interceptors = {
  redirect: require('undici/lib/interceptor/redirect.js') as typeof Undici.interceptors.redirect,
  retry: require('undici/lib/interceptor/retry.js') as typeof Undici.interceptors.retry,
};

/**
 * TLS `connect` options trusting the system roots plus private CAs (PEM): a private CA is added to,
 * not substituted for, the roots. No CA given: the defaults.
 */
export function trustingCas(cas: ReadonlyArray<string | Buffer>): { ca?: string[] } {
  return cas.length === 0 ? {} : { ca: [...cas.map((c) => c.toString()), ...rootCertificates] };
}
