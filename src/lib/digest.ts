import { createHash } from 'node:crypto';

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** A digest of the right length that stands in for one not yet known (sizes of what embeds it stay exact). */
export const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hexOf(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice('sha256:'.length);
}

/**
 * Where a blob lives relative to the root of an OCI image layout (image-spec image-layout.md):
 * `blobs/sha256/<hex>`. kubechat bundles, the content cache, OCI layouts it reads, writes and serves
 * all use it; bundle/layout.ts re-exports it as the bundle's blob entry names.
 */
export const BLOB_DIR = 'blobs/sha256';
export const BLOB_PREFIX = `${BLOB_DIR}/`;

export function blobPath(digest: string): string {
  return BLOB_PREFIX + hexOf(digest);
}

/** The digest a `blobs/sha256/<hex>` path claims to hold, or undefined for any other path. */
export function digestOfBlobPath(path: string): string | undefined {
  if (!path.startsWith(BLOB_PREFIX)) return undefined;
  const hex = path.slice(BLOB_PREFIX.length);
  return /^[a-f0-9]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
}
