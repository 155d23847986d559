/** The few Ollama HTTP API calls validation makes (ollama/ollama docs/api.md), one agent per run. */
import { Agent, request, type Dispatcher } from '../lib/http.js';
import { networkError } from '../lib/errors.js';

let agent: Agent | undefined;
const dispatcher = (): Dispatcher =>
  (agent ??= new Agent({ connections: 4, headersTimeout: 120_000, bodyTimeout: 120_000 }));

/** Closes the shared connection pool (end of a validation run). */
export async function closeOllamaClient(): Promise<void> {
  const a = agent;
  agent = undefined;
  await a?.close();
}

export function ollamaBase(url: string): URL {
  return new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`);
}

export async function ollamaCall(
  url: string,
  method: Dispatcher.HttpMethod,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const base = ollamaBase(url);
  try {
    const res = await request(new URL(path, base), {
      method,
      dispatcher: dispatcher(),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.statusCode,
      text: method === 'HEAD' ? (await res.body.dump(), '') : await res.body.text(),
    };
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw networkError(
      `${base.origin}: cannot reach Ollama (${code})`,
      `check that Ollama runs and listens on ${base.origin} (OLLAMA_HOST)`,
      err,
    );
  }
}

/** The JSON of an answer, or undefined. */
export function jsonOf<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
