/** `kubechat bundle inspect`: what a bundle holds, read from its manifest (and TOC) without a full pass. */
import { openBundle, readToc } from '../bundle/reader.js';
import type { BundleManifest } from '../bundle/manifest.js';
import { hexOf } from '../lib/digest.js';
import { effectiveExpiry, readSignature } from '../signing/signature.js';

export interface InspectResult {
  bundle: string;
  name: string;
  version: string;
  created: string;
  expires: string | null;
  manifestDigest: string;
  delta: BundleManifest['delta'];
  signature: 'absent' | 'present-unchecked';
  /**
   * What the signature claims, NOT verified (bundle verify does that): the signer's key id, the
   * expiry it signs, and whether its statement names this manifest's sha256.
   */
  signer: null | { keyId: string; expires: string | null; statementMatchesManifest: boolean };
  seekable: boolean;
  parts: number;
  totals: {
    entries: number;
    contentBytes: number;
    /** Entries and bytes carried by this file (the rest come from the delta base); null without a TOC. */
    storedEntries: number | null;
    storedBytes: number | null;
    fileBytes: number;
  };
  artifacts: BundleManifest['artifacts'];
  manifest: BundleManifest;
}

export async function inspectBundle(bundlePath: string): Promise<InspectResult> {
  const bundle = await openBundle(bundlePath);
  const m = bundle.manifest;
  const toc = await readToc(bundle);
  const present = toc ? new Set(toc.entries.map((e) => e.path)) : undefined;
  const claimed = bundle.signature ? readSignature(bundle.signature) : undefined;
  const stored = present ? m.contents.filter((c) => present.has(c.path)) : undefined;
  return {
    bundle: bundlePath,
    name: m.name,
    version: m.version,
    created: m.created,
    expires: effectiveExpiry(m.expires, claimed?.statement?.predicate.expires),
    manifestDigest: bundle.manifestDigest,
    delta: m.delta,
    signature: bundle.signature ? 'present-unchecked' : 'absent',
    signer: claimed
      ? {
          keyId: claimed.keyId,
          expires: claimed.statement?.predicate.expires ?? null,
          statementMatchesManifest:
            claimed.statement?.subject[0]?.digest.sha256 === hexOf(bundle.manifestDigest),
        }
      : null,
    seekable: bundle.frames !== undefined,
    parts: bundle.source.parts?.parts.length ?? 0,
    totals: {
      entries: m.contents.length,
      contentBytes: m.contents.reduce((n, c) => n + c.size, 0),
      storedEntries: stored?.length ?? null,
      storedBytes: stored ? stored.reduce((n, c) => n + c.size, 0) : null,
      fileBytes: bundle.source.size,
    },
    artifacts: m.artifacts,
    manifest: m,
  };
}
