/**
 * Ollama model names: the one parser and formatter the CLI uses, with Ollama's own rules
 * (ollama/ollama types/model/name.go: ParseName, ParseNameBare, isValidPart, DisplayShortest):
 *
 *     [scheme://][host/][namespace/]model[:tag]      defaults registry.ollama.ai, library, latest
 *
 * - The tag follows the last ':' only when that ':' comes after the last '/', so the port in
 *   reg.local:5000/team/m is part of the host, not a tag.
 * - From the right: the model, the namespace, and everything left of that is the host; a scheme in
 *   front of the host (http://, https://) is dropped. A separator with nothing on one side
 *   ("m:", "/m", "a//m") leaves an empty part, which is invalid.
 * - Each part starts with a letter, digit or _ and goes on with letters, digits, _, - and .; a
 *   namespace has no '.', and only a host may hold ':' (its port). Lengths: host 1–350, the others
 *   1–80. Every valid part is therefore a safe path component (no '/', never '.' or '..'), which the
 *   models directory layout manifests/<host>/<namespace>/<model>/<tag> relies on.
 * - Case is kept as written; the short form compares the defaults case-insensitively, as Ollama does.
 *
 * Before this module the CLI had three parsers. Where they disagreed, Ollama's rules now hold:
 * a leading _ is allowed (`_m`), a '.' in a namespace is not (`my.org/m`), parts longer than 80
 * (host 350) are refused, a scheme in front of the host is dropped, and
 * `Registry.Ollama.AI/Library/m:1` shortens to `m:1`.
 *
 * Beside the serving tag, every import writes an immutable version tag
 * <tag>-<first 12 hex of the manifest digest>, so a rollback can move the serving tag back.
 */
import { hexOf } from '../lib/digest.js';
import { targetError } from '../lib/errors.js';

export interface OllamaName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

export type NamePart = keyof OllamaName;

export const DEFAULT_HOST = 'registry.ollama.ai';
export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';

const MAX_LENGTH: Record<NamePart, number> = { host: 350, namespace: 80, model: 80, tag: 80 };
const PART: Record<NamePart, RegExp> = {
  host: /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/,
  namespace: /^[A-Za-z0-9_][A-Za-z0-9_-]*$/,
  model: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
  tag: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
};

/** The rules in a sentence, for fix texts. */
export const NAME_RULES =
  'each part starts with a letter, digit or _ and goes on with letters, digits, _, - or . ' +
  '(no . in a namespace)';

/** The parts the text writes, before defaults (ParseNameBare). */
function partsOf(s: string): Partial<OllamaName> & { model: string } {
  let rest = s;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let slash = rest.lastIndexOf('/');
  if (slash < 0) return { model: rest, tag };
  const model = rest.slice(slash + 1);
  rest = rest.slice(0, slash);
  slash = rest.lastIndexOf('/');
  if (slash < 0) return { namespace: rest, model, tag };
  const namespace = rest.slice(slash + 1);
  const host = rest.slice(0, slash);
  const scheme = host.indexOf('://');
  return { host: scheme < 0 ? host : host.slice(scheme + 3), namespace, model, tag };
}

export type NameCheck =
  { ok: true; name: OllamaName } | { ok: false; part: NamePart; value: string; max: number };

/** The name with Ollama's defaults filled in, or the first invalid part (host, namespace, model, tag). */
export function checkModelName(s: string): NameCheck {
  const p = partsOf(s);
  const name: OllamaName = {
    host: p.host ?? DEFAULT_HOST,
    namespace: p.namespace ?? DEFAULT_NAMESPACE,
    model: p.model,
    tag: p.tag ?? DEFAULT_TAG,
  };
  for (const part of ['host', 'namespace', 'model', 'tag'] as const) {
    const value = name[part];
    if (value.length > MAX_LENGTH[part] || !PART[part].test(value))
      return { ok: false, part, value, max: MAX_LENGTH[part] };
  }
  return { ok: true, name };
}

/** The name with Ollama's defaults filled in; undefined when the text cannot be a model name. */
export function parseModelName(s: string): OllamaName | undefined {
  const c = checkModelName(s);
  return c.ok ? c.name : undefined;
}

/**
 * A bundle's model reference, which is always written in full (registry.ollama.ai/library/assist:1.0):
 * no defaults, no scheme. Its parts become directories of the models store.
 */
export function parseOllamaRef(ref: string): OllamaName {
  const n = parseModelName(ref);
  if (!n || fullName(n) !== ref)
    throw targetError(`model reference "${ref}" is not host/namespace/model:tag`, 'recreate the bundle');
  return n;
}

/** host/namespace/model:tag */
export const fullName = (n: OllamaName, tag = n.tag) => `${n.host}/${n.namespace}/${n.model}:${tag}`;

/** host/namespace/model: the model without its tag. */
export const repoOf = (n: OllamaName) => `${n.host}/${n.namespace}/${n.model}`;

/**
 * The name a user types and Ollama lists (DisplayShortest): library models drop host and namespace
 * (assist:1.0), other models on registry.ollama.ai drop the host (team/m:1); the tag always stays.
 */
export function shortName(n: OllamaName, tag = n.tag): string {
  if (n.host.toLowerCase() !== DEFAULT_HOST) return `${n.host}/${n.namespace}/${n.model}:${tag}`;
  if (n.namespace.toLowerCase() !== DEFAULT_NAMESPACE) return `${n.namespace}/${n.model}:${tag}`;
  return `${n.model}:${tag}`;
}

/** Whether the user's text names a tag explicitly (assist:1.0) or the whole model (assist). */
export const hasTag = (s: string) => s.lastIndexOf(':') > s.lastIndexOf('/');

/** The immutable per-version tag: <tag>-<first 12 hex of the manifest digest>. */
export const versionTag = (tag: string, manifestDigest: string) =>
  `${tag}-${hexOf(manifestDigest).slice(0, 12)}`;

const VERSION = /^(.+)-([0-9a-f]{12})$/;

/** "1.0-0123456789ab" → { serving: "1.0", short: "0123456789ab" }; undefined for a serving tag. */
export function splitVersionTag(tag: string): { serving: string; short: string } | undefined {
  const m = VERSION.exec(tag);
  return m ? { serving: m[1]!, short: m[2]! } : undefined;
}
