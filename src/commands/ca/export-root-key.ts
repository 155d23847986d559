import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { exportRootKey, type ExportRootKeyResult } from '../../pki/export.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { readCaPassphrase } from '../../pki/keys.js';
import { defaultCaDir } from '../../pki/store.js';

export default class CaExportRootKey extends KubechatCommand {
  static override summary =
    'Copy the encrypted root key off the host (and, with --offline-root, remove it here).';
  static override description = `Writes the root key, still encrypted with the CA passphrase, to --out (mode 0600; removable media, a safe), after checking that KUBECHAT_CA_PASSPHRASE opens it and that it belongs to root.pem, and reads the copy back. With --offline-root the key is then removed from the CA directory: issuing, renewing, revoking and CRLs need only the intermediate; rotating the intermediate takes the copy back with ca rotate-intermediate --root-key FILE.

${EXIT_CODES_HELP}`;

  static override examples = [
    'KUBECHAT_CA_PASSPHRASE=… <%= config.bin %> ca export-root-key --out /media/usb/kubechat-root.key --offline-root',
  ];

  static override flags = {
    ...caDirFlag,
    out: Flags.string({ summary: 'Where to write the encrypted root key.', required: true }),
    'offline-root': Flags.boolean({ summary: 'Remove the root key from the CA directory once copied.' }),
    force: Flags.boolean({ summary: 'Replace an existing --out file.' }),
  };

  async run(): Promise<ExportRootKeyResult> {
    const { flags } = await this.parse(CaExportRootKey);
    const r = await exportRootKey({
      dir: flags.dir ?? defaultCaDir(),
      out: flags.out,
      offline: flags['offline-root'],
      passphrase: await readCaPassphrase(),
      force: flags.force,
    });
    this.say(`root key (encrypted) → ${r.out}`);
    this.say(`  root ${r.root.subject}, sha256 ${r.root.sha256}`);
    this.say(
      r.offline
        ? '  removed from the CA directory: the root key is offline'
        : '  still also in the CA directory',
    );
    return r;
  }
}
