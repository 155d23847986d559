import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { DEFAULT_LEAF_DAYS, issueCert, type IssuedCert } from '../../pki/ca.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { CA_DATABASE_DEFAULT, databaseFlags } from '../../cli/database-flags.js';
import { withCertDatabase } from '../../pki/records.js';
import { defaultCaDir } from '../../pki/store.js';

export type CaIssueResult = IssuedCert & { database: string | null };

export default class CaIssue extends KubechatCommand {
  static override summary =
    'Issue a TLS certificate signed by the intermediate: certs/NAME.crt and NAME.key.';
  static override description = `Signs a leaf certificate for --dns names and --ip addresses (subjectAltName), with serverAuth (and clientAuth with --client; --no-server for a client-only certificate), subject and authority key identifiers, a new ECDSA P-256 key, notBefore 5 minutes in the past and notAfter --days later (cut to the intermediate's own expiry). Writes DIR/certs/NAME.crt (the leaf followed by the intermediate: what a TLS server sends) and DIR/certs/NAME.key (0600).

Names outside the CA's constraints are refused before anything is signed, as is an expired intermediate. A NAME already issued is refused: renew or revoke it.

${CA_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> ca issue registry --dns registry.airgap.example --ip 10.0.0.5',
    '<%= config.bin %> ca issue admin-client --dns admin.airgap.example --client --no-server --days 30',
  ];

  static override args = {
    name: Args.string({ description: 'Certificate name (file names NAME.crt, NAME.key).', required: true }),
  };

  static override flags = {
    ...caDirFlag,
    dns: Flags.string({
      summary: 'DNS name (repeatable or comma-separated).',
      multiple: true,
      delimiter: ',',
    }),
    ip: Flags.string({
      summary: 'IP address (repeatable or comma-separated).',
      multiple: true,
      delimiter: ',',
    }),
    days: Flags.integer({ summary: 'Lifetime in days.', default: DEFAULT_LEAF_DAYS, min: 1, max: 3650 }),
    client: Flags.boolean({ summary: 'Also allow TLS client authentication (clientAuth).' }),
    server: Flags.boolean({
      summary: 'Allow TLS server authentication (serverAuth).',
      default: true,
      allowNo: true,
    }),
    ...databaseFlags,
  };

  async run(): Promise<CaIssueResult> {
    const { args, flags } = await this.parse(CaIssue);
    const { result: r, database } = await this.progress(`Issuing ${args.name}`, (reporter) =>
      withCertDatabase(flags['database-url'], reporter, (db) =>
        issueCert({
          dir: flags.dir ?? defaultCaDir(),
          name: args.name,
          dns: flags.dns ?? [],
          ips: flags.ip ?? [],
          days: flags.days,
          server: flags.server,
          client: flags.client,
          database: db,
        }),
      ),
    );
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    this.say(`${r.name}: serial ${r.serial}, ${r.subject}`);
    this.say(`  names     ${[...r.dns, ...r.ips].join(', ')}`);
    this.say(
      `  usage     ${[r.server ? 'server' : '', r.client ? 'client' : ''].filter(Boolean).join(' + ')}`,
    );
    this.say(`  valid     ${r.notBefore} → ${r.notAfter}`);
    this.say(`  cert      ${r.files.cert} (leaf + intermediate)`);
    this.say(`  key       ${r.files.key} (0600)`);
    return { ...r, database };
  }
}
