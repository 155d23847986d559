/**
 * The one place that knows the bundle's entry names and file names (Bundle format v1, DESIGN.md).
 * Everything else asks this module.
 */
/** Blob entries are named as in an OCI image layout (`blobs/sha256/<hex>`): one rule, in lib/digest.ts. */
export { BLOB_PREFIX, blobPath, digestOfBlobPath } from '../lib/digest.js';

export const BUNDLE_SCHEMA_VERSION = 1;
export const BUNDLE_SUFFIX = '.kcb.tar.zst';
export const PARTS_SUFFIX = '.parts.json';

export const Entry = {
  manifest: 'kubechat-bundle.json',
  signature: 'kubechat-bundle.sigstore.json',
  ociLayout: 'oci-layout',
  index: 'index.json',
  toc: 'kubechat-toc.json',
} as const;

export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}';

export const FILES_PREFIX = 'files/';
/** files/<target> that kubechat's own database migrations go to in every bundle. */
export const MIGRATIONS_TARGET = 'migrations';
export const MIGRATIONS_PREFIX = `${FILES_PREFIX}${MIGRATIONS_TARGET}/`;
/** How the migrations file set is named in the manifest (not a host path: bundles stay reproducible). */
export const MIGRATIONS_SOURCE = 'kubechat:db/migrations';

export function filePath(target: string, relative: string): string {
  const joined = [target, relative].filter((p) => p !== '' && p !== '.').join('/');
  return FILES_PREFIX + joined;
}

export function bundleFileName(name: string, version: string, baseVersion?: string): string {
  return baseVersion === undefined
    ? `${name}-${version}${BUNDLE_SUFFIX}`
    : `${name}-${version}.delta-${baseVersion}${BUNDLE_SUFFIX}`;
}

export function partName(bundleFile: string, index: number): string {
  return `${bundleFile}.${String(index + 1).padStart(3, '0')}`;
}

export function partsFileName(bundleFile: string): string {
  return bundleFile + PARTS_SUFFIX;
}
