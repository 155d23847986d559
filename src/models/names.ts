/**
 * Model names as Ollama resolves them ([host/][namespace/]model[:tag]; defaults registry.ollama.ai,
 * library, latest), and the immutable version tags install writes beside each serving tag
 * (<tag>-<first 12 hex of the manifest digest>, targets/ollama-store.ts versionTag).
 */
import { shortName, type OllamaName } from '../targets/ollama-store.js';

export type { OllamaName };

/** Ollama's name rules; undefined when the string cannot be a model name. */
export function parseModelName(s: string): OllamaName | undefined {
  const colon = s.lastIndexOf(':');
  const hasTag = colon > s.lastIndexOf('/');
  const path = hasTag ? s.slice(0, colon) : s;
  const tag = hasTag ? s.slice(colon + 1) : 'latest';
  const parts = path.split('/');
  const ok = (p: string, i: number) =>
    (i === 0 && parts.length === 3 ? /^[A-Za-z0-9][\w.:-]*$/ : /^[A-Za-z0-9][\w.-]*$/).test(p);
  if (parts.length > 3 || !parts.every(ok)) return undefined;
  if (!/^[A-Za-z0-9_][\w.-]{0,127}$/.test(tag)) return undefined;
  const model = parts.at(-1)!;
  const namespace = parts.length >= 2 ? parts.at(-2)! : 'library';
  const host = parts.length === 3 ? parts[0]! : 'registry.ollama.ai';
  return { host, namespace, model, tag };
}

/** host/namespace/model:tag */
export const fullName = (n: OllamaName, tag = n.tag) => `${n.host}/${n.namespace}/${n.model}:${tag}`;
/** host/namespace/model: the model without its tag. */
export const repoOf = (n: OllamaName) => `${n.host}/${n.namespace}/${n.model}`;
export { shortName };

/** Whether the user's text names a tag explicitly (assist:1.0) or the whole model (assist). */
export const hasTag = (s: string) => s.lastIndexOf(':') > s.lastIndexOf('/');

const VERSION = /^(.+)-([0-9a-f]{12})$/;

/** "1.0-0123456789ab" → { serving: "1.0", short: "0123456789ab" }; undefined for a serving tag. */
export function splitVersionTag(tag: string): { serving: string; short: string } | undefined {
  const m = VERSION.exec(tag);
  return m ? { serving: m[1]!, short: m[2]! } : undefined;
}
