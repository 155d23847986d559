import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { trustDirFlag } from '../../cli/trust-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { defaultTrustDir, trustKey, TRUST_DIR_ENV, type TrustResult } from '../../signing/trust.js';

export default class KeysTrust extends KubechatCommand {
  static override summary = 'Trust a public key: bundles it signed are accepted by verify and install.';
  static override description = `Copies the key (an Ed25519 SPKI PEM, from kubechat keys generate) into the trust directory as
NAME.pub: --trust-dir, else ${TRUST_DIR_ENV}, else $XDG_CONFIG_HOME/kubechat/trust, else
~/.config/kubechat/trust. Check the key id with its owner before trusting it. To stop trusting a
key, delete its file from the trust directory (kubechat keys list shows where it is).

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> keys trust release.pub',
    '<%= config.bin %> keys trust /media/usb/vendor.pub --name vendor-2026',
  ];

  static override args = { key: Args.string({ description: 'Public key file (.pub).', required: true }) };
  static override flags = {
    name: Flags.string({ summary: 'File name in the trust directory (default: the key file name).' }),
    ...trustDirFlag,
  };

  async run(): Promise<TrustResult> {
    const { args, flags } = await this.parse(KeysTrust);
    const r = await trustKey(args.key, {
      trustDir: flags['trust-dir'] ?? defaultTrustDir(),
      name: flags.name,
    });
    this.say(`${r.added ? 'Trusted' : 'Already trusted:'} key ${r.keyId}`);
    this.say(`  ${r.file}`);
    return r;
  }
}
