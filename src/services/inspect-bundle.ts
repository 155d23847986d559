/** `kubechat bundle inspect`: what a bundle holds, read from its manifest (and TOC) without a full pass. */
import { openBundle, readToc } from '../bundle/reader.js';
import type { BundleManifest } from '../bundle/manifest.js';

export interface InspectResult {
  bundle: string;
  name: string;
  version: string;
  created: string;
  expires: string | null;
  manifestDigest: string;
  delta: BundleManifest['delta'];
  signature: 'absent' | 'present-unchecked';
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
  const stored = present ? m.contents.filter((c) => present.has(c.path)) : undefined;
  return {
    bundle: bundlePath,
    name: m.name,
    version: m.version,
    created: m.created,
    expires: m.expires,
    manifestDigest: bundle.manifestDigest,
    delta: m.delta,
    signature: bundle.signature ? 'present-unchecked' : 'absent',
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
