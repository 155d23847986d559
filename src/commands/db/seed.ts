import { KubechatCommand } from '../../cli/command.js';
import { databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { dbSeed, type SeedReport } from '../../services/db.js';

export default class DbSeed extends KubechatCommand {
  static override summary = 'Insert the default security configuration and policies (idempotent).';
  static override description = `Inserts the default rows of airgap_security_config (password policy, login lockout, session timeouts, minimum TLS version) and offline_security_policies, in one transaction. Rows that already exist are left as they are, so changes made since survive; the result lists what was inserted and what existed. Needs a migrated database (db migrate).

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> db seed', '<%= config.bin %> db seed --json'];

  static override flags = { ...databaseFlags };

  async run(): Promise<SeedReport> {
    const { flags } = await this.parse(DbSeed);
    const r = await this.progress('Seeding the database', (reporter) =>
      dbSeed({ url: flags['database-url'], reporter }),
    );
    this.say(`${r.database}${r.embedded ? ' (embedded)' : ''}`);
    for (const t of r.tables) {
      this.say(`  ${t.table}: ${t.inserted.length} inserted, ${t.existing.length} already present`);
    }
    return r;
  }
}
