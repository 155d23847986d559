/**
 * Plans an image from a local OCI image layout (image-spec image-layout.md: `oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`), as written by `skopeo copy … oci:DIR:TAG`, buildx or crane.
 *
 * Platform selection for a multi-platform index: the index stays the root and its bytes stay exactly
 * the original (its digest is the image's identity, what a deployment pins). Without `allPlatforms`
 * only the chosen platforms' child manifests and their blobs go into the bundle: the other children
 * the index lists are ABSENT from the bundle, so consumers must select children by platform and never
 * expect every child of an index to be present. A single-platform index (image + attestation) is
 * unwrapped: its image manifest becomes the root. An empty `platforms` list means no filter.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileBlob, ImageInfo, MemoryBlob, PlannedArtifact, PlannedBlob } from '../bundle/plan.js';
import { describeFsError, sourceError } from '../lib/errors.js';
import { blobPath, DIGEST_RE, sha256Digest } from '../lib/digest.js';
import { Annotation, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from '../oci/media-types.js';
import { parseReference, tryNormalizeReference } from '../oci/reference.js';
import {
  choosePlatforms,
  configPlatform,
  formatPlatform,
  isRealPlatform,
  satisfies,
} from '../oci/platform.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../oci/types.js';

export interface OciLayoutInput {
  /** Already normalised reference the image gets in the bundle. */
  ref: string;
  layoutDir: string;
  /** Value of org.opencontainers.image.ref.name to pick; undefined when the layout holds one image. */
  tag: string | undefined;
  /** As written in the spec, for messages and ImageInfo.source. */
  source: string;
}

/** Manifests and configs are read into memory; refuse absurd sizes rather than exhaust memory. */
const MAX_JSON_BLOB = 16 * 1024 * 1024;
const REEXPORT_FIX = 're-export the image, e.g. skopeo copy docker://IMAGE oci:DIR:TAG';

class Layout {
  readonly blobs = new Map<string, PlannedBlob>();
  constructor(readonly dir: string) {}

  fail(what: string, fix = REEXPORT_FIX, cause?: unknown): Error {
    return sourceError(`OCI layout ${this.dir}: ${what}`, fix, cause);
  }

  private blobPath(d: Descriptor): string {
    if (typeof d.digest !== 'string' || !DIGEST_RE.test(d.digest)) {
      throw this.fail(`descriptor digest ${JSON.stringify(d.digest)} is not a sha256 digest`);
    }
    if (!Number.isSafeInteger(d.size) || d.size < 0)
      throw this.fail(`descriptor ${d.digest} has no valid size`);
    return join(this.dir, blobPath(d.digest));
  }

  async readFileIn(path: string, what: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw this.fail(`${what} is missing`, REEXPORT_FIX, err);
      throw describeFsError(err, path, 'read') ?? err;
    }
  }

  /** Reads a manifest/index/config blob, verifying size and digest, and parses it as JSON. */
  async json(d: Descriptor, what: string): Promise<{ blob: MemoryBlob; value: Record<string, unknown> }> {
    const path = this.blobPath(d);
    if (d.size > MAX_JSON_BLOB)
      throw this.fail(`${what} ${d.digest} is ${d.size} bytes, too large for a ${what}`);
    const data = await this.readFileIn(path, `${what} blob ${d.digest}`);
    if (data.length !== d.size)
      throw this.fail(`${what} blob ${d.digest} is ${data.length} bytes, descriptor says ${d.size}`);
    const actual = sha256Digest(data);
    if (actual !== d.digest)
      throw this.fail(`${what} blob ${d.digest} is corrupt: its content hashes to ${actual}`);
    const value = parseJson(data, () => this.fail(`${what} blob ${d.digest} is not valid JSON`));
    const blob: MemoryBlob = { mediaType: d.mediaType, digest: d.digest, size: d.size, data };
    return { blob, value };
  }

  /** A layer: checked for presence and size now; its digest is verified by the writer while streaming. */
  async layer(d: Descriptor): Promise<FileBlob> {
    const path = this.blobPath(d);
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw this.fail(`layer blob ${d.digest} is not a regular file`);
      size = st.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw this.fail(`layer blob ${d.digest} is missing`);
      throw describeFsError(err, path, 'read') ?? err;
    }
    if (size !== d.size)
      throw this.fail(`layer blob ${d.digest} is ${size} bytes, descriptor says ${d.size}`);
    return { mediaType: d.mediaType, digest: d.digest, size, path };
  }

  add(blob: PlannedBlob): void {
    if (blob.digest !== undefined && !this.blobs.has(blob.digest)) this.blobs.set(blob.digest, blob);
  }

  /** Loads an image manifest, its config and its layers into `blobs`; returns the manifest and config. */
  async manifest(d: Descriptor): Promise<{ blob: MemoryBlob; config: Record<string, unknown> }> {
    const { blob, value } = await this.json(d, 'manifest');
    checkMediaType(this, d, value);
    const m = value as unknown as ImageManifest;
    if (
      m.schemaVersion !== 2 ||
      !isDescriptor(m.config) ||
      !Array.isArray(m.layers) ||
      !m.layers.every(isDescriptor)
    ) {
      throw this.fail(`manifest ${d.digest} is not an image manifest (schemaVersion 2, config, layers)`);
    }
    const config = await this.json(m.config, 'config');
    this.add(config.blob);
    for (const layer of m.layers) this.add(await this.layer(layer));
    return { blob, config: config.value };
  }
}

