/**
 * The read-only half of the OCI distribution API (distribution-spec v1.1 "Pull" and "Content
 * Discovery"): `/v2/`, manifests by tag or digest, blobs by digest, HEAD for both, single byte
 * ranges (206 / 416), `tags/list` and `_catalog` with `n`/`last` pagination. Writes answer 405
 * UNSUPPORTED. Manifests come from memory (the catalog checked them at start-up); blobs are streamed
 * from the store with backpressure, never held whole in memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lease } from '../lib/leases.js';
import type { BlobStore, Catalog, ServedRepository } from './catalog.js';

type ErrorCode =
  | 'BLOB_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'UNSUPPORTED'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNAUTHORIZED';

const MESSAGES: Record<ErrorCode, string> = {
  BLOB_UNKNOWN: 'blob unknown to registry',
  DIGEST_INVALID: 'provided digest did not match uploaded content',
  MANIFEST_UNKNOWN: 'manifest unknown',
  NAME_INVALID: 'invalid repository name',
  NAME_UNKNOWN: 'repository name not known to registry',
  UNSUPPORTED: 'The operation is unsupported.',
  PAGINATION_NUMBER_INVALID: 'invalid number of results requested',
  UNAUTHORIZED: 'authentication required',
};

/** Digests of the registered algorithms (go-digest); anything else is DIGEST_INVALID. */
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export interface HandlerOptions {
  /** Called when streaming a blob fails after the response started (the client sees a cut body). */
  onStreamError?: (err: unknown, what: string) => void;
  /** When given, every request (`/v2/` included) needs basic auth it accepts (`--htpasswd`). */
  authenticate?: (authorization: string | undefined) => Promise<string | undefined>;
}

export function registryHandler(catalog: Catalog, store: BlobStore, options: HandlerOptions = {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(catalog, store, options, req, res).catch((err: unknown) => {
      options.onStreamError?.(err, req.url ?? '');
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else res.destroy();
    });
  };
}

function fail(res: ServerResponse, status: number, code: ErrorCode, detail?: Record<string, string>) {
  const body = Buffer.from(
    JSON.stringify({ errors: [{ code, message: MESSAGES[code], detail: detail ?? {} }] }),
  );
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function json(res: ServerResponse, value: unknown, headers: Record<string, string> = {}) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function handle(
  catalog: Catalog,
  store: BlobStore,
  options: HandlerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  if (options.authenticate && (await options.authenticate(req.headers.authorization)) === undefined) {
    // As docker-registry's htpasswd auth answers: clients retry with the credentials they were given.
    res.setHeader('WWW-Authenticate', 'Basic realm="kubechat registry serve"');
    return fail(res, 401, 'UNAUTHORIZED');
  }
  const url = new URL(req.url ?? '/', 'http://registry');
  const path = url.pathname;
  if (!path.startsWith('/v2/') && path !== '/v2') return fail(res, 404, 'UNSUPPORTED');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return fail(res, 405, 'UNSUPPORTED', { reason: 'this registry is read-only (kubechat registry serve)' });
  }
  if (path === '/v2' || path === '/v2/') return json(res, {});
  if (path === '/v2/_catalog') {
    const page = paginate([...catalog.repositories.keys()].sort(), url, res);
    if (page) json(res, { repositories: page.items }, page.headers);
    return;
  }
  const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/]+)$/.exec(path);
  if (!m) return fail(res, 404, 'UNSUPPORTED');
  const [, name = '', kind, ref = ''] = m;
  const repo = catalog.repositories.get(name);
  if (kind === 'tags') {
    if (ref !== 'list') return fail(res, 404, 'UNSUPPORTED');
    if (!repo) return fail(res, 404, 'NAME_UNKNOWN', { name });
    const page = paginate([...repo.tags.keys()].sort(), url, res);
    if (page) json(res, { name, tags: page.items }, page.headers);
    return;
  }
  if (!repo) return fail(res, 404, 'NAME_UNKNOWN', { name });
  if (kind === 'manifests') return manifest(repo, catalog, ref, req, res);
  return blob(repo, catalog, store, ref, req, res, options);
}

