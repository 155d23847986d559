import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { bundleMigrationsFlag, databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { dbMigrate, type MigrateReport } from '../../services/db.js';

export default class DbMigrate extends KubechatCommand {
  static override summary = 'Apply pending database migrations.';
  static override description = `Applies every pending migration in version order, each in its own transaction together with its row in kubechat_schema_migrations (version, name, sha256 checksum, applied_at, duration_ms), so a failing migration leaves nothing of itself applied. A PostgreSQL advisory lock serialises concurrent runs: a second run waits up to --lock-timeout seconds, then fails naming the session that holds the lock. Nothing is applied when the history shows drift (an applied migration changed or is unknown) or a schema newer than this kubechat.

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> db migrate',
    '<%= config.bin %> db migrate --database-url postgres://kubechat@db.internal:5432/kubechat --json',
    '<%= config.bin %> db migrate --bundle /media/usb/kubechat-1.2.0.kcb.tar.zst',
  ];

  static override flags = {
    ...databaseFlags,
    ...bundleMigrationsFlag,
    'lock-timeout': Flags.integer({
      summary: 'Seconds to wait for another migration run to finish (0: fail at once).',
      default: 60,
      min: 0,
    }),
  };

  async run(): Promise<MigrateReport> {
    const { flags } = await this.parse(DbMigrate);
    const r = await this.progress('Migrating the database', (reporter) =>
      dbMigrate({
        url: flags['database-url'],
        bundle: flags.bundle,
        lockTimeoutMs: flags['lock-timeout'] * 1000,
        reporter,
      }),
    );
    this.say(`${r.database}${r.embedded ? ' (embedded)' : ''}`);
    for (const m of r.applied) this.say(`  applied V${m.version} ${m.name} (${m.durationMs} ms)`);
    this.say(
      r.applied.length
        ? `  schema version ${r.from ?? 'none'} -> ${r.to}`
        : `  schema is up to date at version ${r.to ?? 'none'}`,
    );
    return r;
  }
}
