import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { caError, EXIT_CODES_HELP, ExitCode } from '../../lib/errors.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { CA_DATABASE_DEFAULT, databaseFlags } from '../../cli/database-flags.js';
import { parseThreshold, renewCerts, type RenewResult } from '../../pki/lifecycle.js';
import { withCertDatabase } from '../../pki/records.js';
import { defaultCaDir } from '../../pki/store.js';

export type CaRenewResult = RenewResult & { database: string | null };

export default class CaRenew extends KubechatCommand {
  static override summary = 'Reissue certificates past a fraction of their lifetime (same names, new key).';
  static override description = `Renews every issued certificate (or the NAMEs given) that has used --threshold of its lifetime (default 2/3; expired ones too): same names, usages and lifetime, a new key, NAME.crt and NAME.key replaced in place (the old certificate is marked superseded). --all renews them whatever their age. Revoked certificates are never renewed.

--check changes nothing: it lists what is due and exits ${ExitCode.renewalDue} when anything is (for cron or a monitoring check), 0 otherwise. With --json the report is printed in every case.

${CA_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> ca renew',
    '<%= config.bin %> ca renew --check --json',
    '<%= config.bin %> ca renew registry --all',
  ];

  static override strict = false;
  static override args = {
    names: Args.string({ description: 'Certificates to consider (default: all).' }),
  };

  static override flags = {
    ...caDirFlag,
    all: Flags.boolean({ summary: 'Renew regardless of age.' }),
    threshold: Flags.string({
      summary: 'Fraction of the lifetime after which to renew: 2/3, 0.75 or 80%.',
      default: '2/3',
    }),
    check: Flags.boolean({
      summary: `Only report; exit ${ExitCode.renewalDue} when something needs renewal.`,
    }),
    ...databaseFlags,
  };

  async run(): Promise<CaRenewResult> {
    const { argv, flags } = await this.parse(CaRenew);
    const threshold = parseThreshold(flags.threshold);
    const { result: r, database } = await this.progress('Renewing certificates', (reporter) =>
      withCertDatabase(flags.check ? undefined : flags['database-url'], reporter, (db) =>
        renewCerts({
          dir: flags.dir ?? defaultCaDir(),
          names: argv as string[],
          all: flags.all,
          threshold,
          check: flags.check,
          database: db,
        }),
      ),
    );
    for (const d of r.due)
      this.say(
        `  ${flags.check ? 'due' : 'renewed'}  ${d.name} (serial ${d.serial}, ${Math.round(d.used * 100)}% of its lifetime used, until ${d.notAfter})`,
      );
    for (const s of r.skipped) this.say(`  skipped  ${s.name}: ${s.reason}`);
    for (const n of r.renewed) for (const w of n.warnings) process.stderr.write(`warning: ${w}\n`);
    this.say(
      `${r.checked} certificate(s) checked, ${r.due.length} ${flags.check ? 'due for renewal' : 'renewed'} (threshold ${Math.round(r.threshold * 1000) / 10}%)`,
    );
    const result = { ...r, database };
    if (flags.check && r.due.length > 0) {
      this.failWithReport(
        result,
        caError('renewalDue', `${r.due.length} certificate(s) need renewal`, 'run kubechat ca renew'),
      );
    }
    return result;
  }
}
