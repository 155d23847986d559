/**
 * `install()`: the engine's whole run for one bundle — open it, apply the trust check given (or
 * refuse an unsigned bundle), open the journal, run the pass (pass.ts) — for library use and tests.
 * `kubechat install` and `models import` go through the install session (services/install-session.ts),
 * which runs the same steps with the trust policy, the database and validation around the pass.
 *
 * One pass over the bundle (or its split parts, in place), front to back. Each blob's sha256 is
 * checked while it streams to every target that needs it (registry or OCI layout for images and
 * charts, Ollama for models, a directory for files/); nothing is extracted to a temp dir. Manifests
 * and tags are written last, only for artifacts whose every blob arrived intact. A journal records
 * finished jobs so a re-run resumes, and a re-run of a finished install stops after the header.
 */
import { Entry } from '../bundle/layout.js';
import { openBundle, type OpenedBundle } from '../bundle/reader.js';
import { trustError } from '../lib/errors.js';
import { silentReporter, type Reporter } from '../lib/progress.js';
import type { InstallJournal } from './journal.js';
import { runPass } from './pass.js';
import { withVerdict, type InstalledArtifact, type InstallResult, type PolicyVerdict } from './result.js';
import type { BlobTarget, FileTarget, InstallArtifact } from './types.js';

export { JobKey } from './jobs.js';
export type { InstalledArtifact, InstallResult, PolicyVerdict } from './result.js';

export interface InstallOptions {
  bundlePath: string;
  /** Registry or OCI layout, Ollama store and Ollama servers: every target that takes blobs. */
  targets: BlobTarget[];
  files?: FileTarget;
  /** Opens the journal of this install: one per bundle (manifest digest) and set of targets. */
  openJournal: (key: JournalKey) => { journal: InstallJournal; location: string | null };
  allowUnsigned: boolean;
  /**
   * The trust policy: runs first, before a byte reaches any target, throws to refuse the bundle, and
   * returns the warnings of the overrides it accepted. Without it, only an unsigned bundle without
   * `allowUnsigned` is refused.
   */
  verifyPolicy?: (bundle: OpenedBundle) => Promise<PolicyVerdict | void>;
  /** Called once after a successful install. */
  onComplete?: (result: InstallResult, bundle: OpenedBundle) => Promise<void>;
  /** Called once per artifact installed on a target. */
  onInstalled?: (artifact: InstalledArtifact, bundle: OpenedBundle) => Promise<void>;
  /** Only the artifacts this accepts are installed; the others are not listed as not installed. Default: all. */
  select?: (artifact: { kind: InstallArtifact['kind']; ref: string }) => boolean;
  concurrency?: number;
  /** Large blobs read from the bundle at once (default 2; see ranged.ts). */
  readStreams?: number;
  reporter?: Reporter;
  /** Loud warnings (an unsigned bundle, a target that rewrote an artifact), shown as they happen. */
  onWarning?: (message: string) => void;
}

export interface JournalKey {
  manifestDigest: string;
  targetIds: string[];
}

/** The journal key of an install: its bundle and every target it writes. */
export function journalKey(
  bundle: OpenedBundle,
  targets: readonly { id: string }[],
  files?: { id: string },
): JournalKey {
  return {
    manifestDigest: bundle.manifestDigest,
    targetIds: [...targets.map((t) => t.id), ...(files ? [files.id] : [])],
  };
}

/** Refuses a bundle without a signature unless the operator overrode it: the default without a policy. */
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

export async function install(options: InstallOptions): Promise<InstallResult> {
  const started = Date.now();
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  const bundle = await openBundle(options.bundlePath);
  // Trust: nothing has touched a target before this line.
  let verdict: PolicyVerdict | void = undefined;
  if (options.verifyPolicy) {
    verdict = await options.verifyPolicy(bundle);
    for (const w of verdict?.warnings ?? []) warn(w);
  } else {
    checkSignaturePresence(bundle, options.allowUnsigned, warn);
  }
  const { journal, location } = options.openJournal(journalKey(bundle, options.targets, options.files));
  const onInstalled = options.onInstalled;
  const pass = await runPass(bundle, {
    bundlePath: options.bundlePath,
    targets: options.targets,
    files: options.files,
    journal,
    journalLocation: location,
    select: options.select,
    concurrency: options.concurrency,
    readStreams: options.readStreams,
    reporter: options.reporter ?? silentReporter,
    warn,
    onInstalled: onInstalled && ((a) => onInstalled(a, bundle)),
  });
  const result = withVerdict({ ...pass, warnings, seconds: (Date.now() - started) / 1000 }, verdict);
  await options.onComplete?.(result, bundle);
  return result;
}
