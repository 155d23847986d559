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