function parseJson(data: Buffer, onError: () => Error): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    throw onError();
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw onError();
  return value as Record<string, unknown>;
}

function isDescriptor(v: unknown): v is Descriptor {
  const d = v as Descriptor | undefined;
  return (
    typeof d === 'object' && d !== null && typeof d.mediaType === 'string' && typeof d.digest === 'string'
  );
}

/** The mediaType inside a manifest, when present, must agree with the descriptor that points at it. */
function checkMediaType(layout: Layout, d: Descriptor, value: Record<string, unknown>): void {
  if (value.mediaType !== undefined && value.mediaType !== d.mediaType) {
    throw layout.fail(
      `blob ${d.digest} has mediaType ${String(value.mediaType)}, its descriptor says ${d.mediaType}`,
    );
  }
}

/** Reads oci-layout and index.json and returns the descriptor tagged `tag`. */
async function findRoot(layout: Layout, input: OciLayoutInput): Promise<Descriptor> {
  const marker = parseJson(await layout.readFileIn(join(layout.dir, 'oci-layout'), 'oci-layout file'), () =>
    layout.fail('oci-layout is not valid JSON'),
  );
  if (marker.imageLayoutVersion !== '1.0.0') {
    throw layout.fail(
      `unsupported imageLayoutVersion ${JSON.stringify(marker.imageLayoutVersion)} (expected 1.0.0)`,
    );
  }
  const index = parseJson(await layout.readFileIn(join(layout.dir, 'index.json'), 'index.json'), () =>
    layout.fail('index.json is not valid JSON'),
  ) as unknown as ImageIndex;
  if (!Array.isArray(index.manifests) || !index.manifests.every(isDescriptor)) {
    throw layout.fail('index.json has no valid manifests list');
  }
  const all = index.manifests;
  const names = all
    .map((d) => d.annotations?.[Annotation.refName])
    .filter((n): n is string => n !== undefined);
  const listed = names.length > 0 ? names.join(', ') : 'none';

  if (input.tag === undefined) {
    // One image, possibly under several names, needs no tag.
    if (all[0] && new Set(all.map((d) => d.digest)).size === 1) return all[0];
    throw layout.fail(
      `holds ${all.length} manifests, name one (tags: ${listed})`,
      `write the source as oci:${input.source.replace(/^oci:/, '')}:TAG`,
    );
  }
  const tag = input.tag;
  const nameOf = (d: Descriptor) => d.annotations?.[Annotation.refName];
  // Exact tag first; then a full ref name written another way (like skopeo's oci:DIR:docker.io/a/b:1);
  // then a layout whose ref names are full refs while the spec names only the tag.
  let matches = all.filter((d) => nameOf(d) === tag);
  if (matches.length === 0) {
    const wanted = tryNormalizeReference(tag);
    matches = all.filter((d) => wanted !== undefined && tryNormalizeReference(nameOf(d) ?? '') === wanted);
  }
  if (matches.length === 0) {
    const want = parseReference(input.ref);
    matches = all.filter((d) => {
      const full = tryNormalizeReference(nameOf(d) ?? '');
      if (full === undefined || !(nameOf(d) ?? '').includes(':')) return false;
      const r = parseReference(full);
      return r.tag === tag && r.registry === want.registry && r.repository === want.repository;
    });
  }
  // A lone manifest without any ref name (some exporters write none) is the image, whatever the tag.
  if (matches.length === 0 && all.length === 1 && names.length === 0) matches = all;
  const digests = new Set(matches.map((d) => d.digest));
  const first = matches[0];
  if (first === undefined)
    throw layout.fail(`no manifest tagged "${tag}" (tags: ${listed})`, 'use one of the listed tags');
  if (digests.size > 1)
    throw layout.fail(
      `tag "${tag}" names ${digests.size} different manifests`,
      'keep one manifest per tag in index.json',
    );
  return first;
}

