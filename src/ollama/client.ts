/**
 * The one HTTP client for an Ollama server (ollama/ollama docs/api.md), used by install's target,
 * `kubechat models` and validation. The calls the `ollama` package covers (version, tags, show, ps,
 * copy, delete, generate, create) go through it; it is handed undici's fetch bound to this client's
 * own Agent, so the pool size, the timeouts and the trusted CAs (a server behind TLS from the local
 * CA) are ours. Errors name the server and carry Ollama's own `error` text.
 */
import { Readable } from 'node:stream';
import type { CreateRequest, Ollama, Options } from 'ollama';
import { KubechatError, networkError, targetError } from '../lib/errors.js';
import { Agent, request, trustingCas, undiciFetch, type Dispatcher } from '../lib/http.js';

export interface OllamaClientOptions {
  /** What the user does after a failure, in the fix texts ("run install again"). */
  rerun?: string;
  /** The fix of a refused request (default: run again, then check the server log). */
  refusedFix?: string;
  /** PEM certificates of private CAs, trusted beside the system roots. */
  ca?: ReadonlyArray<string | Buffer>;
  /** Connections kept to the server (load tests hold many requests open at once). */
  connections?: number;
  /** Time allowed for the answer's headers and between its body's chunks; 0: none (a model load takes minutes). */
  timeoutMs?: number;
}

/** A model as GET /api/tags lists it. */
export interface ListedModel {
  /** As Ollama shows it: assist:1.0 for library models. */
  name: string;
  model: string;
  /** The manifest's sha256, as Ollama writes it (bare hex). */
  digest: string;
  size: number;
  modifiedAt: string;
}

/** A model loaded in memory, as GET /api/ps lists it. */
export interface RunningModel {
  name: string;
  expiresAt: string | null;
  size: number;
  sizeVram: number | null;
}

/** The parts of POST /api/show the CLI reads. */
export interface ShownModel {
  parameters?: string;
  details?: { family?: string; parameter_size?: string; quantization_level?: string };
  model_info?: Record<string, unknown>;
}

export interface GenerateAnswer {
  done: boolean;
  response: string;
  evalCount: number;
  evalDurationNs: number;
  promptEvalCount: number;
}

/** The server answered, with an error status: `status` and Ollama's own `error` text are kept. */
export class OllamaRefusedError extends KubechatError {
  constructor(
    message: string,
    fix: string,
    readonly status: number,
    readonly serverMessage: string,
  ) {
    super('target', message, fix);
  }
}

type Fetch = typeof fetch;

/**
 * POST /api/create from blobs already on the server. The package's type lacks `files` (Ollama's
 * name → digest map of the weights); the package sends every field the request holds.
 */
export type CreateModelRequest = Omit<CreateRequest, 'stream' | 'from' | 'quantize'> & {
  files?: Record<string, string>;
};

export class OllamaClient {
  readonly base: URL;
  /** "Ollama https://gpu1:11434": how errors name the server. */
  readonly label: string;
  readonly #agent: Dispatcher;
  readonly #rerun: string;
  readonly #refusedFix: string;
  #api: Promise<Ollama> | undefined;

  /** `url` as the operator wrote it: http(s)://HOST:11434, or HOST:PORT (http assumed). */
  constructor(url: string, options: OllamaClientOptions = {}) {
    try {
      this.base = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`);
    } catch {
      throw targetError(`--ollama ${url}: not a URL`, 'write it as http://HOST:11434');
    }
    this.label = `Ollama ${this.base.origin}`;
    this.#rerun = options.rerun ?? 'run the command again';
    this.#refusedFix = options.refusedFix ?? `${this.#rerun}; if it persists, check the Ollama server log`;
    const timeout = options.timeoutMs ?? 0;
    this.#agent = new Agent({
      connections: options.connections ?? 8,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connect: trustingCas(options.ca ?? []),
    });
  }

  /** The `ollama` package, loaded on first use (a command on a models directory never needs it). */
  #ollama(): Promise<Ollama> {
    return (this.#api ??= import('ollama').then(
      ({ Ollama }) => new Ollama({ host: this.base.href, fetch: this.#fetch }),
    ));
  }

