import { adminCheckPolicy, readPasswordInput, type CheckPolicyResult } from '../../admin/admin.js';
import { passwordInputFlags } from '../../cli/admin-flags.js';
import { KubechatCommand } from '../../cli/command.js';
import { databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { caError, EXIT_CODES_HELP, ExitCode } from '../../lib/errors.js';

export default class AdminCheckPolicy extends KubechatCommand {
  static override summary =
    'Show the password policy and the admin password’s age; check a candidate password.';
  static override description = `Prints the password policy in force (airgap_security_config, or the defaults where a value is absent), whether the admin user exists, where its password came from and how old it is against password_max_age_days. With --password-file or --password-stdin it also checks that password against the policy and exits ${ExitCode.passwordPolicy} when it fails (the password itself is never printed). With --json the report is printed in every case.

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> admin check-policy',
    'printf %s "$CANDIDATE" | <%= config.bin %> admin check-policy --password-stdin --json',
  ];

  static override flags = { ...databaseFlags, ...passwordInputFlags };

  async run(): Promise<CheckPolicyResult> {
    const { flags } = await this.parse(AdminCheckPolicy);
    const given = flags['password-file'] || flags['password-stdin'];
    const password = given
      ? await readPasswordInput({
          file: flags['password-file'],
          stdin: flags['password-stdin'] ? process.stdin : undefined,
        })
      : undefined;
    const r = await this.progress('Reading the password policy', (reporter) =>
      adminCheckPolicy({ url: flags['database-url'], password, reporter }),
    );
    const p = r.policy;
    this.say(
      `password policy (${p.source}): at least ${p.minLength} characters, ${p.requireClasses} of 4 character classes, changed every ${p.maxAgeDays} days`,
    );
    if (!r.admin) this.say('  admin user: none (kubechat admin init creates it)');
    else
      this.say(
        `  admin user: password from ${r.admin.passwordSource}, last changed ${r.admin.lastChanged ?? 'never'}` +
          (r.admin.ageDays === null
            ? ''
            : ` (${r.admin.ageDays} days ago${r.admin.expired ? ', EXPIRED' : ''})`),
      );
    if (r.candidate)
      this.say(
        r.candidate.ok ? '  password: meets the policy' : `  password: ${r.candidate.problems.join('; ')}`,
      );
    if (r.candidate && !r.candidate.ok) {
      this.failWithReport(
        r,
        caError(
          'passwordPolicy',
          `the password does not meet the policy: ${r.candidate.problems.join('; ')}`,
          'choose a longer password mixing upper and lower case, digits and symbols',
        ),
      );
    }
    return r;
  }
}
