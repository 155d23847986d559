/**
 * What a served bundle or OCI layout offers, by registry name: every root of its index.json under the
 * names `repositoryNameOf` gives it, every manifest reachable from it (checked against its digest
 * once, at start-up, and then served from memory) and every blob those manifests reference.
 * Repository scoping follows the distribution spec: a blob or manifest is served only under a
 * repository whose images reference it.
 */
import { sha256Digest } from '../lib/digest.js';
import { integrityError } from '../lib/errors.js';
import { readAll } from '../lib/streams.js';
import { Annotation, INDEX_MEDIA_TYPES, MediaType } from '../oci/media-types.js';
import { repositoryNameOf } from '../oci/repository-names.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/types.js';

/** Random-access blob storage: a bundle (through its seek table) or an OCI layout directory. */
export interface BlobStore {
  /** What to call it in messages. */
  readonly name: string;
  /** The bytes of the layout's index.json. */
  indexJson(): Promise<Buffer>;
  /** The blob's size, or undefined when the store does not hold it. */
  size(digest: string): Promise<number | undefined>;
  /**
   * Bytes [start, end) of a blob the store holds, as a stream. Chunks may be views of reused
   * buffers: `lease` one (lib/leases.ts) to keep it past the request for the next chunk.
   */
  read(digest: string, start: number, end: number): AsyncIterable<Buffer>;
}

export interface ServedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ServedRepository {
  name: string;
  /** tag → manifest digest */
  tags: Map<string, string>;
  manifests: Set<string>;
  blobs: Set<string>;
}

export interface Catalog {
  repositories: Map<string, ServedRepository>;
  manifests: Map<string, ServedManifest>;
  /** Roots that are not served by name, and references to absent blobs. */
  warnings: string[];
}

const MAX_MANIFEST = 16 * 1024 * 1024;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

interface Reachable {
  manifests: Set<string>;
  blobs: Set<string>;
}

