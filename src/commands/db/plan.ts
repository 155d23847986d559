import { KubechatCommand } from '../../cli/command.js';
import { bundleMigrationsFlag, databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { problemError } from '../../db/migrate.js';
import { dbPlan, type PlanReport } from '../../services/db.js';

export default class DbPlan extends KubechatCommand {
  static override summary = 'Print the SQL that db migrate would run, without running it.';
  static override description = `Prints each pending migration's SQL in the order db migrate would apply it, each preceded by a comment with its version, file and sha256. Changes nothing in the database. Fails like db migrate would on drift or a newer schema, since then nothing would be applied.

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> db plan > pending.sql',
    '<%= config.bin %> db plan --database-url postgres://kubechat@db.internal/kubechat --json',
  ];

  static override flags = { ...databaseFlags, ...bundleMigrationsFlag };

  async run(): Promise<PlanReport> {
    const { flags } = await this.parse(DbPlan);
    const r = await this.progress('Planning migrations', (reporter) =>
      dbPlan({ url: flags['database-url'], bundle: flags.bundle, reporter }),
    );
    if (r.problems.length) {
      const err = problemError(r.problems);
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        this.exit(err.exitCode);
      }
      throw err;
    }
    if (!r.pending.length)
      this.say(`-- ${r.database}: schema is up to date at version ${r.current ?? 'none'}`);
    for (const m of r.pending) {
      this.say(`-- V${m.version} ${m.name} (${m.file}, sha256 ${m.checksum})`);
      this.say(m.sql.trimEnd());
      this.say('');
    }
    return r;
  }
}