export async function planOciLayoutImage(
  input: OciLayoutInput,
  platforms: Platform[],
  allPlatforms: boolean,
): Promise<PlannedArtifact> {
  const layout = new Layout(input.layoutDir);
  const rootDesc = await findRoot(layout, input);
  let root: MemoryBlob;
  let platform: Platform | undefined;
  let chosenPlatforms: string[];
  // No requested platform means no filter: everything the source has.
  const filter = !allPlatforms && platforms.length > 0;

  if (INDEX_MEDIA_TYPES.has(rootDesc.mediaType)) {
    const { blob, value } = await layout.json(rootDesc, 'index');
    checkMediaType(layout, rootDesc, value);
    const index = value as unknown as ImageIndex;
    if (!Array.isArray(index.manifests) || !index.manifests.every(isDescriptor)) {
      throw layout.fail(`index ${rootDesc.digest} has no valid manifests list`);
    }
    for (const child of index.manifests) {
      if (!MANIFEST_MEDIA_TYPES.has(child.mediaType)) {
        throw layout.fail(
          `index ${rootDesc.digest} lists ${child.mediaType} ${child.digest}; only image manifests are supported there`,
        );
      }
    }
    const real = index.manifests.filter(isRealPlatform);
    let chosen: Descriptor[] = index.manifests;
    if (filter) {
      chosen = choosePlatforms(real, platforms, (want, available) =>
        sourceError(
          `OCI layout ${layout.dir}: ${input.ref} has no ${formatPlatform(want)} image (available: ${available.join(', ') || 'none'})`,
          `drop ${formatPlatform(want)} from the platforms, or use an image built for it`,
        ),
      );
    }
    const only = chosen[0];
    if (filter && real.length === 1 && only) {
      // A single-platform index (typically image + attestation): the image manifest is the root.
      root = (await layout.manifest(only)).blob;
      platform = only.platform;
    } else {
      root = blob;
      for (const child of chosen) layout.add((await layout.manifest(child)).blob);
    }
    chosenPlatforms = chosen.filter(isRealPlatform).map((d) => formatPlatform(d.platform as Platform));
  } else if (MANIFEST_MEDIA_TYPES.has(rootDesc.mediaType)) {
    const { blob, config } = await layout.manifest(rootDesc);
    const have = configPlatform(config);
    if (!have) throw layout.fail(`config of ${rootDesc.digest} has no os/architecture`);
    platform = have;
    const missing = filter ? platforms.filter((want) => !satisfies(have, want)) : [];
    if (missing.length > 0) {
      throw sourceError(
        `OCI layout ${layout.dir}: ${input.ref} is a single-platform ${formatPlatform(have)} image, not ${missing.map(formatPlatform).join(', ')}`,
        `set the platforms to ${formatPlatform(have)} for this image, or export a multi-platform index`,
      );
    }
    root = blob;
    chosenPlatforms = [formatPlatform(have)];
  } else {
    throw layout.fail(
      `${rootDesc.digest} has media type ${rootDesc.mediaType}, not an image manifest or index`,
    );
  }

  const info: ImageInfo = {
    kind: 'image',
    ref: input.ref,
    source: input.source,
    digest: root.digest,
    mediaType: root.mediaType,
    platforms: chosenPlatforms,
  };
  layout.blobs.delete(root.digest);
  const artifact: PlannedArtifact = {
    kind: 'image',
    refName: input.ref,
    blobs: [...layout.blobs.values()],
    finish: () => ({ root, extra: [], info }),
  };
  if (platform !== undefined) artifact.platform = platform;
  return artifact;
}