function manifest(
  repo: ServedRepository,
  catalog: Catalog,
  ref: string,
  req: IncomingMessage,
  res: ServerResponse,
) {
  let digest: string | undefined;
  if (ref.includes(':')) {
    if (!DIGEST_RE.test(ref)) return fail(res, 400, 'DIGEST_INVALID', { digest: ref });
    digest = repo.manifests.has(ref) ? ref : undefined;
  } else if (TAG_RE.test(ref)) {
    digest = repo.tags.get(ref);
  }
  const m = digest === undefined ? undefined : catalog.manifests.get(digest);
  if (!m) return fail(res, 404, 'MANIFEST_UNKNOWN', { name: repo.name, reference: ref });
  const range = parseRange(req.headers.range, m.bytes.length);
  if (range === 'unsatisfiable') return unsatisfiable(res, m.bytes.length);
  const [start, end] = range ?? [0, m.bytes.length];
  res.writeHead(range ? 206 : 200, {
    'Content-Type': m.mediaType,
    'Content-Length': end - start,
    'Docker-Content-Digest': m.digest,
    ETag: `"${m.digest}"`,
    'Accept-Ranges': 'bytes',
    ...(range ? { 'Content-Range': `bytes ${start}-${end - 1}/${m.bytes.length}` } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : m.bytes.subarray(start, end));
}

async function blob(
  repo: ServedRepository,
  catalog: Catalog,
  store: BlobStore,
  digest: string,
  req: IncomingMessage,
  res: ServerResponse,
  options: HandlerOptions,
) {
  if (!DIGEST_RE.test(digest)) return fail(res, 400, 'DIGEST_INVALID', { digest });
  // Manifests are blobs too (distribution serves them on both endpoints).
  const reachable = repo.blobs.has(digest) || repo.manifests.has(digest);
  const size = reachable && SHA256_RE.test(digest) ? await store.size(digest) : undefined;
  if (size === undefined) return fail(res, 404, 'BLOB_UNKNOWN', { digest });
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') return unsatisfiable(res, size);
  const [start, end] = range ?? [0, size];
  res.writeHead(range ? 206 : 200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': end - start,
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
    ...(range ? { 'Content-Range': `bytes ${start}-${end - 1}/${size}` } : {}),
  });
  if (req.method === 'HEAD' || start === end) {
    res.end();
    return;
  }
  const small = catalog.manifests.get(digest);
  if (small) {
    res.end(small.bytes.subarray(start, end));
    return;
  }
  try {
    await send(store.read(digest, start, end), res);
  } catch (err) {
    options.onStreamError?.(err, digest);
    res.destroy();
  }
}

/**
 * Writes chunks to the response with backpressure. Each chunk is leased to its socket write, so a
 * store that reads into reused buffers refills one only once the kernel has taken it. Stops quietly
 * when the client hangs up (parallel pulls cancel requests).
 */
async function send(chunks: AsyncIterable<Buffer>, res: ServerResponse): Promise<void> {
  const closed = new Promise<'closed'>((resolve) => res.once('close', () => resolve('closed')));
  for await (const chunk of chunks) {
    if (res.destroyed) return;
    let ok = true;
    const written = new Promise<unknown>((resolve) => {
      ok = res.write(chunk, resolve);
    });
    lease(chunk, written);
    if (!ok) {
      const drained = new Promise<'drained'>((resolve) => res.once('drain', () => resolve('drained')));
      if ((await Promise.race([drained, closed])) === 'closed') return;
    }
  }
  await Promise.race([new Promise<void>((resolve) => res.end(resolve)), closed]);
}

function unsatisfiable(res: ServerResponse, size: number) {
  res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
  res.end();
}

/**
 * One `bytes=` range (RFC 9110 §14.1.2) → [start, end) within `size`. Undefined means "send it all":
 * no header, a malformed one, or several ranges (a server may ignore Range). A range that starts
 * past the end is unsatisfiable (416).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): [number, number] | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size];
  }
  const first = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < first) return undefined;
  if (first >= size) return 'unsatisfiable';
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  return [first, Math.min(last, size - 1) + 1];
}

function paginate(
  all: string[],
  url: URL,
  res: ServerResponse,
): { items: string[]; headers: Record<string, string> } | undefined {
  const nParam = url.searchParams.get('n');
  const last = url.searchParams.get('last');
  let items = last === null ? all : all.filter((t) => t > last);
  if (nParam === null) return { items, headers: {} };
  const n = Number(nParam);
  if (!Number.isInteger(n) || n < 0) {
    fail(res, 400, 'PAGINATION_NUMBER_INVALID', { n: nParam });
    return undefined;
  }
  const more = items.length > n;
  items = items.slice(0, n);
  const headers: Record<string, string> = {};
  if (more && items.length > 0) {
    const next = new URL(url.pathname, 'http://registry');
    next.searchParams.set('n', String(n));
    next.searchParams.set('last', items[items.length - 1]!);
    headers.Link = `<${next.pathname}${next.search}>; rel="next"`;
  }
  return { items, headers };
}
