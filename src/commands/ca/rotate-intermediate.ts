import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { rotateIntermediate, type RotateResult } from '../../pki/export.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { CA_DATABASE_DEFAULT, databaseFlags } from '../../cli/database-flags.js';
import { readCaPassphrase } from '../../pki/keys.js';
import { withCertDatabase } from '../../pki/records.js';
import { defaultCaDir } from '../../pki/store.js';

export type CaRotateResult = RotateResult & { database: string | null };

export default class CaRotateIntermediate extends KubechatCommand {
  static override summary =
    'Replace the intermediate CA (new key, same name constraints), signed by the root key.';
  static override description = `Needed when the intermediate expires or its key is exposed. Signs a new intermediate (5 years, pathlen 0, the CA's name constraints) with the root key from the CA directory, or from --root-key FILE when it was moved offline, unlocked with KUBECHAT_CA_PASSPHRASE. Certificates issued by the previous intermediate stay valid until they expire; ca renew --all moves them to the new one.

${CA_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    'KUBECHAT_CA_PASSPHRASE=… <%= config.bin %> ca rotate-intermediate --root-key /media/usb/kubechat-root.key',
  ];

  static override flags = {
    ...caDirFlag,
    'root-key': Flags.string({
      summary: 'The root key exported with ca export-root-key (default: the CA directory’s).',
    }),
    ...databaseFlags,
  };

  async run(): Promise<CaRotateResult> {
    const { flags } = await this.parse(CaRotateIntermediate);
    const passphrase = await readCaPassphrase();
    const { result: r, database } = await this.progress('Rotating the intermediate CA', (reporter) =>
      withCertDatabase(flags['database-url'], reporter, (db) =>
        rotateIntermediate({
          dir: flags.dir ?? defaultCaDir(),
          rootKey: flags['root-key'],
          passphrase,
          database: db,
        }),
      ),
    );
    this.say(
      `intermediate ${r.intermediate.subject}: serial ${r.intermediate.serial}, until ${r.intermediate.notAfter}`,
    );
    this.say(`  replaces serial ${r.previous.serial} (until ${r.previous.notAfter})`);
    return { ...r, database };
  }
}
