import { KubechatCommand } from '../../cli/command.js';
import { bundleMigrationsFlag, databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { dbError, EXIT_CODES_HELP, ExitCode } from '../../lib/errors.js';
import { problemError } from '../../db/migrate.js';
import { dbStatus, type StatusReport } from '../../services/db.js';

export default class DbStatus extends KubechatCommand {
  static override summary = 'Show applied and pending migrations; exit non-zero on drift or pending work.';
  static override description = `Compares kubechat_schema_migrations with the migrations this kubechat ships (or a bundle carries, with --bundle). Read-only: takes no lock and changes nothing in the database (the embedded default is created on first use, as by every db command). Exits 0 when the schema is current, ${ExitCode.dbPending} when migrations are pending, ${ExitCode.dbDrift} on drift (an applied migration's checksum changed, or it is unknown to this kubechat), ${ExitCode.dbNewer} when the database is newer than this kubechat. With --json the report is printed in every case.

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> db status',
    '<%= config.bin %> db status --database-url postgres://kubechat@db.internal/kubechat --json',
  ];

  static override flags = { ...databaseFlags, ...bundleMigrationsFlag };

  async run(): Promise<StatusReport> {
    const { flags } = await this.parse(DbStatus);
    const r = await this.progress('Reading the migration history', (reporter) =>
      dbStatus({ url: flags['database-url'], bundle: flags.bundle, reporter }),
    );
    this.say(
      `${r.database}${r.embedded ? ' (embedded)' : ''}: schema version ${r.current ?? 'none'} of ${r.latest ?? 'none'}`,
    );
    for (const m of r.history) {
      const when = m.appliedAt ? `  ${m.appliedAt}  ${m.durationMs} ms` : '';
      this.say(`  V${String(m.version).padStart(3, '0')}  ${m.state.padEnd(12)} ${m.name}${when}`);
    }
    for (const p of r.problems) this.say(`  ✗ ${p.message}`);
    if (r.ok) return r;
    const err = r.problems.length
      ? problemError(r.problems)
      : dbError('dbPending', `${r.pending} migration(s) pending`, 'run kubechat db migrate');
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      this.exit(err.exitCode);
    }
    throw err;
  }
}
