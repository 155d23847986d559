/**
 * `kubechat bundle sign`: signs an existing bundle. The manifest is kept byte for byte (deltas made
 * against this bundle still name it by its digest); the signature becomes the second entry and every
 * other entry is copied after it, checked against the manifest on the way. The new bundle is written
 * under a temporary name and replaces the old one (file, or parts and parts file) only when complete.
 */
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { integrityError, specError } from '../lib/errors.js';
import { ByteProgress, silentReporter, type Reporter } from '../lib/progress.js';
import { ArchiveWriter, tarMtime, type HeaderEntry } from '../bundle/archive-writer.js';
import { Entry } from '../bundle/layout.js';
import { modeOfEntry } from '../bundle/manifest.js';
import { openBundle, streamEntries } from '../bundle/reader.js';
import { createSink } from '../bundle/sink.js';
import { defaultCompressOptions, type CompressOptions } from '../bundle/zstd.js';
import type { SigningKey } from '../signing/keys.js';
import { parseExpires } from '../signing/policy.js';
import { effectiveExpiry, readSignature, signManifest } from '../signing/signature.js';

export interface SignBundleOptions {
  bundlePath: string;
  signingKey: SigningKey;
  /** A duration from now (365d) or a date; the manifest's own expiry still applies if earlier. */
  expires?: string;
  /** Replace an existing signature. */
  replace?: boolean;
  compress?: CompressOptions;
  now?: Date;
  reporter?: Reporter;
}

export interface SignBundleResult {
  bundle: string;
  files: string[];
  name: string;
  version: string;
  manifestDigest: string;
  keyId: string;
  expires: string | null;
  /** The key id of the signature that was replaced, or null. */
  replaced: string | null;
  bytes: number;
}

export async function signBundle(options: SignBundleOptions): Promise<SignBundleResult> {
  const reporter = options.reporter ?? silentReporter;
  const bundle = await openBundle(options.bundlePath);
  const m = bundle.manifest;
  const previous = bundle.signature ? readSignature(bundle.signature).keyId : null;
  if (previous !== null && !options.replace) {
    throw specError(
      `${options.bundlePath} is already signed (key ${previous || 'unnamed'})`,
      'pass {flag:replace} to replace its signature',
    );
  }
  const signedExpires =
    options.expires === undefined ? m.expires : parseExpires(options.expires, options.now ?? new Date());
  const signature = await signManifest(bundle.manifestBytes, m, options.signingKey, signedExpires);
  const header: HeaderEntry[] = [
    { path: Entry.manifest, data: bundle.manifestBytes },
    { path: Entry.signature, data: signature },
  ];

  const parts = bundle.source.parts;
  const dir = dirname(options.bundlePath);
  const finalPath = parts ? join(dir, parts.bundle) : options.bundlePath;
  const sink = await createSink(finalPath, parts ? parts.parts[0]!.size : undefined);
  const writer = new ArchiveWriter(
    sink,
    options.compress ?? defaultCompressOptions(),
    tarMtime(m.created),
    header.map((h) => ({ path: h.path, size: h.data.length })),
  );
  const listed = new Map(m.contents.map((c) => [c.path, c]));
  const progress = new ByteProgress(
    reporter,
    'sign',
    `Signing ${basename(finalPath)}`,
    m.contents.reduce((n, c) => n + c.size, 0),
  );
  try {
    for await (const e of streamEntries(bundle)) {
      if (e.path === Entry.manifest || e.path === Entry.signature || e.path === Entry.toc) continue;
      const c = listed.get(e.path);
      if (!c || c.size !== e.size) {
        throw integrityError(
          `${options.bundlePath}: ${e.path} ${c ? 'has the wrong size' : 'is not in the manifest'}`,
          'run kubechat bundle verify on it: a damaged bundle is not signed',
        );
      }
      const hex = await writer.addEntry(e.path, e.size, e.data, {
        onBytes: (k) => progress.add(k),
        mode: modeOfEntry(c),
      });
      if (hex !== c.sha256) {
        throw integrityError(
          `${options.bundlePath}: ${e.path} sha256 ${hex} does not match the manifest (${c.sha256})`,
          'run kubechat bundle verify on it: a damaged bundle is not signed',
        );
      }
    }
    progress.finish();
    const written = await writer.finish(header);
    const committed = await sink.commit();
    // Parts the old bundle had beyond the new one's (the signature made it shorter by a part).
    if (parts) {
      const kept = new Set(committed.files.map((f) => basename(f)));
      for (const p of parts.parts) if (!kept.has(p.name)) await rm(join(dir, p.name), { force: true });
    }
    return {
      bundle: committed.parts ? committed.files[committed.files.length - 1]! : finalPath,
      files: committed.files,
      name: m.name,
      version: m.version,
      manifestDigest: bundle.manifestDigest,
      keyId: options.signingKey.keyId,
      expires: effectiveExpiry(m.expires, signedExpires),
      replaced: previous,
      bytes: written.size,
    };
  } catch (err) {
    await writer.settle();
    await sink.abort();
    throw err;
  }
}
