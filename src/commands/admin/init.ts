import { Flags } from '@oclif/core';
import { adminInit, type AdminInitResult } from '../../admin/admin.js';
import { KubechatCommand } from '../../cli/command.js';
import { databaseFlags, EMBEDDED_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { EXIT_CODES_HELP, specError } from '../../lib/errors.js';

export default class AdminInit extends KubechatCommand {
  static override summary = 'Create the built-in admin user with a generated password.';
  static override description = `Creates the user "admin" (role admin, is_system_user, password_source secret) with a random 20-character password drawn with crypto.randomInt (upper and lower case, digits and symbols; longer if the policy's minimum is), checked against the password policy in airgap_security_config, and stored only as an argon2id hash. The change is recorded in admin_password_changes.

The password is shown once: printed on standard output, or with --password-file written to that file (mode 0600) and not printed. With --json, --password-file is required: the JSON result never holds the password. Refuses when admin exists (use admin set-password). Needs a migrated database (db migrate).

${EMBEDDED_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> admin init',
    '<%= config.bin %> admin init --database-url postgres://kubechat@db/kubechat --password-file /run/secrets/admin-password --json',
  ];

  static override flags = {
    ...databaseFlags,
    'password-file': Flags.string({
      summary: 'Write the password to this file (0600) instead of printing it.',
    }),
    force: Flags.boolean({ summary: 'Replace an existing --password-file.' }),
  };

  async run(): Promise<AdminInitResult> {
    const { flags } = await this.parse(AdminInit);
    if (this.jsonEnabled() && !flags['password-file'])
      throw specError(
        'admin init --json needs --password-file: the password is never part of the JSON result',
        'pass --password-file FILE (written with mode 0600)',
      );
    const { result: r, password } = await this.progress('Creating the admin user', (reporter) =>
      adminInit({
        url: flags['database-url'],
        passwordFile: flags['password-file'],
        force: flags.force,
        reporter,
      }),
    );
    this.say(`user ${r.username} created (${r.database}${r.embedded ? ', embedded' : ''})`);
    if (r.passwordFile) {
      this.say(`  password written to ${r.passwordFile} (0600)`);
    } else {
      this.say('  password (shown once; store it now):');
      this.say(`  ${password}`);
    }
    return r;
  }
}
