/**
 * The HTTP side of talking to one Ollama server (ollama/ollama docs/api.md), shared by the install
 * target (ollama-api.ts) and `kubechat models` (models/nodes.ts): one connection pool, JSON
 * requests, and errors that say which server and what it answered.
 */
import { networkError, targetError } from '../lib/errors.js';
import { Agent, request, type Dispatcher } from '../lib/http.js';

export class OllamaClient {
  readonly base: URL;
  readonly label: string;
  readonly agent: Dispatcher;

  /** `url` as the operator wrote it: http://HOST:11434, or HOST:PORT (http assumed). */
  constructor(
    url: string,
    private readonly rerun: string,
    connections = 8,
  ) {
    try {
      this.base = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`);
    } catch {
      throw targetError(`--ollama ${url}: not a URL`, 'write it as http://HOST:11434');
    }
    this.label = `Ollama ${this.base.origin}`;
    this.agent = new Agent({ connections, headersTimeout: 0, bodyTimeout: 0 });
  }

  async call(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    try {
      const res = await request(new URL(path, this.base), {
        method,
        dispatcher: this.agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.statusCode, text: method === 'HEAD' ? '' : await res.body.text() };
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  unreachable(err: unknown) {
    return networkError(
      `${this.label}: cannot reach the server (${(err as Error).message})`,
      `check that Ollama runs and listens on ${this.base.origin} (OLLAMA_HOST), then ${this.rerun}`,
      err,
    );
  }

  /** A non-2xx answer as an error carrying Ollama's own `error` text. */
  refused(
    what: string,
    status: number,
    text: string,
    fix = `${this.rerun}; if it persists, check the Ollama server log`,
  ) {
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the text
    }
    return targetError(`${this.label}: ${what} refused (HTTP ${status}: ${message.slice(0, 200)})`, fix);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
