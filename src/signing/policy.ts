/**
 * What may be installed: the one check every command that loads a bundle into a target runs before
 * it writes anything anywhere. Refuses an unsigned bundle (unless allowUnsigned), an untrusted or
 * invalid signature, a manifest that is not the signed one (always fatal: no override), an expired
 * bundle (unless allowExpired), and a version lower than the highest installed under the same name
 * (unless allowDowngrade). Every override used is returned as a warning and must be recorded.
 */
import { trustError, specError } from '../lib/errors.js';
import { parseManifest, manifestDigest, type BundleManifest } from '../bundle/manifest.js';
import { openBundle, type OpenedBundle } from '../bundle/reader.js';
import { effectiveExpiry, verifyManifestSignature, type TrustedKey } from './signature.js';
import { compareVersions, NO_INSTALLED_VERSIONS, type InstalledVersionStore } from './versions.js';

export type Override = 'allow-unsigned' | 'allow-expired' | 'allow-downgrade';

export interface PolicyInput {
  manifestBytes: Buffer;
  /** The bytes of kubechat-bundle.sigstore.json, absent for an unsigned bundle. */
  sigstoreBytes?: Buffer;
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  allowExpired?: boolean;
  allowDowngrade?: boolean;
  versions: InstalledVersionStore;
  now?: Date;
  /** Names the bundle in messages (its path). */
  source?: string;
}

export interface PolicyResult {
  name: string;
  version: string;
  manifestDigest: string;
  signed: boolean;
  keyId?: string;
  /** Where the trusted key that verified the signature came from. */
  keySource?: string;
  /** The expiry that applies (the earlier of the manifest's and the signed statement's). */
  expires?: string;
  overrides: Override[];
  warnings: string[];
}

export async function enforceBundlePolicy(input: PolicyInput): Promise<PolicyResult> {
  const what = input.source ?? 'bundle';
  const manifest: BundleManifest = parseManifest(input.manifestBytes, what);
  const now = input.now ?? new Date();
  const overrides: Override[] = [];
  const warnings: string[] = [];
  const result: PolicyResult = {
    name: manifest.name,
    version: manifest.version,
    manifestDigest: manifestDigest(input.manifestBytes),
    signed: input.sigstoreBytes !== undefined,
    overrides,
    warnings,
  };

  let signedExpires: string | null | undefined;
  if (input.sigstoreBytes === undefined) {
    if (!input.allowUnsigned) {
      throw trustError(
        'unsigned',
        `${what}: ${manifest.name} ${manifest.version} is not signed`,
        'install only signed bundles (kubechat bundle sign BUNDLE --key KEY), or pass {flag:allow-unsigned} to accept the risk',
      );
    }
    overrides.push('allow-unsigned');
    warnings.push(
      `--allow-unsigned: ${manifest.name} ${manifest.version} is not signed; its origin is unchecked`,
    );
  } else {
    // A bad signature is fatal whatever the overrides: --allow-unsigned does not cover it.
    const v = verifyManifestSignature(input.manifestBytes, manifest, input.sigstoreBytes, input.trustedKeys);
    result.keyId = v.keyId;
    result.keySource = v.keySource;
    signedExpires = v.predicate.expires;
  }

  const expires = effectiveExpiry(manifest.expires, signedExpires);
  if (expires !== null) {
    result.expires = expires;
    if (now.getTime() > Date.parse(expires)) {
      if (!input.allowExpired) {
        throw trustError(
          'expired',
          `${what}: ${manifest.name} ${manifest.version} expired on ${expires}`,
          'get a fresh bundle from its publisher, or pass {flag:allow-expired} to accept the risk',
        );
      }
      overrides.push('allow-expired');
      warnings.push(`--allow-expired: ${manifest.name} ${manifest.version} expired on ${expires}`);
    }
  }

  const highest = await input.versions.highest(manifest.name);
  if (highest !== undefined && compareVersions(manifest.version, highest) < 0) {
    if (!input.allowDowngrade) {
      throw trustError(
        'downgrade',
        `${what}: ${manifest.name} ${manifest.version} is older than ${highest}, already installed (rollback refused)`,
        `install ${highest} or newer, or pass {flag:allow-downgrade} to roll back on purpose`,
      );
    }
    overrides.push('allow-downgrade');
    warnings.push(`--allow-downgrade: rolling ${manifest.name} back from ${highest} to ${manifest.version}`);
  }
  return result;
}

/** The policy over an opened bundle: the keys, the overrides, and (for rollback) the versions installed. */
export type TrustCheck = Omit<PolicyInput, 'manifestBytes' | 'sigstoreBytes' | 'source' | 'versions'> & {
  /** Default: none (a check that does not install, such as serving or validating, knows no versions). */
  versions?: InstalledVersionStore;
};

export interface TrustedBundle {
  bundle: OpenedBundle;
  policy: PolicyResult;
}

/**
 * The one trust check of everything that loads a bundle somewhere (install, models import, registry
 * serve, the bundle validation suite): open the bundle (its parts in place) unless it is open
 * already, then signature → trusted key → expiry → rollback. Throws to refuse it.
 */
export async function openTrustedBundle(
  path: string,
  check: TrustCheck,
  opened?: OpenedBundle,
): Promise<TrustedBundle> {
  const bundle = opened ?? (await openBundle(path));
  const policy = await enforceBundlePolicy({
    ...check,
    manifestBytes: bundle.manifestBytes,
    sigstoreBytes: bundle.signature,
    versions: check.versions ?? NO_INSTALLED_VERSIONS,
    source: path,
  });
  return { bundle, policy };
}

/** Records a successful install (call after the targets were written). */
export async function recordInstall(
  versions: InstalledVersionStore,
  policy: PolicyResult,
  installedAt: Date = new Date(),
): Promise<void> {
  await versions.record({
    name: policy.name,
    version: policy.version,
    manifestDigest: policy.manifestDigest,
    installedAt: installedAt.toISOString(),
    overrides: [...policy.overrides],
  });
}

/**
 * `--expires` for bundle create / sign: a duration from `created` (`90d`, `12h`, `1y` = 365 days)
 * or an ISO 8601 date or date-time (a bare date means 00:00 UTC). Must be after `created`.
 */
export function parseExpires(value: string, created: Date): string {
  const rel = /^(\d+)([hdwy])$/.exec(value.trim());
  let at: number;
  if (rel) {
    const unit = { h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 }[rel[2] as 'h' | 'd' | 'w' | 'y'];
    at = created.getTime() + Number(rel[1]) * unit * 1000;
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    at = Date.parse(value.trim().length === 10 ? `${value.trim()}T00:00:00Z` : value.trim());
  } else {
    at = NaN;
  }
  if (!Number.isFinite(at)) {
    throw specError(
      `--expires ${value}: not a duration (90d, 12h, 2w, 1y) or a date (2027-01-31)`,
      'e.g. {flag:expires} 365d',
    );
  }
  if (at <= created.getTime()) {
    throw specError(
      `--expires ${value}: ${new Date(at).toISOString()} is not after the creation time ${created.toISOString()}`,
      'choose a later date',
    );
  }
  return new Date(at).toISOString();
}
