/**
 * The bundle manifest (`kubechat-bundle.json`): what the bundle installs, and every other entry of
 * the archive with its sha256 and size. It describes content, not packing: a delta bundle and the
 * full bundle merged from it carry the same manifest bytes (and so the same signature).
 */
import { schemaValidator } from '../lib/schema.js';
import { canonicalJson } from '../lib/json.js';
import { sha256Digest } from '../lib/digest.js';
import { formatError } from '../lib/errors.js';
import type { ChartInfo, ImageInfo, ModelInfo } from './plan.js';
import { BUNDLE_SCHEMA_VERSION } from './layout.js';
import { unsafePathReason } from './tar.js';

export interface ContentEntry {
  path: string;
  /** Hex sha256 of the entry's data. */
  sha256: string;
  size: number;
  /** Octal file mode, only for files/ entries that are executable ("0755"); absent means 0644. */
  mode?: string;
}

/** The tar mode of a content entry. */
export const modeOfEntry = (c: ContentEntry): number => (c.mode === undefined ? 0o644 : parseInt(c.mode, 8));

export interface FileSetInfo {
  source: string;
  target: string;
  files: number;
  size: number;
}

type Unkinded<T> = Omit<T, 'kind'>;

export interface BundleManifest {
  schemaVersion: typeof BUNDLE_SCHEMA_VERSION;
  name: string;
  version: string;
  created: string;
  expires: string | null;
  platforms: string[];
  delta: null | { base: { name: string; version: string; manifestDigest: string } };
  artifacts: {
    /** size: bytes of every blob the image uses (index/manifests, configs, layers). */
    images: Array<Unkinded<ImageInfo> & { size: number }>;
    /** size: bytes of the chart's OCI manifest, config and content. */
    charts: Array<Unkinded<ChartInfo> & { size: number }>;
    models: Unkinded<ModelInfo>[];
    files: FileSetInfo[];
  };
  contents: ContentEntry[];
}

export function encodeManifest(manifest: BundleManifest): Buffer {
  return Buffer.from(canonicalJson(manifest));
}

export const manifestDigest = (bytes: Buffer): string => sha256Digest(bytes);

function validate(value: unknown): string | undefined {
  const validator = schemaValidator('bundle-manifest.schema.json');
  if (validator(value)) return undefined;
  const e = validator.errors?.[0];
  return e ? `${e.instancePath || '/'} ${e.message ?? 'is invalid'}` : 'is invalid';
}

export function parseManifest(bytes: Buffer, what: string): BundleManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw formatError(
      `${what}: kubechat-bundle.json is not valid JSON`,
      'the bundle is corrupt: copy it again',
    );
  }
  const schemaVersion = (value as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (typeof schemaVersion === 'number' && schemaVersion > BUNDLE_SCHEMA_VERSION) {
    throw formatError(
      `${what}: bundle format v${schemaVersion} is newer than this kubechat understands (v${BUNDLE_SCHEMA_VERSION})`,
      'upgrade kubechat on this host',
    );
  }
  const problem = validate(value);
  if (problem)
    throw formatError(
      `${what}: kubechat-bundle.json ${problem}`,
      'the bundle is corrupt or not a kubechat bundle',
    );
  const manifest = value as BundleManifest;
  const seen = new Set<string>();
  for (const c of manifest.contents) {
    if (seen.has(c.path)) throw formatError(`${what}: kubechat-bundle.json lists ${c.path} twice`);
    // Checked here, with the manifest, so an unsafe path is refused before any entry is read.
    const unsafe = unsafePathReason(c.path);
    if (unsafe) {
      throw formatError(
        `${what}: kubechat-bundle.json lists an unsafe path "${c.path}": ${unsafe}`,
        'this is not a bundle made by kubechat: do not install it; get the bundle again from its source',
      );
    }
    seen.add(c.path);
  }
  return manifest;
}