  readonly #fetch: Fetch = async (input, init) => {
    // undici's fetch is the global one's twin; its types differ only in name.
    const res = (await undiciFetch(input as string, {
      ...(init as object),
      dispatcher: this.#agent,
    })) as unknown as Response;
    if (res.ok || res.headers.get('content-type')?.includes('application/json')) return res;
    // The package logs a line to stdout for an error that is not JSON (a proxy's 502 page), which
    // would corrupt --json output: hand it the same text as Ollama's own {"error": …} instead.
    const text = (await res.text()).trim();
    return new Response(JSON.stringify({ error: text || `HTTP ${res.status} ${res.statusText}` }), {
      status: res.status,
      statusText: res.statusText,
      headers: { 'content-type': 'application/json' },
    });
  };

  /** Runs one call of the package, turning its failures into errors that name the server. */
  async #call<T>(what: string, run: (api: Ollama) => Promise<T>): Promise<T> {
    const api = await this.#ollama();
    try {
      return await run(api);
    } catch (err) {
      const e = err as { name?: string; status_code?: unknown; error?: unknown };
      if (e.name === 'ResponseError' && typeof e.status_code === 'number')
        throw this.refused(what, e.status_code, typeof e.error === 'string' ? e.error : '');
      if (err instanceof SyntaxError)
        throw targetError(
          `${this.label}: ${what} answered something other than JSON`,
          'is this an Ollama server?',
          err,
        );
      throw this.unreachable(err);
    }
  }

  /** GET /api/version: the server's version. */
  async version(): Promise<string> {
    const r = await this.#call('GET /api/version', (o) => o.version());
    return String((r as { version?: unknown } | undefined)?.version ?? '');
  }

  /** GET /api/tags. */
  async list(): Promise<ListedModel[]> {
    const r = await this.#call('GET /api/tags', (o) => o.list());
    return (r?.models ?? []).map((m) => {
      // The package types these fields as it would like them; the wire has strings (or nothing).
      const raw = m as unknown as Partial<Record<'name' | 'model' | 'digest' | 'modified_at', string>> & {
        size?: number;
      };
      return {
        name: raw.name ?? raw.model ?? '',
        model: raw.model ?? raw.name ?? '',
        digest: raw.digest ?? '',
        size: raw.size ?? 0,
        modifiedAt: raw.modified_at ?? '',
      };
    });
  }

  /** POST /api/show. */
  async show(model: string): Promise<ShownModel> {
    const r = await this.#call('POST /api/show', (o) => o.show({ model }));
    return (r ?? {}) as unknown as ShownModel;
  }

  /** GET /api/ps. */
  async ps(): Promise<RunningModel[]> {
    const r = await this.#call('GET /api/ps', (o) => o.ps());
    return (r?.models ?? []).map((m) => {
      const raw = m as unknown as Partial<Record<'name' | 'model' | 'expires_at', string>> & {
        size?: number;
        size_vram?: number;
      };
      return {
        name: raw.name ?? raw.model ?? '',
        expiresAt: raw.expires_at ?? null,
        size: raw.size ?? 0,
        sizeVram: raw.size_vram ?? null,
      };
    });
  }

  /** POST /api/copy: Ollama copies the manifest byte for byte. */
  async copy(source: string, destination: string): Promise<void> {
    await this.#call(`POST /api/copy ${source} → ${destination}`, (o) => o.copy({ source, destination }));
  }

  /** DELETE /api/delete: the name, and the blobs no other manifest references. */
  async delete(model: string): Promise<void> {
    await this.#call('DELETE /api/delete', (o) => o.delete({ model }));
  }

  /**
   * POST /api/generate, not streamed. With no prompt it only loads the model for `keepAlive`, or
   * unloads it with 0.
   */
  async generate(req: {
    model: string;
    prompt?: string;
    options?: Record<string, unknown>;
    keepAlive?: string | number;
  }): Promise<GenerateAnswer> {
    const r = await this.#call('POST /api/generate', (o) =>
      o.generate({
        model: req.model,
        prompt: req.prompt ?? '',
        stream: false,
        ...(req.options ? { options: req.options as Partial<Options> } : {}),
        ...(req.keepAlive === undefined ? {} : { keep_alive: req.keepAlive }),
      }),
    );
    return {
      done: r?.done ?? false,
      response: r?.response ?? '',
      evalCount: r?.eval_count ?? 0,
      evalDurationNs: r?.eval_duration ?? 0,
      promptEvalCount: r?.prompt_eval_count ?? 0,
    };
  }

  /** POST /api/create, not streamed: a model from blobs already on the server (`files`, `adapters`). */
  async create(req: CreateModelRequest): Promise<void> {
    await this.#call(`POST /api/create ${req.model}`, (o) => o.create({ ...req, stream: false }));
  }

  // The package has no call for blobs (it uploads only from a local path, whole), so HEAD and the
  // streamed POST of /api/blobs/:digest go through undici directly, on the same Agent.

  /** HEAD /api/blobs/:digest: whether the server holds the blob. */
  async hasBlob(digest: string): Promise<boolean> {
    try {
      const res = await request(new URL(`/api/blobs/${digest}`, this.base), {
        method: 'HEAD',
        dispatcher: this.#agent,
      });
      await res.body.dump();
      return res.statusCode === 200;
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  /** POST /api/blobs/:digest, streamed: Ollama checks the digest and answers 400 on a mismatch. */
  async pushBlob(digest: string, size: number, data: AsyncIterable<Buffer>): Promise<void> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(new URL(`/api/blobs/${digest}`, this.base), {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { 'content-length': String(size), 'content-type': 'application/octet-stream' },
        body: Readable.from(data, { objectMode: false }),
      });
    } catch (err) {
      // The data's own errors (a digest check while reading the bundle) are the ones to report.
      if (err instanceof KubechatError) throw err;
      throw this.unreachable(err);
    }
    const text = await res.body.text();
    if (res.statusCode !== 201 && res.statusCode !== 200)
      throw this.refused(`POST /api/blobs/${digest}`, res.statusCode, errorText(text));
  }

  unreachable(err: unknown): KubechatError {
    // fetch reports "fetch failed" and keeps the reason (ECONNREFUSED, a certificate error) as its cause.
    const e = (err as { cause?: unknown }).cause instanceof Error ? (err as { cause: Error }).cause : err;
    const code = (e as { code?: string }).code ?? '';
    const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code);
    return networkError(
      `${this.label}: cannot reach the server (${(e as Error).message})`,
      tls
        ? `trust the CA that issued the server's certificate, then ${this.#rerun}`
        : `check that Ollama runs and listens on ${this.base.origin} (OLLAMA_HOST), then ${this.#rerun}`,
      err,
    );
  }

  /** A non-2xx answer as an error carrying Ollama's own `error` text. */
  refused(what: string, status: number, message: string): OllamaRefusedError {
    return new OllamaRefusedError(
      `${this.label}: ${what} refused (HTTP ${status}: ${message.trim().slice(0, 200)})`,
      this.#refusedFix,
      status,
      message,
    );
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** Ollama's {"error": "…"}, or the text as it came. */
function errorText(text: string): string {
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text;
  }
}
