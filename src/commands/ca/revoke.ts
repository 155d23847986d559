import { Args } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { CA_DATABASE_DEFAULT, databaseFlags } from '../../cli/database-flags.js';
import { revokeCert, type RevokeResult } from '../../pki/lifecycle.js';
import { withCertDatabase } from '../../pki/records.js';
import { defaultCaDir } from '../../pki/store.js';

export type CaRevokeResult = RevokeResult & { database: string | null };

export default class CaRevoke extends KubechatCommand {
  static override summary = 'Revoke a certificate and re-sign the CRL.';
  static override description = `Marks NAME's current certificate revoked (it is never renewed) and writes a new CRL (DIR/crl.pem, signed by the intermediate, valid 7 days: refresh it with ca crl) that lists its serial. The name can then be issued again.

${CA_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> ca revoke old-registry'];

  static override args = {
    name: Args.string({ description: 'Certificate name.', required: true }),
  };

  static override flags = { ...caDirFlag, ...databaseFlags };

  async run(): Promise<CaRevokeResult> {
    const { args, flags } = await this.parse(CaRevoke);
    const { result: r, database } = await this.progress(`Revoking ${args.name}`, (reporter) =>
      withCertDatabase(flags['database-url'], reporter, (db) =>
        revokeCert({ dir: flags.dir ?? defaultCaDir(), name: args.name, database: db }),
      ),
    );
    this.say(`${r.name}: serial ${r.serial} revoked at ${r.revokedAt}`);
    this.say(
      `  CRL #${r.crl.number} ${r.crl.path}: ${r.crl.revoked.length} revoked, next update ${r.crl.nextUpdate}`,
    );
    return { ...r, database };
  }
}
