import { Args } from '@oclif/core';
import { KubechatCommand } from '../cli/command.js';
import { INSTALL_DESCRIPTION, INSTALL_EXAMPLES, installFlags } from '../cli/install-help.js';
import { specError } from '../lib/errors.js';
import { formatBytes } from '../lib/progress.js';
import {
  InstallSession,
  openTargets,
  type InstallSessionResult,
  type TargetAddresses,
} from '../services/install-session.js';

/** What `install --json` prints (services/install-session.ts). */
export type InstallCommandResult = InstallSessionResult;

export default class Install extends KubechatCommand {
  static override summary = 'Install a bundle into a registry, Ollama and a files directory, in one pass.';
  static override description = INSTALL_DESCRIPTION;
  static override examples = INSTALL_EXAMPLES;

  static override args = {
    bundle: Args.string({ description: 'Bundle file, first part or parts file.', required: true }),
  };

  static override flags = installFlags;

  async run(): Promise<InstallCommandResult> {
    const { args, flags } = await this.parse(Install);
    const where: TargetAddresses = {
      registry: flags.registry,
      registryPrefix: flags['registry-prefix'],
      registryCa: flags['registry-ca'],
      registryAuth: flags['registry-auth'],
      insecureRegistry: flags['insecure-registry'],
      ollamaStores: flags['ollama-store'] ? [flags['ollama-store']] : [],
      ollamaUrls: flags.ollama ?? [],
      filesDir: flags['files-dir'],
    };
    const { targets, files } = await openTargets(where);
    if (targets.length === 0 && !files)
      throw specError(
        'install needs at least one target',
        'pass --registry HOST:PORT|oci:DIR, --ollama-store DIR, --ollama URL or --files-dir DIR',
      );
    const embedded = flags['embedded-database'];
    if (embedded && flags['database-url'] && this.argv.some((a) => a.split('=')[0] === '--database-url'))
      throw specError(
        '--embedded-database and --database-url name two databases',
        'pass one of them (--embedded-database uses $KUBECHAT_HOME/postgres)',
      );
    const session = await InstallSession.open({
      bundlePath: args.bundle,
      targets,
      files,
      trust: {
        keyFiles: flags['trusted-key'],
        trustDir: flags['trust-dir'],
        allowUnsigned: flags['allow-unsigned'],
        allowExpired: flags['allow-expired'],
        allowDowngrade: flags['allow-downgrade'],
      },
      database: embedded ? {} : flags['database-url'] ? { url: flags['database-url'] } : undefined,
      validate: flags.validate ? where : undefined,
      certificates: flags['issue-certs']
        ? { caDir: flags['ca-dir'], registry: where.registry, ollama: where.ollamaUrls }
        : undefined,
      record: { registryPrefix: where.registryPrefix ?? null, concurrency: flags.concurrency },
      concurrency: flags.concurrency,
      readStreams: flags['read-streams'],
      onWarning: (m) => process.stderr.write(`${m}\n`),
    });
    const r = await this.progress(`Installing ${args.bundle}`, (reporter) => session.run(reporter));
    this.say(`${r.name} ${r.version}: ${r.upToDate ? 'already installed, nothing to do' : 'installed'}`);
    for (const a of r.artifacts) {
      const extra = a.aliases.length ? ` (also ${a.aliases.join(', ')})` : '';
      this.say(`  ${a.status === 'installed' ? '✓' : '='} ${a.kind.padEnd(5)} ${a.location}${extra}`);
    }
    for (const n of r.notInstalled) this.say(`  - ${n.kind.padEnd(5)} ${n.ref}: no target given for it`);
    if (r.files.written + r.files.skipped > 0)
      this.say(`  files     ${r.files.written} written, ${r.files.skipped} already there`);
    const { pushed, skipped } = r.bytes;
    this.say(
      `  pushed    ${formatBytes(pushed)} in ${r.blobs.pushed} blob(s); skipped ${formatBytes(skipped)} already there`,
    );
    const db = r.database;
    if (db)
      this.say(
        `  database  ${db.embedded ? 'embedded PostgreSQL' : db.url}: deployment ${db.deploymentId}` +
          (db.migrationsApplied ? `, ${db.migrationsApplied} migration(s) applied` : ''),
      );
    for (const c of r.certificates ?? [])
      this.say(`  cert      ${c.name} ${c.action}: ${c.cert}, until ${c.notAfter}`);
    this.say(`  time      ${r.seconds.toFixed(1)} s`);
    const post = r.validation?.post;
    if (post) {
      const { pass, warn, fail } = post.summary;
      this.say(`  validated ${post.suites.join(', ')}: ${pass} passed, ${warn} warning(s), ${fail} failed`);
      for (const p of post.problems)
        this.say(`  ${p.status === 'fail' ? '✗' : '!'} ${p.suite} ${p.name}: ${p.reason}`);
      if (!post.ok)
        this.failWithReport(r, (await import('../validate/install-hooks.js')).postValidationError(post));
    }
    return r;
  }
}
