import { adminSetPassword, readPasswordInput, type SetPasswordResult } from '../../admin/admin.js';
import { passwordInputFlags } from '../../cli/admin-flags.js';
import { KubechatCommand } from '../../cli/command.js';
import { databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { EXIT_CODES_HELP, ExitCode } from '../../lib/errors.js';

export default class AdminSetPassword extends KubechatCommand {
  static override summary = 'Set the admin password (from a file or standard input).';
  static override description = `Replaces the admin user's password with the one read from --password-file or standard input (--password-stdin), after checking it against the policy in airgap_security_config (exit ${ExitCode.passwordPolicy} naming the rules it breaks, never the password). It is stored as an argon2id hash, password_source becomes manual, and admin_password_changes records the change. The password is never printed or logged.

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> admin set-password --password-file /run/secrets/new-admin-password',
    'pass show kubechat/admin | <%= config.bin %> admin set-password --password-stdin',
  ];

  static override flags = { ...databaseFlags, ...passwordInputFlags };

  async run(): Promise<SetPasswordResult> {
    const { flags } = await this.parse(AdminSetPassword);
    const password = await readPasswordInput({
      file: flags['password-file'],
      stdin: flags['password-stdin'] ? process.stdin : undefined,
    });
    const r = await this.progress('Setting the admin password', (reporter) =>
      adminSetPassword({ url: flags['database-url'], password, reporter }),
    );
    this.say(`password of ${r.username} changed (${r.database}${r.embedded ? ', embedded' : ''})`);
    return r;
  }
}