export async function buildCatalog(
  store: BlobStore,
  options: { fallbackRepository?: string } = {},
): Promise<Catalog> {
  const manifests = new Map<string, ServedManifest>();
  const warnings: string[] = [];
  const corrupt = (what: string) =>
    integrityError(
      `${store.name}: ${what}`,
      'run kubechat bundle verify on it, then copy the bundle (or layout) again',
    );

  const docs = new Map<string, Partial<ImageIndex & ImageManifest>>();
  const load = async (d: Descriptor): Promise<ServedManifest | undefined> => {
    const known = manifests.get(d.digest);
    if (known) return known;
    const size = await store.size(d.digest);
    if (size === undefined) return undefined;
    if (size !== d.size)
      throw corrupt(`manifest ${d.digest} has ${size} bytes, its descriptor says ${d.size}`);
    if (size > MAX_MANIFEST) throw corrupt(`manifest ${d.digest} is implausibly large (${size} bytes)`);
    const bytes = await readAll(store.read(d.digest, 0, size));
    if (sha256Digest(bytes) !== d.digest) throw corrupt(`manifest ${d.digest} does not match its digest`);
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw corrupt(`manifest ${d.digest} is not JSON`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
      throw corrupt(`manifest ${d.digest} is not a JSON object`);
    const parsed = doc as Partial<ImageIndex & ImageManifest>;
    // The descriptor's media type is what the image was pushed with; a bare descriptor falls back
    // to the manifest's own mediaType field.
    const own = parsed.mediaType;
    const mediaType = d.mediaType || (typeof own === 'string' ? own : MediaType.ociManifest);
    const m = { digest: d.digest, mediaType, bytes };
    manifests.set(d.digest, m);
    docs.set(d.digest, parsed);
    return m;
  };

  const walk = async (d: Descriptor, into: Reachable, root: string): Promise<void> => {
    if (!DIGEST_RE.test(d.digest)) throw corrupt(`${root}: descriptor digest "${d.digest}" is not sha256`);
    const m = await load(d);
    if (!m) {
      warnings.push(`${root}: manifest ${d.digest} is not in ${store.name}`);
      return;
    }
    into.manifests.add(d.digest);
    const doc = docs.get(d.digest)!;
    if (INDEX_MEDIA_TYPES.has(m.mediaType) || Array.isArray(doc.manifests)) {
      for (const child of Array.isArray(doc.manifests) ? doc.manifests : []) {
        // A bundle keeps only the platforms its spec chose: absent children are expected.
        if (typeof child?.digest === 'string' && (await store.size(child.digest)) !== undefined)
          await walk(child, into, root);
      }
      return;
    }
    const blobs = [...(doc.config ? [doc.config] : []), ...(Array.isArray(doc.layers) ? doc.layers : [])];
    for (const blob of blobs) {
      if (typeof blob?.digest !== 'string' || !DIGEST_RE.test(blob.digest))
        throw corrupt(`manifest ${d.digest} references "${blob.digest}"`);
      if ((await store.size(blob.digest)) === undefined)
        warnings.push(`${root}: blob ${blob.digest} is not in ${store.name}: pulls of it will fail`);
      into.blobs.add(blob.digest);
    }
  };

  let index: Partial<ImageIndex>;
  try {
    index = JSON.parse((await store.indexJson()).toString('utf8')) as Partial<ImageIndex>;
  } catch {
    throw corrupt('index.json is not JSON');
  }
  if (typeof index !== 'object' || index === null || Array.isArray(index))
    throw corrupt('index.json is not a JSON object');
  const repositories = new Map<string, ServedRepository>();
  const repo = (name: string) => {
    let r = repositories.get(name);
    if (!r) {
      r = { name, tags: new Map(), manifests: new Set(), blobs: new Set() };
      repositories.set(name, r);
    }
    return r;
  };
  // Primary names (registry host dropped) can collide: such a tag is served only by qualified names.
  const primary = new Map<string, Set<string>>();
  const roots: Array<{ names: string[]; tag: string; digest: string; reach: Reachable }> = [];
  for (const d of Array.isArray(index.manifests) ? index.manifests : []) {
    if (typeof d?.digest !== 'string') throw corrupt('index.json has an entry without a digest');
    const refName = d.annotations?.[Annotation.refName];
    if (refName === undefined) {
      warnings.push(`index.json entry ${d.digest} has no ${Annotation.refName}: not served by name`);
      continue;
    }
    const name = repositoryNameOf(refName, {
      kind: d.annotations?.[Annotation.kind],
      fallbackRepository: options.fallbackRepository,
    });
    if (!name) {
      warnings.push(`${refName}: not a reference with a tag: not served by name`);
      continue;
    }
    const reach: Reachable = { manifests: new Set(), blobs: new Set() };
    await walk(d, reach, refName);
    if (!reach.manifests.has(d.digest)) continue;
    const key = `${name.repository}:${name.tag}`;
    primary.set(key, (primary.get(key) ?? new Set()).add(d.digest));
    roots.push({
      names: [name.repository, ...(name.qualified ? [name.qualified] : [])],
      tag: name.tag,
      digest: d.digest,
      reach,
    });
  }
  for (const root of roots) {
    for (const [i, n] of root.names.entries()) {
      const clash = i === 0 && (primary.get(`${n}:${root.tag}`)?.size ?? 0) > 1;
      if (clash) {
        warnings.push(
          `${n}:${root.tag} names more than one image: served only as ${root.names.slice(1).join(', ') || '(no other name)'}`,
        );
        continue;
      }
      const r = repo(n);
      r.tags.set(root.tag, root.digest);
      for (const m of root.reach.manifests) r.manifests.add(m);
      for (const b of root.reach.blobs) r.blobs.add(b);
    }
  }
  return { repositories, manifests, warnings };
}

/** Every `repository:tag` served, sorted, with its manifest digest (for the start-up listing). */
export function listTags(catalog: Catalog): Array<{ repository: string; tag: string; digest: string }> {
  const out: Array<{ repository: string; tag: string; digest: string }> = [];
  for (const r of catalog.repositories.values())
    for (const [tag, digest] of r.tags) out.push({ repository: r.name, tag, digest });
  return out.sort((a, b) =>
    a.repository === b.repository ? a.tag.localeCompare(b.tag) : a.repository.localeCompare(b.repository),
  );
}
