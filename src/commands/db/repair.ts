import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { bundleMigrationsFlag, databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { dbRepair, type RepairReport } from '../../services/db.js';

export default class DbRepair extends KubechatCommand {
  static override summary = 'Accept reviewed edits of applied migrations by recording their new checksums.';
  static override description = `For every applied migration whose file changed since it was applied (db status: "changed"), records the file's current sha256 in kubechat_schema_migrations, in one transaction under the migration lock. Use it only after reviewing the edit: the changed SQL is not run again. Refuses (exit 43 or 44) when the history holds migrations this kubechat does not ship, since those need the kubechat that applied them. Applies nothing.

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> db repair', '<%= config.bin %> db repair --json'];

  static override flags = {
    ...databaseFlags,
    ...bundleMigrationsFlag,
    'lock-timeout': Flags.integer({
      summary: 'Seconds to wait for a migration run to finish (0: fail at once).',
      default: 60,
      min: 0,
    }),
  };

  async run(): Promise<RepairReport> {
    const { flags } = await this.parse(DbRepair);
    const r = await this.progress('Repairing the migration history', (reporter) =>
      dbRepair({
        url: flags['database-url'],
        bundle: flags.bundle,
        lockTimeoutMs: flags['lock-timeout'] * 1000,
        reporter,
      }),
    );
    this.say(`${r.database}${r.embedded ? ' (embedded)' : ''}`);
    for (const m of r.realigned) {
      this.say(`  V${m.version} ${m.name}: checksum ${m.from.slice(0, 12)}… -> ${m.to.slice(0, 12)}…`);
    }
    if (!r.realigned.length) this.say('  nothing to repair');
    return r;
  }
}
