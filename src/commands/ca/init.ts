import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { DEFAULT_DOMAINS, DEFAULT_IPS } from '../../pki/ca.js';
import { initCa, type InitResult } from '../../pki/init.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { CA_DATABASE_DEFAULT, databaseFlags } from '../../cli/database-flags.js';
import { readCaPassphrase } from '../../pki/keys.js';
import { withCertDatabase } from '../../pki/records.js';
import { defaultCaDir } from '../../pki/store.js';

export type CaInitResult = InitResult & { database: string | null };

export default class CaInit extends KubechatCommand {
  static override summary =
    'Create the local CA: a root (10 years) and a name-constrained intermediate (5 years).';
  static override description = `Creates an ECDSA P-256 root CA (pathlen 1, 10 years) and an intermediate CA (pathlen 0, 5 years) whose nameConstraints permit only --domains (and every name under them) and --ips, so that no certificate for another name verifies, even one signed past kubechat. The root key is encrypted with KUBECHAT_CA_PASSPHRASE (or the file KUBECHAT_CA_PASSPHRASE_FILE names; at least 12 characters); move it offline with ca export-root-key --offline-root. The intermediate key signs leaves and CRLs unattended; every key file is 0600.

Everything is written to a temporary sibling directory and renamed into place: a failed init leaves nothing. ${CA_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    'KUBECHAT_CA_PASSPHRASE=… <%= config.bin %> ca init --name "KubeChat Air-gap" --domains cluster.local,airgap.example --ips 10.0.0.0/8',
  ];

  static override flags = {
    ...caDirFlag,
    name: Flags.string({ summary: 'Organisation name in the CA subjects.', default: 'KubeChat Air-gap' }),
    domains: Flags.string({
      summary: `Permitted DNS domains, comma-separated (default: ${DEFAULT_DOMAINS.join(',')}).`,
      multiple: true,
      delimiter: ',',
    }),
    ips: Flags.string({
      summary: `Permitted IP ranges in CIDR, comma-separated (default: ${DEFAULT_IPS.join(',')}).`,
      multiple: true,
      delimiter: ',',
    }),
    ...databaseFlags,
  };

  async run(): Promise<CaInitResult> {
    const { flags } = await this.parse(CaInit);
    const passphrase = await readCaPassphrase();
    const { result: r, database } = await this.progress('Creating the CA', (reporter) =>
      withCertDatabase(flags['database-url'], reporter, (db) =>
        initCa({
          dir: flags.dir ?? defaultCaDir(),
          name: flags.name,
          domains: flags.domains ?? DEFAULT_DOMAINS,
          ips: flags.ips ?? DEFAULT_IPS,
          passphrase,
          database: db,
          reporter,
        }),
      ),
    );
    this.say(`CA "${r.name}" in ${r.dir}`);
    this.say(`  root          ${r.root.subject}, until ${r.root.notAfter}`);
    this.say(`                sha256 ${r.root.sha256}`);
    this.say(`  intermediate  ${r.intermediate.subject}, until ${r.intermediate.notAfter}`);
    this.say(`  permits       ${[...r.constraints.domains, ...r.constraints.ips].join(', ')}`);
    this.say(`  trust anchor  ${r.files.rootCert} (distribute it; compare the sha256)`);
    this.say(
      `  root key      ${r.files.rootKey} (encrypted; ca export-root-key --offline-root moves it off this host)`,
    );
    if (database) this.say(`  recorded in   ${database}`);
    return { ...r, database };
  }
}
