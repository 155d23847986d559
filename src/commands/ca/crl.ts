import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { CRL_DAYS, writeCrl, type CrlResult } from '../../pki/lifecycle.js';
import { defaultCaDir } from '../../pki/store.js';

export default class CaCrl extends KubechatCommand {
  static override summary = 'Re-sign the certificate revocation list (DIR/crl.pem).';
  static override description = `Writes a new CRL signed by the intermediate, listing every revoked certificate, with a new CRL number and nextUpdate --days from now. Run it before nextUpdate passes (cron), and publish crl.pem where clients fetch it. openssl crl -in crl.pem -text reads it.

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> ca crl', '<%= config.bin %> ca crl --days 30 --json'];

  static override flags = {
    ...caDirFlag,
    days: Flags.integer({ summary: 'Days until nextUpdate.', default: CRL_DAYS, min: 1, max: 366 }),
  };

  async run(): Promise<CrlResult> {
    const { flags } = await this.parse(CaCrl);
    const r = await this.progress('Signing the CRL', () =>
      writeCrl({ dir: flags.dir ?? defaultCaDir(), days: flags.days }),
    );
    this.say(`CRL #${r.number} ${r.path}: ${r.revoked.length} revoked, next update ${r.nextUpdate}`);
    for (const x of r.revoked) this.say(`  ${x.serial}  ${x.name}  revoked ${x.revokedAt}`);
    return r;
  }
}
