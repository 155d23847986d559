/**
 * `kubechat install`: one pass over the bundle (or its split parts, in place), front to back. Each
 * blob's sha256 is checked while it streams to every target that needs it (registry or OCI layout for
 * images and charts, Ollama for models, a directory for files/); nothing is extracted to a temp dir.
 * Manifests and tags are written last, only for artifacts whose every blob arrived intact. A journal
 * records finished jobs so a re-run resumes, and a re-run of a finished install stops after the header.
 */
import { Entry } from '../bundle/layout.js';
import { openBundle, type OpenedBundle } from '../bundle/reader.js';
import { trustError } from '../lib/errors.js';
import { silentReporter, type Reporter } from '../lib/progress.js';
import type { InstallJournal } from '../targets/journal.js';
import type { BlobTarget, FileTarget, InstallArtifact } from '../targets/types.js';
import { InstallRun } from './install-run.js';

export { JobKey } from './install-run.js';

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

export interface InstallOptions {
  bundlePath: string;
  /** Registry or OCI layout, Ollama store and Ollama servers: every target that takes blobs. */
  targets: BlobTarget[];
  files?: FileTarget;
  /**
   * Opens the journal of this install: one per bundle (manifest digest) and set of targets. The file
   * journal (targets/journal.ts) or the PostgreSQL one (processing_jobs) when a database is given.
   */
  openJournal: (key: JournalKey) => { journal: InstallJournal; location: string | null };
  allowUnsigned: boolean;
  /**
   * The trust policy (signature, trusted keys, expiry, rollback: signing/policy.ts
   * `enforceBundlePolicy`). It runs first, before a byte reaches any target, throws to refuse the
   * bundle, and returns the warnings of the overrides it accepted. When given, it replaces the
   * built-in check that only refuses an unsigned bundle without `allowUnsigned`.
   */
  verifyPolicy?: (bundle: OpenedBundle) => Promise<PolicyVerdict | void>;
  /** Called once after a successful install (signing/policy.ts `recordInstall`, database records). */
  onComplete?: (result: InstallResult, bundle: OpenedBundle) => Promise<void>;
  /** Called once per artifact installed on a target (the database issue records them). */
  onInstalled?: (artifact: InstalledArtifact, bundle: OpenedBundle) => Promise<void>;
  /**
   * Only the artifacts this accepts are installed (`models import --model`); the others are not
   * read past their index entry, and are not listed as not installed. Default: all.
   */
  select?: (artifact: { kind: InstallArtifact['kind']; ref: string }) => boolean;
  concurrency?: number;
  /**
   * Large blobs read from the bundle at once (default 2): with a seek table, each large blob past the
   * first is streamed by its own ranged reader so consecutive uploads overlap. 1 reads strictly front
   * to back (slow spinning media). See InstallRun.stream.
   */
  readStreams?: number;
  reporter?: Reporter;
  /** Loud warnings (an unsigned bundle, a target that rewrote an artifact), shown as they happen. */
  onWarning?: (message: string) => void;
}

export interface JournalKey {
  manifestDigest: string;
  targetIds: string[];
}

/** Refuses a bundle without a signature unless the operator overrode it: the policy seam's default. */
export function checkSignaturePresence(
  bundle: OpenedBundle,
  allowUnsigned: boolean,
  warn: (m: string) => void,
) {
  if (bundle.signature) return;
  if (!allowUnsigned) {
    throw trustError(
      'unsigned',
      `${bundle.source.name}: the bundle is not signed (no ${Entry.signature})`,
      'install a signed bundle, or pass {flag:allow-unsigned} to install it anyway',
    );
  }
  warn(
    `WARNING: installing an UNSIGNED bundle (${bundle.source.name}): its origin is not verified (--allow-unsigned)`,
  );
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

export async function install(options: InstallOptions): Promise<InstallResult> {
  const started = Date.now();
  const reporter = options.reporter ?? silentReporter;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  const bundle = await openBundle(options.bundlePath);
  // ── Trust: the single place the policy check goes. Nothing has touched a target before this line.
  let verdict: PolicyVerdict | void = undefined;
  if (options.verifyPolicy) {
    verdict = await options.verifyPolicy(bundle);
    for (const w of verdict?.warnings ?? []) warn(w);
  } else {
    checkSignaturePresence(bundle, options.allowUnsigned, warn);
  }

  const { journal, location } = options.openJournal({
    manifestDigest: bundle.manifestDigest,
    targetIds: [...options.targets.map((t) => t.id), ...(options.files ? [options.files.id] : [])],
  });
  const run = new InstallRun(bundle, options, journal, location, reporter, warn);
  try {
    await run.prepare();
    await run.stream();
    await run.commitAll();
  } finally {
    await run.close();
  }
  const result = run.result(warnings, (Date.now() - started) / 1000);
  if (verdict) {
    result.signature = verdict.signed ? 'verified' : 'absent-allowed';
    result.trust = {
      keyId: verdict.keyId,
      keySource: verdict.keySource,
      expires: verdict.expires,
      overrides: [...verdict.overrides],
    };
  }
  await options.onComplete?.(result, bundle);
  return result;
}
