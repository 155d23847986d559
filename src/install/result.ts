/** What one install reports: the shape `install --json` prints (plus the session's own fields). */
import type { InstallArtifact } from './types.js';

export interface InstalledArtifact {
  kind: InstallArtifact['kind'];
  ref: string;
  /** The bundle's digest of the artifact's root manifest/index. */
  digest: string;
  target: string;
  location: string;
  /** The digest the target reports; differs from `digest` when Ollama rewrote the model. */
  targetDigest: string;
  aliases: string[];
  status: 'installed' | 'unchanged';
}

export interface InstallResult {
  bundle: string;
  name: string;
  version: string;
  manifestDigest: string;
  /**
   * verified: signed by a trusted key (the trust policy ran); absent-allowed: unsigned, installed
   * because of --allow-unsigned; present-unchecked: signed, but no policy was configured (library use).
   */
  signature: 'verified' | 'present-unchecked' | 'absent-allowed';
  /** The trust policy's verdict, when one ran: signer, expiry and the overrides used. */
  trust?: { keyId?: string; keySource?: string; expires?: string; overrides: string[] };
  targets: Array<{ id: string; label: string }>;
  artifacts: InstalledArtifact[];
  /** Models, images or charts of the bundle no target given takes. */
  notInstalled: Array<{ kind: string; ref: string }>;
  files: { written: number; skipped: number; bytes: number };
  blobs: { pushed: number; skipped: number };
  bytes: { pushed: number; skipped: number };
  /** Jobs an earlier run had finished (0 on a first run). */
  resumedJobs: number;
  /** True when nothing had to be read past the bundle header. */
  upToDate: boolean;
  journal: string | null;
  warnings: string[];
  seconds: number;
}

/** What the trust policy decided (signing/policy.ts PolicyResult has this shape). */
export interface PolicyVerdict {
  signed: boolean;
  keyId?: string;
  keySource?: string;
  expires?: string;
  overrides: readonly string[];
  warnings: readonly string[];
}

/** Stamps the policy's verdict on a result (after its other fields: `--json` keeps that order). */
export function withVerdict(result: InstallResult, verdict: PolicyVerdict | void): InstallResult {
  if (!verdict) return result;
  result.signature = verdict.signed ? 'verified' : 'absent-allowed';
  result.trust = {
    keyId: verdict.keyId,
    keySource: verdict.keySource,
    expires: verdict.expires,
    overrides: [...verdict.overrides],
  };
  return result;
}
