/**
 * An Ollama server double for tests, written from Ollama's API documentation (ollama/ollama
 * docs/api.md: "Check if a Blob Exists", "Create a Blob", "Create a Model", "List Local Models",
 * "Copy a Model", "Delete a Model", "List Running Models", "Generate a completion"/"Load a model").
 * No Ollama can run on our test machines; this speaks the same HTTP API over a real socket and keeps
 * a real models directory in Ollama's layout (blobs/sha256-<hex>, manifests/<host>/<ns>/<model>/<tag>):
 *
 * - HEAD /api/blobs/:digest → 200 or 404; POST /api/blobs/:digest stores the body only when its
 *   sha256 matches, else 400 {"error": "digest mismatch, ..."} and nothing is kept.
 * - POST /api/create {model, files, adapters, template, system, license, parameters, messages, stream}
 *   builds a manifest from existing blobs (400 when a file's blob is missing or not GGUF).
 * - POST /api/copy keeps the manifest byte for byte; DELETE /api/delete removes the name and every
 *   blob no remaining manifest references.
 * - GET /api/tags lists models with the manifest digest and `details` (family, parameter_size,
 *   quantization_level read from the GGUF header, as Ollama does); POST /api/show {model} answers
 *   details, `parameters` (num_ctx …) and `model_info` (the header's scalar metadata plus
 *   general.parameter_count), 404 for an unknown model; GET /api/ps lists loaded models with
 *   `expires_at` and `size_vram`.
 * - POST /api/generate or /api/chat with no prompt loads a model (keep_alive 0 unloads); with a
 *   prompt it loads the model and answers a completion (stream false) with eval_count,
 *   eval_duration and prompt_eval_count as Ollama reports them. `failGenerate` makes the next N
 *   completions answer 500, `generateDelayMs` slows each one (for load tests).
 *
 * One instance is one node: start several, each with its own store, for multi-node tests. With `tls`
 * it serves HTTPS, as an Ollama behind a TLS proxy with a certificate from the local CA would.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readGgufHeader } from '../../src/models/gguf.js';

const DIGEST = /^sha256[:-]([a-f0-9]{64})$/;

interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

interface Layer {
  mediaType: string;
  digest: string;
  size: number;
}

interface Manifest {
  schemaVersion: number;
  mediaType: string;
  config: Layer;
  layers: Layer[];
}

export interface LoadedModel {
  name: string;
  expiresAt: Date;
}

/** Ollama's name rules: [host/][namespace/]model[:tag], defaults registry.ollama.ai, library, latest. */
export function parseName(s: string): ModelName | undefined {
  const [path = '', tag = 'latest'] = s.includes(':')
    ? [s.slice(0, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)]
    : [s];
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0 || parts.length > 3 || !/^[\w][\w.-]{0,127}$/.test(tag)) return undefined;
  const model = parts.at(-1)!;
  const namespace = parts.length >= 2 ? parts.at(-2)! : 'library';
  const host = parts.length === 3 ? parts[0]! : 'registry.ollama.ai';
  return { host, namespace, model, tag };
}

/** The model a request names: `model`, or `name` as older clients send it. */
function modelOf(b: Record<string, unknown>): ModelName | undefined {
  if (typeof b.model === 'string') return parseName(b.model);
  return typeof b.name === 'string' ? parseName(b.name) : undefined;
}

