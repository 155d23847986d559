/**
 * Delta bundles. A delta's manifest lists every entry of the full bundle; the archive stores only
 * the entries its base lacks. This module holds what "the base has it" means and which base a
 * delta may be made against, or merged with.
 */
import { hexOf } from '../lib/digest.js';
import { formatError, integrityError, specError } from '../lib/errors.js';
import type { BundleManifest } from './manifest.js';

/** What making a delta needs to know of its base: which bundle it is, and the content it holds. */
export interface DeltaBase {
  name: string;
  version: string;
  manifestDigest: string;
  /** sha256 (hex) of every entry the base's manifest lists. */
  digests: Set<string>;
  /** Their sizes: content of any other size cannot be in the base, so it need not be hashed first. */
  sizes: Set<number>;
}

/**
 * The base of a delta of bundle `name` `version`, from the base bundle's manifest. `path` names the
 * base in errors. A base of another name, or of the same version, is refused.
 */
export function deltaBase(
  path: string,
  base: { manifest: BundleManifest; manifestDigest: string },
  name: string,
  version: string,
): DeltaBase {
  const m = base.manifest;
  if (m.name !== name) {
    throw specError(
      `--base ${path} is bundle "${m.name}", not "${name}"`,
      'pass an earlier bundle of the same name',
    );
  }
  if (m.version === version) {
    throw specError(`--base ${path} has the same version ${m.version}`, 'bump metadata.version in the spec');
  }
  return {
    name: m.name,
    version: m.version,
    manifestDigest: base.manifestDigest,
    digests: new Set(m.contents.map((c) => c.sha256)),
    sizes: new Set(m.contents.map((c) => c.size)),
  };
}

/** Whether the base holds content of this digest (sha256:…), which the delta then leaves out. */
export function baseHolds(base: DeltaBase | undefined, digest: string | undefined): boolean {
  return digest !== undefined && (base?.digests.has(hexOf(digest)) ?? false);
}

/** The manifest's `delta` field: the base a delta needs, or null for a full bundle. */
export function deltaField(base: DeltaBase | undefined): BundleManifest['delta'] {
  return base
    ? { base: { name: base.name, version: base.version, manifestDigest: base.manifestDigest } }
    : null;
}

type BaseRef = NonNullable<BundleManifest['delta']>['base'];

/** The base a delta names; `path` names the delta in the error when it is a full bundle. */
export function baseOfDelta(delta: BundleManifest, path: string): BaseRef {
  const want = delta.delta?.base;
  if (!want)
    throw formatError(`${path} is a full bundle, not a delta`, 'merge needs a bundle made with --base');
  return want;
}

/** Checks that `base` (at `path`) is the exact bundle `want` names: merge needs all a delta leaves out. */
export function checkBase(
  want: BaseRef,
  base: { manifest: BundleManifest; manifestDigest: string },
  path: string,
): void {
  if (base.manifestDigest !== want.manifestDigest) {
    throw integrityError(
      `${path} is ${base.manifest.name} ${base.manifest.version}, but the delta was made against ${want.name} ${want.version} (${want.manifestDigest})`,
      `pass the exact bundle ${want.name} ${want.version} the delta was made from with --base`,
    );
  }
}
