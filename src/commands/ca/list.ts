import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { listCerts, parseThreshold, type ListResult } from '../../pki/lifecycle.js';
import { defaultCaDir } from '../../pki/store.js';

export default class CaList extends KubechatCommand {
  static override summary = 'List the CA and every certificate it issued, with days left and status.';
  static override description = `Shows the root, the intermediate and each issued certificate: subject, names, issuer, not-after, days left and status (valid, renew-due past --threshold of its lifetime, expired, not-yet-valid, revoked; superseded ones only with --all). Reads the CA directory only.

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> ca list', '<%= config.bin %> ca list --json'];

  static override flags = {
    ...caDirFlag,
    all: Flags.boolean({ summary: 'Include certificates replaced by a renewal.' }),
    threshold: Flags.string({
      summary: 'Fraction of the lifetime after which a certificate shows as renew-due.',
      default: '2/3',
    }),
  };

  async run(): Promise<ListResult> {
    const { flags } = await this.parse(CaList);
    const r = await listCerts({
      dir: flags.dir ?? defaultCaDir(),
      all: flags.all,
      threshold: parseThreshold(flags.threshold),
    });
    this.say(`CA "${r.name}" in ${r.dir}${r.rootKeyOffline ? ' (root key offline)' : ''}`);
    this.say(`  permits ${[...r.constraints.domains, ...r.constraints.ips].join(', ')}`);
    const rows = r.certificates.map((c) => [
      c.name,
      c.status,
      String(c.daysLeft),
      c.notAfter.slice(0, 10),
      [...c.dns, ...c.ips].join(',') || c.subject,
      c.issuer,
    ]);
    const header = ['NAME', 'STATUS', 'DAYS', 'NOT AFTER', 'NAMES', 'ISSUER'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    for (const row of [header, ...rows])
      this.say(
        row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      );
    return r;
  }
}
