/**
 * Platforms (`os/architecture[/variant]`) and the one rule for matching them, used by everything
 * that reads an image index or config: the registry and OCI-layout sources choose children with it,
 * and verification names them with `formatPlatform`. Modelled on go-containerregistry's
 * `v1.Platform.Satisfies` and containerd's default variants.
 */
import { specError } from '../lib/errors.js';
import type { Descriptor, Platform } from './types.js';

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  i386: '386',
};

/** "linux/arm64/v8" → { os: 'linux', architecture: 'arm64', variant: 'v8' }; common arch aliases normalised. */
export function parsePlatform(s: string): Platform {
  const parts = s.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw specError(
      `invalid platform "${s}": expected os/arch[/variant]`,
      'write it like linux/amd64 or linux/arm64/v8',
    );
  }
  const [os = '', arch = '', variant] = parts;
  const platform: Platform = { os, architecture: ARCH_ALIASES[arch] ?? arch };
  if (variant !== undefined) platform.variant = variant;
  return platform;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * The platform an image config declares (`os`, `architecture`, `variant`), or undefined when it
 * lacks os or architecture. An empty variant counts as none.
 */
export function configPlatform(config: { os?: unknown; architecture?: unknown; variant?: unknown }) {
  if (typeof config.os !== 'string' || typeof config.architecture !== 'string') return undefined;
  const platform: Platform = { os: config.os, architecture: config.architecture };
  if (typeof config.variant === 'string' && config.variant !== '') platform.variant = config.variant;
  return platform;
}

/** Variant with the defaults containerd assumes: arm64 means v8, arm means v7, amd64/v1 is plain amd64. */
function normalVariant(p: Platform): string {
  const v = p.variant ?? '';
  if (p.architecture === 'arm64' && v === '') return 'v8';
  if (p.architecture === 'arm' && v === '') return 'v7';
  if (p.architecture === 'amd64' && v === 'v1') return '';
  return v;
}

/**
 * How well `have` serves `want`: 0 not at all (other os or architecture, or another variant than the
 * one asked for), 1 a wanted platform without variant accepting some variant, 2 the same variant
 * once defaults are applied (so the default variant wins ties).
 */
export function matchScore(want: Platform, have: Platform): number {
  if (want.os !== have.os || want.architecture !== have.architecture) return 0;
  if (normalVariant(want) === normalVariant(have)) return 2;
  return want.variant === undefined ? 1 : 0;
}

/** True when an image for `candidate` runs where `wanted` is asked for (see matchScore). */
export const satisfies = (candidate: Platform, wanted: Platform): boolean =>
  matchScore(wanted, candidate) > 0;

/** Attestation manifests (buildx) sit in indexes as unknown/unknown: not a platform anyone runs. */
export const isRealPlatform = (d: Descriptor) => d.platform !== undefined && d.platform.os !== 'unknown';

/**
 * The best-matching child of `real` (children with a real platform) for each wanted platform, in
 * the order wanted, without repeats. A wanted platform no child matches is `missing(want, available)`.
 */
export function choosePlatforms(
  real: Descriptor[],
  wanted: Platform[],
  missing: (want: Platform, available: string[]) => Error,
): Descriptor[] {
  const chosen: Descriptor[] = [];
  for (const want of wanted) {
    let best: Descriptor | undefined;
    let bestScore = 0;
    for (const d of real) {
      const score = matchScore(want, d.platform as Platform);
      if (score > bestScore) [best, bestScore] = [d, score];
    }
    if (best === undefined)
      throw missing(
        want,
        real.map((d) => formatPlatform(d.platform as Platform)),
      );
    if (!chosen.includes(best)) chosen.push(best);
  }
  return chosen;
}
