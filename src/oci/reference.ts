/**
 * Image references, parsed and normalised the way Docker does it (distribution/reference
 * `ParseNormalizedNamed` followed by `TagNameOnly`), so a ref written in a spec names the same image
 * it names for `docker pull`:
 *
 *   demo/hello:1.0        → docker.io/demo/hello:1.0
 *   hello                 → docker.io/library/hello:latest
 *   localhost:5000/x      → localhost:5000/x:latest
 *   host/a/b@sha256:…     → host/a/b@sha256:…   (a digest alone gets no :latest)
 *
 * Grammar (distribution/reference):
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *   domain    := host [":" port]          host: DNS name, IPv4 or [IPv6]
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [\w][\w.-]{0,127}
 */
import { specError } from '../lib/errors.js';

export interface Reference {
  /** Registry host, with port when given: docker.io, localhost:5000, registry.example.com */
  registry: string;
  /** Path inside the registry: library/hello, demo/hello */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_REGISTRY = 'docker.io';
/** The name (registry + repository) may not be longer than this (distribution NameTotalLengthMax). */
export const NAME_TOTAL_LENGTH_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[[a-fA-F0-9:]+\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?$`);
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_SHAPE_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Registered algorithms (go-digest) and the length of their lowercase hex encoding. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
/** Docker refuses a bare 64-hex string as a name: it would be mistaken for an image ID. */
const IMAGE_ID_RE = /^[a-f0-9]{64}$/;

const FIX = 'write it as [registry/]repository[:tag][@sha256:digest], e.g. docker.io/library/nginx:1.27';

function invalid(ref: string, what: string): Error {
  return specError(`invalid image reference "${ref}": ${what}`, FIX);
}

/**
 * Parses `s` into its parts, filling in Docker's defaults for the registry (docker.io) and the
 * `library/` namespace. The tag stays undefined when `s` has none: use normalizeReference for the
 * `:latest` default.
 */
export function parseReference(s: string): Reference {
  if (s === '') throw invalid(s, 'it is empty');
  if (IMAGE_ID_RE.test(s))
    throw invalid(s, 'a 64-character hex string is an image ID, not a repository name');

  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(s, digest);
  }

  // A colon after the last slash starts the tag; one before it belongs to a registry port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalid(s, `tag "${tag}" must be 1-128 of [A-Za-z0-9_.-] and not start with "." or "-"`);
    }
  }
  if (rest === '') throw invalid(s, 'the repository name is empty');

  const { registry, repository } = splitDomain(rest);
  if (!DOMAIN_RE.test(registry)) throw invalid(s, `"${registry}" is not a valid registry host[:port]`);
  if (repository !== repository.toLowerCase())
    throw invalid(s, `repository name "${repository}" must be lowercase`);
  if (!PATH_RE.test(repository)) {
    throw invalid(
      s,
      `repository name "${repository}" must be lowercase letters and digits separated by "/", ".", "_", "__" or "-"`,
    );
  }
  const nameLength = registry.length + 1 + repository.length;
  if (nameLength > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(s, `the name is ${nameLength} characters, at most ${NAME_TOTAL_LENGTH_MAX} are allowed`);
  }

  const ref: Reference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * Docker's rule for telling a registry from the first path component: it is a registry when it holds
 * a "." or ":", is "localhost", or has an uppercase letter (which a repository may not).
 */
function splitDomain(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  let registry: string;
  let repository: string;
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first === first.toLowerCase())) {
    registry = DEFAULT_REGISTRY;
    repository = name;
  } else {
    registry = first;
    repository = name.slice(slash + 1);
  }
  if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository };
}

function checkDigest(ref: string, digest: string): void {
  if (!DIGEST_SHAPE_RE.test(digest))
    throw invalid(ref, `digest "${digest}" must look like sha256:<64 hex digits>`);
  const [algorithm = '', encoded = ''] = digest.split(':');
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined)
    throw invalid(ref, `digest algorithm "${algorithm}" is not supported (use sha256)`);
  if (!new RegExp(`^[a-f0-9]{${length}}$`).test(encoded)) {
    throw invalid(ref, `a ${algorithm} digest must be ${length} lowercase hex digits`);
  }
}

/** registry/repository[:tag][@digest] */
export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The fully qualified form of `s`, with `:latest` when it names neither tag nor digest. */
export function normalizeReference(s: string): string {
  const ref = parseReference(s);
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest';
  return formatReference(ref);
}

/** normalizeReference, or undefined when `s` is not a valid reference (for discovery, where junk is skipped). */
export function tryNormalizeReference(s: string): string | undefined {
  try {
    return normalizeReference(s);
  } catch {
    return undefined;
  }
}