function displayName(n: ModelName): string {
  if (n.host === 'registry.ollama.ai' && n.namespace === 'library') return `${n.model}:${n.tag}`;
  if (n.host === 'registry.ollama.ai') return `${n.namespace}/${n.model}:${n.tag}`;
  return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export class OllamaDouble {
  #server: Server | undefined;
  readonly #loaded = new Map<string, LoadedModel>();
  /** Every request as "METHOD path", for tests that check what was (not) sent. */
  readonly requests: string[] = [];
  /** Bytes received by POST /api/blobs. */
  receivedBytes = 0;
  /** The next this many completions fail with HTTP 500. */
  failGenerate = 0;
  /** Each completion takes this long. */
  generateDelayMs = 0;

  /** `tls`: PEM files of the server certificate and its key. */
  constructor(
    readonly store: string,
    readonly options: { tls?: { cert: string; key: string } } = {},
  ) {}

  get url(): string {
    const a = this.#server?.address() as AddressInfo | undefined;
    if (!a) throw new Error('OllamaDouble is not started');
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${a.port}`;
  }

  async start(): Promise<string> {
    await mkdir(join(this.store, 'blobs'), { recursive: true });
    await mkdir(join(this.store, 'manifests'), { recursive: true });
    const handle: RequestListener = (req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      this.#route(req, res).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { error: (err as Error).message });
        else res.destroy();
      });
    };
    const tls = this.options.tls;
    this.#server = tls
      ? createTlsServer({ cert: await readFile(tls.cert), key: await readFile(tls.key) }, handle)
      : createServer(handle);
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  blobPath(digest: string): string {
    const m = DIGEST.exec(digest);
    if (!m) throw new Error(`bad digest ${digest}`);
    return join(this.store, 'blobs', `sha256-${m[1]}`);
  }

  manifestPath(n: ModelName): string {
    return join(this.store, 'manifests', n.host, n.namespace, n.model, n.tag);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const blob = /^\/api\/blobs\/([^/]+)$/.exec(path);
    if (blob) {
      const digest = decodeURIComponent(blob[1]!);
      if (!DIGEST.test(digest)) return json(res, 400, { error: 'invalid digest format' });
      if (req.method === 'HEAD') return end(res, (await exists(this.blobPath(digest))) ? 200 : 404);
      if (req.method === 'POST') return this.#postBlob(req, res, digest);
    }
    if (path === '/api/version' && req.method === 'GET') return json(res, 200, { version: '0.0.0-double' });
    if (path === '/api/tags' && req.method === 'GET') return json(res, 200, { models: await this.#tags() });
    if (path === '/api/ps' && req.method === 'GET') return json(res, 200, { models: await this.#ps() });
    if (req.method === 'POST' && path === '/api/show') return this.#show(res, await body(req));
    if (req.method === 'POST' && path === '/api/create') return this.#create(req, res, await body(req));
    if (req.method === 'POST' && path === '/api/copy') return this.#copy(res, await body(req));
    if (req.method === 'DELETE' && path === '/api/delete') return this.#delete(res, await body(req));
    if (req.method === 'POST' && (path === '/api/generate' || path === '/api/chat'))
      return this.#load(res, await body(req));
    return json(res, 404, { error: `${req.method} ${path} not found` });
  }

  async #postBlob(req: IncomingMessage, res: ServerResponse, digest: string): Promise<void> {
    const final = this.blobPath(digest);
    const tmp = `${final}-partial-${Math.random().toString(36).slice(2)}`;
    const hash = createHash('sha256');
    let n = 0;
    try {
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const c of source) {
            hash.update(c);
            n += c.length;
            yield c;
          }
        },
        createWriteStream(tmp),
      );
    } catch {
      await rm(tmp, { force: true });
      return; // client went away: nothing kept
    }
    this.receivedBytes += n;
    const got = `sha256:${hash.digest('hex')}`;
    const want = digest.replace('-', ':');
    if (got !== want) {
      await rm(tmp, { force: true });
      return json(res, 400, { error: `digest mismatch, expected "${want}", got "${got}"` });
    }
    await rename(tmp, final);
    return end(res, 201);
  }

  async #writeBlob(data: Buffer): Promise<Layer & { data: Buffer }> {
    const digest = `sha256:${sha(data)}`;
    await writeFile(this.blobPath(digest), data);
    return { mediaType: '', digest, size: data.length, data };
  }

  async #create(req: IncomingMessage, res: ServerResponse, b: Record<string, unknown>): Promise<void> {
    const name = typeof b.model === 'string' ? parseName(b.model) : undefined;
    if (!name) return json(res, 400, { error: 'invalid model name' });
    const layers: Layer[] = [];
    const files = (b.files ?? {}) as Record<string, string>;
    const adapters = (b.adapters ?? {}) as Record<string, string>;
    if (Object.keys(files).length === 0 && typeof b.from !== 'string')
      return json(res, 400, { error: "neither 'from' or 'files' was specified" });
    for (const [kind, set] of [
      ['application/vnd.ollama.image.model', files],
      ['application/vnd.ollama.image.adapter', adapters],
    ] as const) {
      for (const [file, digest] of Object.entries(set)) {
        if (!DIGEST.test(digest) || !(await exists(this.blobPath(digest))))
          return json(res, 400, { error: `blob ${digest} for ${file} not found` });
        const fh = await open(this.blobPath(digest), 'r');
        const magic = Buffer.alloc(4);
        await fh.read(magic, 0, 4, 0);
        const size = (await fh.stat()).size;
        await fh.close();
        if (magic.toString('latin1') !== 'GGUF')
          return json(res, 400, { error: `${file}: invalid file magic` });
        layers.push({ mediaType: kind, digest, size });
      }
    }
    const text = async (mediaType: string, value: string) => {
      const l = await this.#writeBlob(Buffer.from(value));
      layers.push({ mediaType, digest: l.digest, size: l.size });
    };
    if (typeof b.template === 'string') await text('application/vnd.ollama.image.template', b.template);
    if (typeof b.system === 'string') await text('application/vnd.ollama.image.system', b.system);
    for (const l of typeof b.license === 'string'
      ? [b.license]
      : Array.isArray(b.license)
        ? (b.license as string[])
        : [])
      await text('application/vnd.ollama.image.license', l);
    if (b.parameters && typeof b.parameters === 'object')
      await text('application/vnd.ollama.image.params', JSON.stringify(b.parameters));
    if (Array.isArray(b.messages))
      await text('application/vnd.ollama.image.messages', JSON.stringify(b.messages));
    const config = await this.#writeBlob(
      Buffer.from(
        JSON.stringify({
          model_format: 'gguf',
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        }),
      ),
    );
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        digest: config.digest,
        size: config.size,
      },
      layers,
    };
    const path = this.manifestPath(name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(manifest));
    if (b.stream === false) return json(res, 200, { status: 'success' });
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end(['{"status":"writing manifest"}', '{"status":"success"}', ''].join('\n'));
  }

  async #copy(res: ServerResponse, b: Record<string, unknown>): Promise<void> {
    const src = typeof b.source === 'string' ? parseName(b.source) : undefined;
    const dst = typeof b.destination === 'string' ? parseName(b.destination) : undefined;
    if (!src || !dst) return json(res, 400, { error: 'invalid model name' });
    let bytes: Buffer;
    try {
      bytes = await readFile(this.manifestPath(src));
    } catch {
      return json(res, 404, { error: `model '${b.source as string}' not found` });
    }
    await mkdir(dirname(this.manifestPath(dst)), { recursive: true });
    await writeFile(this.manifestPath(dst), bytes);
    return end(res, 200);
  }

  async #delete(res: ServerResponse, b: Record<string, unknown>): Promise<void> {
    const n = modelOf(b);
    if (!n) return json(res, 400, { error: 'invalid model name' });
    if (!(await exists(this.manifestPath(n))))
      return json(res, 404, { error: `model '${displayName(n)}' not found` });
    await rm(this.manifestPath(n));
    const referenced = new Set<string>();
    for (const m of await this.#manifests()) {
      referenced.add(m.manifest.config.digest);
      for (const l of m.manifest.layers) referenced.add(l.digest);
    }
    for (const f of await readdir(join(this.store, 'blobs'))) {
      const digest = f.replace('sha256-', 'sha256:');
      if (DIGEST.test(f) && !referenced.has(digest)) await rm(join(this.store, 'blobs', f), { force: true });
    }
    this.#loaded.delete(displayName(n));
    return end(res, 200);
  }

  async #manifests(): Promise<Array<{ name: ModelName; bytes: Buffer; manifest: Manifest; modified: Date }>> {
    const root = join(this.store, 'manifests');
    const out = [];
    for (const f of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!f.isFile()) continue;
      const full = join(f.parentPath, f.name);
      const parts = relative(root, full).split('/');
      if (parts.length !== 4) continue;
      const bytes = await readFile(full);
      const name = { host: parts[0]!, namespace: parts[1]!, model: parts[2]!, tag: parts[3]! };
      out.push({
        name,
        bytes,
        manifest: JSON.parse(bytes.toString('utf8')) as Manifest,
        modified: (await stat(full)).mtime,
      });
    }
    return out;
  }

  async #tags() {
    return Promise.all(
      (await this.#manifests()).map(async (m) => ({
        name: displayName(m.name),
        model: displayName(m.name),
        modified_at: m.modified.toISOString(),
        size: m.manifest.layers.reduce((n, l) => n + l.size, m.manifest.config.size),
        digest: sha(m.bytes),
        details: (await this.#gguf(m.manifest))?.details ?? {
          format: 'gguf',
          family: '',
          families: null,
          parameter_size: '',
          quantization_level: '',
        },
      })),
    );
  }

  /** The model layer's GGUF header, as Ollama reads it for details and model_info. */
  async #gguf(manifest: Manifest) {
    const layer = manifest.layers.find((l) => l.mediaType === 'application/vnd.ollama.image.model');
    if (!layer) return undefined;
    const g = await readGgufHeader(this.blobPath(layer.digest)).catch(() => undefined);
    if (!g) return undefined;
    const info: Record<string, unknown> = { 'general.parameter_count': g.parameterCount };
    for (const [k, v] of g.kv) if (!Array.isArray(v)) info[k] = typeof v === 'bigint' ? Number(v) : v;
    return {
      details: {
        format: 'gguf',
        family: g.architecture,
        families: [g.architecture],
        parameter_size: g.parameterSize,
        quantization_level: g.fileType,
      },
      info,
    };
  }

  async #show(res: ServerResponse, b: Record<string, unknown>): Promise<void> {
    const n = modelOf(b);
    if (!n || !(await exists(this.manifestPath(n))))
      return json(res, 404, { error: `model '${String(b.model ?? b.name)}' not found` });
    const manifest = JSON.parse(await readFile(this.manifestPath(n), 'utf8')) as Manifest;
    const g = await this.#gguf(manifest);
    const params = manifest.layers.find((l) => l.mediaType === 'application/vnd.ollama.image.params');
    let parameters = '';
    if (params) {
      const p = JSON.parse(await readFile(this.blobPath(params.digest), 'utf8')) as Record<string, unknown>;
      parameters = Object.entries(p)
        .flatMap(([k, v]) =>
          Array.isArray(v) ? v.map((x) => `${k} ${JSON.stringify(x)}`) : [`${k} ${String(v)}`],
        )
        .join('\n');
    }
    return json(res, 200, {
      modelfile: '',
      parameters,
      template: '',
      details: g?.details ?? {},
      model_info: g?.info ?? {},
      modified_at: (await stat(this.manifestPath(n))).mtime.toISOString(),
    });
  }

  async #load(res: ServerResponse, b: Record<string, unknown>): Promise<void> {
    const n = typeof b.model === 'string' ? parseName(b.model) : undefined;
    if (!n || !(await exists(this.manifestPath(n))))
      return json(res, 404, { error: `model '${String(b.model)}' not found` });
    const name = displayName(n);
    const keepAlive = parseKeepAlive(b.keep_alive);
    if (typeof b.prompt === 'string' && b.prompt !== '') {
      if (this.generateDelayMs) await new Promise((r) => setTimeout(r, this.generateDelayMs));
      if (this.failGenerate > 0) {
        this.failGenerate--;
        return json(res, 500, { error: 'llama runner process has terminated: CUDA error: out of memory' });
      }
      this.#loaded.set(name, { name, expiresAt: new Date(Date.now() + (keepAlive ?? 5 * 60_000)) });
      const limit = (b.options as { num_predict?: number } | undefined)?.num_predict ?? 16;
      const words = Array.from({ length: limit }, (_, i) => `w${i}`);
      return json(res, 200, {
        model: name,
        created_at: new Date().toISOString(),
        response: words.join(' '),
        done: true,
        done_reason: 'length',
        total_duration: 2_000_000 + limit * 1_000_000,
        load_duration: 1_000_000,
        prompt_eval_count: b.prompt.split(/\s+/).length,
        prompt_eval_duration: 1_000_000,
        eval_count: limit,
        eval_duration: limit * 1_000_000,
      });
    }
    if (keepAlive === 0) this.#loaded.delete(name);
    else this.#loaded.set(name, { name, expiresAt: new Date(Date.now() + (keepAlive ?? 5 * 60_000)) });
    return json(res, 200, {
      model: name,
      created_at: new Date().toISOString(),
      response: '',
      done: true,
      done_reason: keepAlive === 0 ? 'unload' : 'load',
    });
  }

  async #ps() {
    const tags = new Map((await this.#tags()).map((t) => [t.name, t]));
    const now = Date.now();
    return [...this.#loaded.values()]
      .filter((l) => l.expiresAt.getTime() > now && tags.has(l.name))
      .map((l) => {
        const t = tags.get(l.name)!;
        return {
          name: l.name,
          model: l.name,
          size: t.size,
          digest: t.digest,
          details: t.details,
          expires_at: l.expiresAt.toISOString(),
          size_vram: t.size,
        };
      });
  }
}

/** A negative keep_alive: loaded until unloaded (Ollama reports an expiry centuries away). */
const FOREVER_MS = 100 * 365 * 86_400_000;

/** keep_alive: a number of seconds or a Go duration ("5m", "1h", "0"); negative keeps it loaded. */
function parseKeepAlive(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v < 0 ? FOREVER_MS : v * 1000;
  if (typeof v !== 'string') return undefined;
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n < 0) return FOREVER_MS;
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) parts.push(c);
  try {
    const v = JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const data = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

function end(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}
